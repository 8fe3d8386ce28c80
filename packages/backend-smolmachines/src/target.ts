/**
 * A running smolvm machine as a provisioner's Target. Commands and copies go through one exec
 * channel: a single `smolvm machine exec --interactive` running the image's exec agent, the same
 * agent and protocol as the docker bottle's (`docker exec -i`). A machine whose image lacks the
 * agent gets one smolvm call per request instead (the argv of smolvm-cli.ts: `runuser` for the agent
 * user with HOME and USER by `--env`, `machine cp` landing as root, a tree as a tar stream).
 */
import { spawn } from 'node:child_process';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { BottleError, GUEST_HOME, GUEST_USER, type ExecOptions, type ExecResult, type Target } from '@bot-bottle/core';
import { ExecChannel, copyFailed, runCli, type CliCallOptions, type CliResult, type CliSpec } from '@bot-bottle/backend-kit';
import { execArgs, parseSmolvmError, targetCopyDirArgs, targetCopyFileArgs, targetExecArgs, type GuestHomes, type MachineRef } from './smolvm-cli.js';

/** The guest users a Target runs commands as, and their homes (HOME for `runuser`). */
export const GUEST_HOMES: GuestHomes = Object.freeze({ [GUEST_USER]: GUEST_HOME, root: '/root' });

/** smolvm's exit code for a command its `--timeout` killed. */
export const SMOLVM_TIMEOUT_EXIT = 124;

export interface SmolvmTargetOptions {
  cli: CliSpec;
  /** False: one smolvm call per request (no exec channel). */
  useChannel?: boolean;
  homes?: GuestHomes;
  /** Runs one smolvm call (default: the shared runner); a unit test records the argv here. */
  run?: (args: readonly string[], options: CliCallOptions) => Promise<CliResult>;
}

export class SmolvmTarget implements Target {
  readonly description: string;
  private channel: Promise<ExecChannel | null> | undefined;
  private readonly run: (args: readonly string[], options: CliCallOptions) => Promise<CliResult>;
  private readonly homes: GuestHomes;

  constructor(
    readonly machine: MachineRef,
    private readonly options: SmolvmTargetOptions,
  ) {
    this.description = `smolvm machine ${machine.name}`;
    this.run = options.run ?? ((args, o) => runCli(options.cli, args, o));
    this.homes = options.homes ?? GUEST_HOMES;
  }

  private open(): Promise<ExecChannel | null> {
    if (this.options.useChannel === false) return Promise.resolve(null);
    this.channel ??= ExecChannel.open(
      (argv) => {
        if (this.options.cli.stats) this.options.cli.stats.spawned++;
        return spawn(this.options.cli.bin, execArgs({ ...this.machine, argv, interactive: true }), { stdio: ['pipe', 'pipe', 'pipe'] });
      },
      this.description,
    ).catch(() => null);
    return this.channel;
  }

  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const channel = await this.open();
    if (channel) return channel.exec(argv, options);
    const { env, user, cwd, timeoutMs, signal } = options;
    const args = targetExecArgs(
      this.machine,
      argv,
      { ...(env ? { env } : {}), ...(user ? { user } : {}), ...(cwd ? { cwd } : {}), ...(timeoutMs ? { timeoutMs } : {}), stdin: options.stdin !== undefined },
      this.homes,
    );
    const started = Date.now();
    const r = await this.run(args, {
      ...(options.stdin !== undefined ? { input: options.stdin } : {}),
      // smolvm kills the command in the guest at the timeout (`--timeout`); the runner's own is the backstop.
      ...(timeoutMs ? { timeoutMs: timeoutMs + 30_000 } : {}),
      ...(signal ? { signal } : {}),
    });
    if (timeoutMs && r.exitCode === SMOLVM_TIMEOUT_EXIT && Date.now() - started >= timeoutMs) {
      throw new BottleError('BACKEND_FAILED', `\`${argv.join(' ')}\` in ${this.description} timed out after ${timeoutMs / 1000}s`, { suggestions: ['Re-run with BOTTLE_DEBUG=1 for details.'] });
    }
    // smolvm's own failure (no such machine, not running) is its JSON line, not the command's output.
    const err = r.exitCode !== 0 ? parseSmolvmError(r.stderr) : undefined;
    if (err) throw new BottleError('BACKEND_FAILED', `\`${argv.join(' ')}\` in ${this.description} failed: ${err.message}`, { suggestions: ['`bottle ls` shows whether the bottle still runs; `bottle gc` removes what is left.'] });
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  }

  async copyIn(hostPath: string, guestPath: string): Promise<void> {
    const channel = await this.open();
    if (channel) return channel.copyIn(hostPath, guestPath);
    const st = await lstat(hostPath).catch((e: NodeJS.ErrnoException) => {
      throw copyFailed(this.description, hostPath, guestPath, 'host', e.code === 'ENOENT' ? 'it does not exist' : e.message);
    });
    let r: CliResult;
    if (st.isDirectory()) {
      // smolvm's cp uploads one file: a tree goes as a tar stream into one `machine exec --interactive`.
      const tar = await tarOf(hostPath).catch((e: Error) => {
        throw copyFailed(this.description, hostPath, guestPath, 'host', e.message);
      });
      r = await this.run(targetCopyDirArgs(this.machine, guestPath), { input: tar, timeoutMs: 600_000 });
    } else {
      r = await this.run(targetCopyFileArgs(this.machine, hostPath, guestPath), { timeoutMs: 600_000 });
    }
    if (r.exitCode !== 0) throw copyFailed(this.description, hostPath, guestPath, 'guest', parseSmolvmError(r.stderr)?.message ?? r.stderr);
  }

  /** Ends the exec channel (the agent exits); later calls open a new one. */
  async close(): Promise<void> {
    const channel = await this.channel;
    this.channel = undefined;
    channel?.close();
  }
}

/** The tree under `dir` as one tar stream, made by the host's tar (links kept as links). */
function tarOf(dir: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tar = spawn('tar', ['-c', '-f', '-', '-C', dir, '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    tar.stdout.on('data', (b: Buffer) => out.push(b));
    tar.stderr.on('data', (b) => (err = (err + b).slice(-2000)));
    tar.on('error', reject);
    tar.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`tar: ${err.trim() || `exit ${code}`} (${path.basename(dir)})`))));
  });
}
