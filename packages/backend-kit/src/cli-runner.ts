/**
 * The one execa wrapper every engine CLI runs through (docker, smolvm, the next one): argv arrays,
 * never shell strings; a timeout on every call; a cancel signal; stdin closed unless given. An
 * engine says how its own failures read (`CliSpec`): what to say when it is missing, and which
 * stderr means it cannot run at all rather than that one command failed.
 */
import { execa, type Options } from 'execa';
import { BottleError, EXIT_INTERRUPTED } from '@bot-bottle/core';

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface CliCallOptions {
  timeoutMs?: number;
  input?: string | Uint8Array;
  /** Extra environment for this call (added to this process's). */
  env?: Record<string, string>;
  signal?: AbortSignal;
}

export interface CliSpec {
  /** The program to run (a name on PATH or a path). */
  bin: string;
  /** How a user names it in messages ("docker", "smolvm"). */
  name: string;
  defaultTimeoutMs: number;
  /** The error for "not installed" (ENOENT). */
  notInstalled(): BottleError;
  /** A BottleError when a failed call's stderr means the engine cannot run at all; else null. */
  unavailable?(stderr: string): BottleError | null;
  /** How many leading arguments name the command in messages (`docker run`: 1; `smolvm machine exec`: 2). */
  verbWords?: number;
  /** The hint on a timeout. */
  timeoutHint: string;
  /** Counts processes spawned (benchmarks report it). */
  stats?: { spawned: number };
}

/** Runs the engine's CLI; never throws for a non-zero exit (callers decide), only when it cannot run. */
export async function runCli(spec: CliSpec, args: readonly string[], options: CliCallOptions = {}): Promise<CliResult> {
  if (spec.stats) spec.stats.spawned++;
  const timeoutMs = options.timeoutMs ?? spec.defaultTimeoutMs;
  const execaOptions: Options = {
    reject: false,
    timeout: timeoutMs,
    ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input as string }),
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    env: options.env,
    extendEnv: true,
    stripFinalNewline: false,
  };
  const r = await execa(spec.bin, args, execaOptions);
  if ((r as { code?: string }).code === 'ENOENT') throw spec.notInstalled();
  const stdout = String(r.stdout ?? '');
  const stderr = String(r.stderr ?? '');
  const what = `${spec.name} ${args.slice(0, spec.verbWords ?? 1).join(' ')}`;
  if (r.timedOut) throw new BottleError('BACKEND_FAILED', `${what} timed out after ${timeoutMs / 1000}s`, { suggestions: [spec.timeoutHint] });
  if (r.isCanceled) throw new BottleError('INTERRUPTED', `${what} was interrupted`, { exit: EXIT_INTERRUPTED });
  if (r.exitCode !== 0) {
    const down = spec.unavailable?.(stderr);
    if (down) throw down;
  }
  return { exitCode: r.exitCode ?? 1, stdout, stderr };
}

/** Runs the CLI and throws a BottleError with the engine's own message (`message(stderr)`) when it fails. */
export async function runCliOk(spec: CliSpec, args: readonly string[], what: string, options: CliCallOptions = {}, message?: (stderr: string) => string | null): Promise<string> {
  const r = await runCli(spec, args, options);
  if (r.exitCode !== 0) {
    const text = message?.(r.stderr) ?? (r.stderr.trim().split('\n').slice(-3).join(' ') || `${spec.name} exited ${r.exitCode}`);
    throw new BottleError('BACKEND_FAILED', `${what} failed: ${text}`, {
      suggestions: ['Re-run with BOTTLE_DEBUG=1 for details; `bottle gc` reclaims anything left behind.'],
    });
  }
  return r.stdout;
}
