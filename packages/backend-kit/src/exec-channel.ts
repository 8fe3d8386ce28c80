/**
 * One long-lived exec into a bottle (`docker exec -i`, `smolvm machine exec --interactive`: the
 * backend says how, with a spawn function), running the image's exec agent (exec-agent.mjs):
 * every later exec and copy is a message on its stdin, not a new engine process. Provisioning is a
 * dozen small steps; as docker processes each costs ~50 ms of CLI start and API round trips, as
 * messages a few ms. Data moves in JSON lines (base64), streamed with back-pressure.
 *
 * The channel holds the event loop only while a request is in flight, so a CLI that is done (e.g.
 * `bottle run --keep`) exits; its stdin then closes and the agent exits with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { BottleError, type ExecOptions, type ExecResult } from '@bot-bottle/core';
import { channelClosed, copyFailed, interrupted, requestFailed } from './target-errors.js';

/** Where the agent image keeps the exec agent. */
export const EXEC_AGENT_PATH = '/usr/local/lib/bot-bottle/exec-agent.mjs';
/** How bot-bottle's agent image starts the exec agent. */
export const DEFAULT_EXEC_AGENT_ARGV: readonly string[] = ['node', EXEC_AGENT_PATH];
const CHUNK = 64 * 1024;

interface Pending {
  stdout: Buffer[];
  stderr: Buffer[];
  resolve(r: { code: number; error?: string; stdout: string; stderr: string }): void;
  reject(e: Error): void;
}

type Frame = { t: 'ready' } | { t: 'out'; id: number; fd: 1 | 2; data: string } | { t: 'exit'; id: number; code: number; error?: string };

export class ExecChannel {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed: BottleError | null = null;
  private constructor(private readonly child: ChildProcess, readonly description: string) {}

  /**
   * Starts the agent: `spawnAgent(argv)` runs `argv` (the agent's command) in the bottle as root,
   * with stdin, stdout and stderr piped. `description` names the sandbox in every error
   * ("docker container bot-bottle-demo-abc12"). Rejects if the agent does not come up (an image
   * without it, a stopped sandbox). `agentArgv` is how the image starts it: `node` on PATH in
   * bot-bottle's agent image; bot-bottle's own Node by its full path in a layered user image, whose
   * PATH finds the user's Node first (images' `BottleImage.execAgent`).
   */
  static async open(spawnAgent: (argv: readonly string[]) => ChildProcess, description: string, timeoutMs = 30_000, agentArgv: readonly string[] = DEFAULT_EXEC_AGENT_ARGV): Promise<ExecChannel> {
    const child = spawnAgent(agentArgv);
    const container = description;
    const channel = new ExecChannel(child, description);
    let stderr = '';
    child.stderr!.on('data', (b) => (stderr = (stderr + b).slice(-2000)));
    child.stdin!.on('error', () => undefined);
    const lines = createInterface({ input: child.stdout!, crlfDelay: Infinity });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`the exec agent did not start within ${timeoutMs / 1000}s`)), timeoutMs);
      const fail = (e: Error) => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(e);
      };
      child.once('error', (e) => fail(e));
      child.once('close', (code) => fail(new Error(`the exec agent exited (${code}): ${stderr.trim() || 'no output'}`)));
      lines.once('line', (line) => {
        clearTimeout(timer);
        child.removeAllListeners('close');
        child.removeAllListeners('error');
        if (line.includes('"ready"')) resolve();
        else fail(new Error(`the exec agent said ${line.slice(0, 200)}`));
      });
    });
    lines.on('line', (line) => channel.onFrame(line));
    child.on('error', (e) => channel.shutDown(channelClosed(container, e.message)));
    child.on('close', (code) => channel.shutDown(channelClosed(container, `the exec process exited ${code}${stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : ''}`)));
    channel.idle();
    return channel;
  }

  /** Runs argv in the bottle; the same result shape and exit codes as `docker exec`. */
  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const hasStdin = options.stdin !== undefined;
    const r = await this.request(
      { t: 'exec', argv, user: options.user, env: options.env, cwd: options.cwd, stdin: hasStdin },
      hasStdin ? bufferChunks(typeof options.stdin === 'string' ? Buffer.from(options.stdin) : Buffer.from(options.stdin!)) : null,
      options,
      `\`${argv.join(' ')}\``,
    );
    return { exitCode: r.code, stdout: r.stdout, stderr: r.stderr };
  }

  /** Copies a host file or directory tree to guestPath, landing as `docker cp` lands it. */
  async copyIn(hostPath: string, guestPath: string, options: Pick<ExecOptions, 'timeoutMs' | 'signal'> = {}): Promise<void> {
    const st = await lstat(hostPath).catch((e: NodeJS.ErrnoException) => {
      throw copyFailed(this.description, hostPath, guestPath, 'host', e.code === 'ENOENT' ? 'it does not exist' : e.message);
    });
    const kind = st.isDirectory() ? 'dir' : 'file';
    // A directory goes as one tar stream made by the host's tar (GNU tar, or bsdtar on macOS and
    // Windows: both read and write the formats the guest's GNU tar extracts); symlinks stay links,
    // as docker cp keeps them. The system tar makes 2,000 small files into a stream in ~15 ms.
    const tar = kind === 'dir' ? spawn('tar', ['-c', '-f', '-', '-C', hostPath, '.'], { stdio: ['ignore', 'pipe', 'pipe'] }) : null;
    let tarError = '';
    tar?.stderr!.on('data', (b) => (tarError = (tarError + b).slice(-2000)));
    const tarExit = tar ? new Promise<number | null>((resolve) => { tar.on('close', resolve); tar.on('error', (e) => { tarError = e.message; resolve(-1); }); }) : Promise.resolve(0);
    const data = (tar ? tar.stdout! : createReadStream(hostPath, { highWaterMark: CHUNK })) as Readable;
    const r = await this.request({ t: 'copy', path: guestPath, name: path.basename(hostPath), kind, mode: st.mode & 0o7777 }, data, { timeoutMs: options.timeoutMs ?? 600_000, ...(options.signal ? { signal: options.signal } : {}) }, `copying ${hostPath}`).finally(() => tar?.kill());
    const code = await tarExit;
    // When the bottle's side fails first, the host's tar may fail after it, writing into a stream
    // nobody reads any more (a broken pipe): that is not the cause. Any other tar failure is (the
    // bottle then sees a cut-off stream).
    const hostFailed = code !== 0 && code !== null && !(r.code !== 0 && /broken pipe/i.test(tarError));
    if (hostFailed) throw copyFailed(this.description, hostPath, guestPath, 'host', `tar: ${tarError.trim() || `exit ${code}`}`);
    if (r.code !== 0) throw copyFailed(this.description, hostPath, guestPath, 'guest', r.error ?? `the exec agent's copy exited ${r.code}`);
  }

  close(): void {
    this.child.stdin?.end();
  }

  private async request(
    head: Record<string, unknown>,
    body: AsyncIterable<Buffer> | Iterable<Buffer> | null,
    options: Pick<ExecOptions, 'timeoutMs' | 'signal'>,
    what: string,
  ): Promise<{ code: number; error?: string; stdout: string; stderr: string }> {
    if (this.closed) throw this.closed;
    if (options.signal?.aborted) throw interrupted(what);
    const id = this.nextId++;
    this.busy();
    const done = new Promise<{ code: number; error?: string; stdout: string; stderr: string }>((resolve, reject) => {
      this.pending.set(id, { stdout: [], stderr: [], resolve, reject });
    });
    const timeoutMs = options.timeoutMs ?? 120_000;
    const timer = setTimeout(() => this.abort(id, new BottleError('BACKEND_FAILED', `${what} in ${this.description} timed out after ${timeoutMs / 1000}s`, { suggestions: ['Re-run with BOTTLE_DEBUG=1 for details.'] })), timeoutMs);
    const onAbort = () => this.abort(id, interrupted(what));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.write({ ...head, id });
      if (body) {
        // Small chunks (a tar stream is mostly 512-byte headers and small files) go out together.
        let held: Buffer[] = [];
        let heldBytes = 0;
        const flush = async () => {
          const all = Buffer.concat(held, heldBytes);
          held = [];
          heldBytes = 0;
          for (let i = 0; i < all.length; i += CHUNK) await this.write({ t: 'in', id, data: all.subarray(i, i + CHUNK).toString('base64') });
        };
        for await (const chunk of body) {
          if (!this.pending.has(id)) break;
          held.push(chunk);
          heldBytes += chunk.length;
          if (heldBytes >= CHUNK) await flush();
        }
        if (heldBytes) await flush();
        if (this.pending.has(id)) await this.write({ t: 'end', id });
      }
      return await done;
    } catch (e) {
      // A write into a channel that broke (EPIPE) fails the request; the user gets it with a fix.
      this.abort(id, requestFailed(this.description, what, e));
      return await done;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (this.pending.size === 0) this.idle();
    }
  }

  private abort(id: number, e: Error): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (!this.closed) void this.write({ t: 'kill', id }).catch(() => undefined);
    p.reject(e);
  }

  private write(frame: Record<string, unknown>): Promise<void> {
    if (this.closed) return Promise.reject(this.closed);
    const stdin = this.child.stdin!;
    return new Promise((resolve, reject) => {
      const ok = stdin.write(`${JSON.stringify(frame)}\n`, (e) => (e ? reject(e) : undefined));
      if (ok) resolve();
      else stdin.once('drain', () => resolve());
    });
  }

  private onFrame(line: string): void {
    let f: Frame;
    try {
      f = JSON.parse(line) as Frame;
    } catch {
      return;
    }
    if (f.t === 'ready') return;
    const p = this.pending.get(f.id);
    if (!p) return;
    if (f.t === 'out') (f.fd === 1 ? p.stdout : p.stderr).push(Buffer.from(f.data, 'base64'));
    else if (f.t === 'exit') {
      this.pending.delete(f.id);
      p.resolve({ code: f.code, ...(f.error ? { error: f.error } : {}), stdout: Buffer.concat(p.stdout).toString('utf8'), stderr: Buffer.concat(p.stderr).toString('utf8') });
    }
  }

  private shutDown(e: BottleError): void {
    if (this.closed) return;
    this.closed = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** Only a request in flight keeps the process alive. */
  private busy(): void {
    this.child.ref();
    for (const s of [this.child.stdin, this.child.stdout, this.child.stderr]) (s as unknown as { ref?: () => void } | null)?.ref?.();
  }

  private idle(): void {
    this.child.unref();
    for (const s of [this.child.stdin, this.child.stdout, this.child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
  }
}

function* bufferChunks(b: Buffer): Iterable<Buffer> {
  for (let i = 0; i < b.length; i += CHUNK) yield b.subarray(i, i + CHUNK);
}
