/**
 * Real parts for the gate's tests: git repositories in temp folders, the gate itself on a
 * loopback port, raw git:// requests, and an OpenSSH server on 127.0.0.1 with test-made keys.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { parseGitGateConfig, startGitGate, type GitAuditEntry, type RunningGitGate } from '@bot-bottle/git-gate';

export function tmpDir(prefix = 'git-gate-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Env for a git client that sees no config from this machine. */
export function clientEnv(home: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 'Test Agent',
    GIT_AUTHOR_EMAIL: 'agent@example.invalid',
    GIT_COMMITTER_NAME: 'Test Agent',
    GIT_COMMITTER_EMAIL: 'agent@example.invalid',
    GIT_TERMINAL_PROMPT: '0',
    // A client that tries ssh itself (it must not: the gate does) finds no key and no known host.
    GIT_SSH_COMMAND: 'ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/dev/null -o IdentityFile=none',
    LANG: 'C',
  };
}

export interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
  all: string;
}

export async function git(args: string[], opts: { cwd?: string; home: string; env?: Record<string, string> }): Promise<Run> {
  const r = await execa('git', args, { cwd: opts.cwd, env: { ...clientEnv(opts.home), ...opts.env }, extendEnv: false, reject: false, all: true, timeout: 120_000 });
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, all: r.all ?? '' };
}

/** Runs git and fails the test with its output when it does not exit 0. */
export async function gitOk(args: string[], opts: { cwd?: string; home: string; env?: Record<string, string> }): Promise<string> {
  const r = await git(args, opts);
  if (r.exitCode !== 0) throw new Error(`git ${args.join(' ')} exited ${r.exitCode}:\n${r.all}`);
  return r.stdout.trim();
}

/** A bare upstream with one commit on main (HEAD -> main). */
export async function makeUpstream(root: string, name = 'up'): Promise<string> {
  const home = path.join(root, 'home');
  mkdirSync(home, { recursive: true });
  const bare = path.join(root, `${name}.git`);
  await gitOk(['init', '--quiet', '--bare', '--initial-branch=main', bare], { home });
  const seed = path.join(root, `${name}-seed`);
  await gitOk(['init', '--quiet', '--initial-branch=main', seed], { home });
  writeFileSync(path.join(seed, 'README.md'), 'hello\n');
  await gitOk(['add', 'README.md'], { cwd: seed, home });
  await gitOk(['commit', '--quiet', '-m', 'initial'], { cwd: seed, home });
  await gitOk(['push', '--quiet', bare, 'main:refs/heads/main'], { cwd: seed, home });
  return bare;
}

/** Commits a new file in `work` and returns the commit id. */
export async function commitFile(work: string, home: string, file: string, text: string, message = `add ${file}`): Promise<string> {
  writeFileSync(path.join(work, file), text);
  await gitOk(['add', file], { cwd: work, home });
  await gitOk(['commit', '--quiet', '-m', message], { cwd: work, home });
  return gitOk(['rev-parse', 'HEAD'], { cwd: work, home });
}

/** A commit made straight in the upstream (someone else pushing meanwhile). */
export async function commitUpstream(root: string, bare: string, file: string): Promise<string> {
  const home = path.join(root, 'home');
  const work = path.join(root, `other-${Math.random().toString(36).slice(2, 8)}`);
  await gitOk(['clone', '--quiet', bare, work], { home });
  const id = await commitFile(work, home, file, `${file}\n`, `upstream ${file}`);
  await gitOk(['push', '--quiet', 'origin', 'HEAD:main'], { cwd: work, home });
  return id;
}

export interface UpstreamEntryInput {
  name: string;
  upstream: string;
  identityFile?: string | null;
  knownHosts?: string | null;
  push?: boolean;
  protect?: string[];
  refs?: string[];
}

export interface TestGate {
  gate: RunningGitGate;
  url: string;
  auditLog: string;
  dataDir: string;
  mirror(name: string): string;
  audit(): GitAuditEntry[];
  close(): Promise<void>;
}

export async function startTestGate(root: string, upstreams: UpstreamEntryInput[], extra: Record<string, unknown> = {}): Promise<TestGate> {
  const dataDir = path.join(root, `gate-${Math.random().toString(36).slice(2, 8)}`);
  const auditLog = path.join(dataDir, 'log', 'audit.jsonl');
  const config = parseGitGateConfig({
    listen: { host: '127.0.0.1', port: 0 },
    dataDir,
    auditLog,
    upstreamTimeoutSeconds: 60,
    ...extra,
    upstreams: upstreams.map((u) => ({ identityFile: null, knownHosts: null, push: true, protect: [], ...u })),
  });
  const gate = await startGitGate({ ...config, log: () => {} });
  return {
    gate,
    url: gate.url!,
    auditLog,
    dataDir,
    mirror: (name) => path.join(gate.reposDir, `${name}.git`),
    audit: () => (existsSync(auditLog) ? readFileSync(auditLog, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as GitAuditEntry) : []),
    close: () => gate.close(),
  };
}

/** All refs of a repository as "id ref" lines. */
export async function refsOf(repo: string, home: string): Promise<string> {
  return (await git(['for-each-ref', '--format=%(objectname) %(refname)'], { cwd: repo, home })).stdout.trim();
}

export async function hasObject(repo: string, home: string, id: string): Promise<boolean> {
  return (await git(['cat-file', '-e', `${id}^{commit}`], { cwd: repo, home })).exitCode === 0;
}

function pkt(payload: string | Buffer): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
  return Buffer.concat([Buffer.from((body.length + 4).toString(16).padStart(4, '0')), body]);
}

/** Sends one raw request (a pkt-line built from `line`, or raw bytes) and returns what came back. */
export function rawRequest(port: number, line: string | Buffer, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, host);
    const chunks: Buffer[] = [];
    s.on('connect', () => s.write(typeof line === 'string' ? pkt(line) : line));
    s.on('data', (d) => {
      chunks.push(d);
      // The first pkt-line is enough: an ERR line, or the start of a ref advertisement.
      const got = Buffer.concat(chunks);
      if (got.length >= 4) {
        const len = parseInt(got.subarray(0, 4).toString('latin1'), 16);
        if (Number.isNaN(len) || got.length >= len) s.destroy();
      }
    });
    s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    s.on('error', reject);
    s.setTimeout(15_000, () => {
      s.destroy();
      reject(new Error('raw git:// request timed out'));
    });
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

export interface TestSshd {
  port: number;
  /** The client key the upstream authorizes (private key path). */
  clientKey: string;
  /** A known_hosts file with the server's real host key. */
  knownHosts: string;
  /** A known_hosts file naming the same host and port with another key. */
  wrongKnownHosts: string;
  url(repoPath: string): string;
  stop(): Promise<void>;
}

export const SSHD = '/usr/sbin/sshd';

/**
 * An OpenSSH server on 127.0.0.1 (a free port), with a host key, a client key and an
 * authorized_keys made here, and a config that allows only that key for the current user.
 */
export async function startSshd(root: string): Promise<TestSshd> {
  if (!existsSync(SSHD)) {
    throw new Error(`${SSHD} is missing: these tests need Debian's openssh-server (apt-get install -y openssh-server)`);
  }
  const dir = path.join(root, 'sshd');
  mkdirSync(dir, { recursive: true });
  const keygen = (file: string) => execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'git-gate-test', '-f', file]);
  await Promise.all([keygen(path.join(dir, 'host_key')), keygen(path.join(dir, 'other_host_key')), keygen(path.join(dir, 'client_key'))]);
  writeFileSync(path.join(dir, 'authorized_keys'), readFileSync(path.join(dir, 'client_key.pub')), { mode: 0o600 });
  const port = await freePort();
  const user = os.userInfo().username;
  const hostPub = readFileSync(path.join(dir, 'host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
  const otherPub = readFileSync(path.join(dir, 'other_host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
  writeFileSync(path.join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${hostPub}\n`);
  writeFileSync(path.join(dir, 'wrong_known_hosts'), `[127.0.0.1]:${port} ${otherPub}\n`);
  writeFileSync(
    path.join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${path.join(dir, 'host_key')}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      `AllowUsers ${user}`,
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'PrintMotd no',
      'MaxStartups 50',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  // Debian's sshd wants its privilege separation folder; the package's service would make it.
  if (process.getuid?.() === 0 && !existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });
  const child: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', path.join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (errors += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sshd exited at start: ${errors}`);
    const up = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error(`sshd did not listen on 127.0.0.1:${port}: ${errors}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    clientKey: path.join(dir, 'client_key'),
    knownHosts: path.join(dir, 'known_hosts'),
    wrongKnownHosts: path.join(dir, 'wrong_known_hosts'),
    url: (repoPath) => `ssh://${user}@127.0.0.1:${port}${repoPath}`,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** One command of a raw push: `<old> <new> <ref>`, or a pkt-line payload sent exactly as given. */
export type RawCommand = { old: string; new: string; ref: string } | { raw: Buffer };

/**
 * A push as a raw git:// client sends it, for ref names no git client would send (`git push`
 * refuses an invalid refspec locally): the commands (`<old> <new> <ref>`, the first with
 * `caps`), a flush, then a pack made by `git pack-objects` from `packRevs` in `repo`. Ref names
 * are sent as UTF-8. Returns what the gate said: ERR lines, the side-band messages (the hook's
 * lines) and receive-pack's report (`ok <ref>` / `ng <ref> <why>`).
 */
export async function rawPush(port: number, repoPath: string, cmd: RawCommand | RawCommand[], pack: { repo: string; home: string; revs: string[] }, caps = 'report-status side-band-64k'): Promise<string> {
  const lines = (Array.isArray(cmd) ? cmd : [cmd]).map((c, i) =>
    pkt('raw' in c ? c.raw : Buffer.from(`${c.old} ${c.new} ${c.ref}${i === 0 ? `\0${caps}` : ''}`, 'utf8')),
  );
  const packed = await execa('git', ['pack-objects', '--stdout', '--revs', '--thin'], { cwd: pack.repo, env: clientEnv(pack.home), extendEnv: false, input: `${pack.revs.join('\n')}\n`, encoding: 'buffer' });
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let sent = false;
    let said = '';
    s.on('connect', () => s.write(pkt(`git-receive-pack ${repoPath}\0host=127.0.0.1\0`)));
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (buf.length < 4) return;
        const len = parseInt(buf.subarray(0, 4).toString('latin1'), 16);
        if (Number.isNaN(len)) {
          said += buf.toString('latin1');
          buf = Buffer.alloc(0);
          return;
        }
        const size = len === 0 ? 4 : len;
        if (buf.length < size) return;
        const payload = buf.subarray(4, size);
        buf = buf.subarray(size);
        if (!sent) {
          // The ref advertisement ends with a flush; then the command, a flush and the pack.
          if (len === 0) {
            sent = true;
            s.write(Buffer.concat([...lines, Buffer.from('0000'), packed.stdout as Uint8Array]));
          } else if (payload.toString('latin1').startsWith('ERR ')) {
            said += payload.toString('latin1');
          }
          continue;
        }
        // Band 1 carries the report as pkt-lines of its own; band 2 the hook's stderr, band 3 a
        // fatal error; without side-band a refusal is an ERR line.
        if (len > 0) said += payload.toString('latin1').startsWith('ERR ') ? payload.toString('latin1') : payload.subarray(1).toString('latin1');
      }
    });
    s.on('close', () => resolve(said));
    s.on('error', reject);
    s.setTimeout(60_000, () => {
      s.destroy();
      reject(new Error('raw git:// push timed out'));
    });
  });
}
