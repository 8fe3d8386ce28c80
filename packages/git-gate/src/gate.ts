/**
 * The gate: a listener (TCP or unix socket) that reads each git:// request line, refuses
 * anything not declared with a clear `ERR` line and an audit line, refreshes the mirror, and
 * then hands the connection to a real `git daemon --inetd` that may serve that one repository
 * only (and receive-pack only for an entry with push: true).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { loadExeca } from './exec.js';
import { ServiceError } from '@bot-bottle/core/service';
import { auditFd, writeAudit, type AuditInput, type GitAuditEntry } from './audit.js';
import type { ResolvedGitGateConfig } from './config.js';
import { KeyedLock } from './lock.js';
import { localGitEnv, prepareMirrors, refreshMirror, UpstreamError, type Mirror } from './mirror.js';
import { CommandListReader } from './commands.js';
import { errPacket, readRequest, resolveRepoPath, serviceProblem, serviceWord, sidebandErrorPacket } from './protocol.js';

export interface GitGateOptions extends ResolvedGitGateConfig {
  /** Called with each audit line the gate itself writes (push lines come from the hook). */
  onAudit?: (entry: GitAuditEntry) => void;
  /** Diagnostics (git daemon's own errors); default: stderr. */
  log?: (line: string) => void;
  /** How long a client may take to send its request line. Default 30 s. */
  requestTimeoutMs?: number;
}

export interface RunningGitGate {
  /** `git://host:port` for a TCP listener, else null. */
  url: string | null;
  port: number | null;
  socketPath: string | null;
  /** Absolute path of the folder holding `<name>.git` mirrors. */
  reposDir: string;
  close(): Promise<void>;
}

/** Fails with a fix when a binary the gate needs is missing. */
export async function checkTools(needSsh: boolean): Promise<void> {
  const execa = await loadExeca();
  const gitProblem = async (): Promise<string | null> => {
    const r = await execa('git', ['--exec-path'], { reject: false });
    if (r.exitCode !== 0) return 'git is not installed';
    return existsSync(`${r.stdout.trim()}/git-daemon`) ? null : `git daemon is not installed (no ${r.stdout.trim()}/git-daemon)`;
  };
  const problems = [await gitProblem()];
  if (needSsh) problems.push((await execa('ssh', ['-V'], { reject: false })).exitCode === 0 ? null : 'ssh (openssh-client) is not installed');
  const found = problems.filter((p): p is string => p !== null);
  if (found.length) {
    throw new ServiceError(`git-gate cannot start: ${found.join('; ')}`, {
      suggestions: ['Install git and openssh-client in the bundle image (Debian: apt-get install -y git openssh-client).'],
    });
  }
}

/**
 * Listens on a unix socket made with `mode`. The mode comes from the umask at bind(2), which
 * Node does synchronously inside listen(): a chmod by path afterwards would follow whatever a
 * process sharing the socket's folder had put at that name in between (a symlink to a file of
 * this process's user, say).
 */
export function listenWithMode(server: net.Server, socketPath: string, mode: number, onListening: () => void): void {
  const previous = process.umask(~mode & 0o777);
  try {
    server.listen(socketPath, onListening);
  } finally {
    process.umask(previous);
  }
}

export async function startGitGate(options: GitGateOptions): Promise<RunningGitGate> {
  await checkTools(options.entries.some((e) => e.ssh));
  const { reposDir, mirrors } = await prepareMirrors(options.dataDir, options.entries, options.auditLog, options.upstreamTimeoutMs);
  const names = options.entries.map((e) => e.name);
  const lock = new KeyedLock();
  const log = options.log ?? ((line: string) => process.stderr.write(`git-gate: ${line}\n`));
  const audit = (entry: AuditInput) => writeAudit(options.auditLog, entry, options.onAudit);
  const live = new Set<net.Socket>();
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  // An audit log given as an inherited descriptor reaches the push hooks the same way: the daemon
  // gets it at the same number, and git passes it on to receive-pack and its hook.
  const logFd = auditFd(options.auditLog);
  const daemonStdio: ('pipe' | 'ignore' | number)[] = ['pipe', 'pipe', 'pipe'];
  if (logFd !== null && logFd > 2) daemonStdio.push(...Array<'ignore'>(logFd - 3).fill('ignore'), logFd);

  const refuse = (socket: net.Socket, message: string) => {
    // Whatever the client still sends (git archive writes its arguments right after the service
    // line) is read and dropped: closing with unread bytes would make the kernel reset the
    // connection, and the client could lose the ERR line it should print.
    socket.on('data', () => {});
    socket.resume();
    socket.end(errPacket(message));
    setTimeout(() => socket.destroy(), 5_000).unref();
  };

  /**
   * A push's command list goes to git only once the front has read all of it (commands.ts): a
   * command git would hand the push hook as something other than what it applies (a name with a
   * line break, not UTF-8, a line that is not `<old> <new> <ref>`) refuses the whole push here,
   * with an audit line; receive-pack then reads end-of-file where its commands should be and exits
   * without running any hook. A push that sends no ref update (nothing to push, or `fetch first`
   * after the refreshed advertisement) never runs the hook, which writes the line of every push
   * that does: audit that here too, so every `git push` is a line.
   */
  const guardPush = (socket: net.Socket, child: ChildProcessByStdio<Writable, Readable, Readable>, entry: Mirror['entry'], rest: Buffer, client: string | undefined) => {
    const reader = new CommandListReader();
    // Until the list is passed on, a client that goes away must still end receive-pack's input
    // (the pipe does it afterwards), or receive-pack would hold the mirror's lock until it times out.
    const stop = () => child.stdin.end();
    socket.on('end', stop);
    socket.on('close', stop);
    const onChunk = (chunk: Buffer) => {
      const r = reader.feed(chunk);
      if (r.kind === 'need-more') return;
      socket.off('data', onChunk);
      socket.off('end', stop);
      socket.off('close', stop);
      if (r.kind === 'bad') {
        audit({ service: 'receive-pack', repo: entry.name, refs: r.updates, decision: 'deny', reason: r.reason.replace(/^git-gate: /, ''), upstream: entry.upstream, ...(client ? { client } : {}) });
        child.stdout.unpipe(socket);
        child.stdout.resume();
        child.stdin.end();
        socket.on('data', () => {});
        socket.end(r.sideband ? sidebandErrorPacket(r.reason) : errPacket(r.reason));
        setTimeout(() => socket.destroy(), 5_000).unref();
        return;
      }
      if (r.updates.length === 0) audit({ service: 'receive-pack', repo: entry.name, decision: 'allow', reason: null, upstream: entry.upstream, ...(client ? { client } : {}) });
      child.stdin.write(reader.bytes());
      socket.pipe(child.stdin);
    };
    socket.on('data', onChunk);
    if (rest.length) onChunk(rest);
  };

  const serve = async (socket: net.Socket, mirror: Mirror, service: string, request: Buffer, rest: Buffer, client: string | undefined) => {
    const { entry } = mirror;
    // A push holds the mirror for its whole connection, so no refresh moves a ref between the
    // hook's upstream push and receive-pack's own update; a fetch holds it only to refresh.
    const release = await lock.acquire(entry.name);
    try {
      await refreshMirror(mirror, options.upstreamTimeoutMs);
    } catch (e) {
      release();
      const reason = e instanceof UpstreamError ? e.message : `refreshing the mirror failed: ${(e as Error).message}`;
      audit({ service, repo: entry.name, decision: 'deny', reason, upstream: entry.upstream, ...(client ? { client } : {}) });
      refuse(socket, `git-gate: ${entry.name}.git is unavailable: ${reason}`);
      return;
    }
    if (service === 'upload-pack') {
      release();
      audit({ service, repo: entry.name, decision: 'allow', reason: null, upstream: entry.upstream, ...(client ? { client } : {}) });
    }
    if (socket.destroyed) {
      release();
      return;
    }
    const timeoutS = Math.max(60, Math.ceil(options.upstreamTimeoutMs / 1000));
    const args = [
      'daemon', '--inetd', '--strict-paths', `--base-path=${reposDir}`, '--export-all', '--informative-errors',
      '--log-destination=stderr', `--timeout=${timeoutS}`, '--init-timeout=30',
      '--forbid-override=upload-pack', '--forbid-override=receive-pack', '--forbid-override=upload-archive',
      '--enable=upload-pack', '--disable=upload-archive',
      entry.push && service === 'receive-pack' ? '--enable=receive-pack' : '--disable=receive-pack',
      '--', mirror.dir,
    ];
    const env = { ...localGitEnv(), ...(socket.remoteAddress ? { REMOTE_ADDR: socket.remoteAddress, REMOTE_PORT: String(socket.remotePort ?? '') } : {}) };
    const child = spawn('git', args, { env, stdio: daemonStdio }) as ChildProcessByStdio<Writable, Readable, Readable>;
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      for (const line of d.split('\n')) if (line.trim()) log(`daemon (${entry.name}): ${line.trim()}`);
    });
    child.stdin.on('error', () => {});
    child.on('error', (e) => {
      log(`could not start git daemon: ${e.message}`);
      socket.destroy();
    });
    child.on('close', () => {
      release();
      socket.end();
    });
    // A connection that goes quiet for longer than an upstream push may take is dropped, so a
    // stalled client cannot hold the mirror's lock; receive-pack then sees EOF and ends.
    socket.setTimeout(options.upstreamTimeoutMs + 60_000, () => {
      socket.destroy();
      child.stdin.end();
      setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }, 10_000).unref();
    });
    child.stdout.pipe(socket);
    if (service === 'receive-pack') {
      child.stdin.write(request);
      guardPush(socket, child, entry, rest, client);
    } else {
      child.stdin.write(Buffer.concat([request, rest]));
      socket.pipe(child.stdin);
    }
    socket.resume();
  };

  const onConnection = (socket: net.Socket) => {
    live.add(socket);
    socket.on('close', () => live.delete(socket));
    socket.on('error', () => {});
    const client = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : undefined;
    let buf = Buffer.alloc(0);
    socket.setTimeout(requestTimeoutMs, () => {
      refuse(socket, 'git-gate: no request line received in time');
      socket.destroy();
    });
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const r = readRequest(buf);
      if (r.kind === 'need-more') return;
      socket.off('data', onData);
      socket.pause();
      socket.setTimeout(0);
      if (r.kind === 'bad') {
        audit({ service: '(none)', repo: '', decision: 'deny', reason: r.reason, ...(client ? { client } : {}) });
        refuse(socket, `git-gate: ${r.reason}`);
        return;
      }
      const { service, path: reqPath } = r.request;
      const sp = serviceProblem(service);
      const pathDecision = resolveRepoPath(reqPath, names);
      const repo = pathDecision.ok ? pathDecision.name : reqPath;
      const deny = (reason: string) => {
        audit({ service, repo, decision: 'deny', reason: reason.replace(/^git-gate: /, ''), ...(client ? { client } : {}) });
        refuse(socket, reason);
      };
      if (sp) return deny(sp);
      if (!pathDecision.ok) return deny(pathDecision.reason);
      const mirror = mirrors.get(pathDecision.name)!;
      if (service === 'receive-pack' && !mirror.entry.push) {
        return deny(`git-gate: ${mirror.entry.name}.git is read-only in this bottle (push: false); ${serviceWord(service)} refused`);
      }
      serve(socket, mirror, service, r.request.raw, r.rest, client).catch((e: unknown) => {
        log(`serving ${mirror.entry.name} failed: ${(e as Error).message}`);
        socket.destroy();
      });
    };
    socket.on('data', onData);
  };

  const server = net.createServer(onConnection);
  const listen = options.listen;
  // rm never follows a symlink; bind never follows one either (it fails if anything is there).
  if ('socket' in listen) await rm(listen.socket, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new ServiceError(`git-gate cannot listen on ${'socket' in listen ? listen.socket : `${listen.host}:${listen.port}`}: ${e.code ?? e.message}`, {
          suggestions: [e.code === 'EADDRINUSE' ? 'Another process uses that address; stop it or choose another port.' : 'Check the listen address in the config.'],
        }),
      ),
    );
    if ('socket' in listen) listenWithMode(server, listen.socket, 0o666, resolve);
    else server.listen(listen.port, listen.host, resolve);
  });
  const addr = server.address();
  const port = addr && typeof addr === 'object' ? addr.port : null;
  const host = 'socket' in listen ? null : listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  return {
    url: port !== null && host !== null ? `git://${host}:${port}` : null,
    port,
    socketPath: 'socket' in listen ? listen.socket : null,
    reposDir,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of live) s.destroy();
      });
    },
  };
}
