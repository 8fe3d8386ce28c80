/**
 * The one place that runs the docker CLI: argv arrays (never shell strings), a timeout on every
 * call, and the two failures users hit most (docker missing, engine down) turned into fixes.
 */
import { execa, type Options } from 'execa';
import { BottleError, EXIT_INTERRUPTED } from '@bot-bottle/core';

export interface DockerResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface DockerCallOptions {
  timeoutMs?: number;
  input?: string | Uint8Array;
  env?: Record<string, string>;
  signal?: AbortSignal;
  /** Extra env names whose values pass from this process to docker (e.g. `docker run -e NAME`). */
  passEnv?: readonly string[];
}

export const DOCKER = process.env.BOT_BOTTLE_DOCKER || 'docker';
export const DEFAULT_TIMEOUT_MS = 120_000;

/** Counts docker processes spawned (benchmarks report it). */
export const dockerStats = { spawned: 0 };

function notInstalled(): BottleError {
  return new BottleError('BACKEND_UNAVAILABLE', 'docker is not installed (no `docker` on PATH)', {
    suggestions: ['Install Docker Engine (Debian: apt-get install docker.io) or Docker Desktop, then run `bottle doctor`.'],
  });
}

export function engineDown(detail: string): BottleError {
  return new BottleError('BACKEND_UNAVAILABLE', `the docker engine is not reachable: ${detail.trim().split('\n')[0]}`, {
    suggestions: ['Start it: `sudo systemctl start docker` (or start Docker Desktop), then run `bottle doctor`.'],
  });
}

const ENGINE_DOWN = /Cannot connect to the Docker daemon|Is the docker daemon running|error during connect|connect: no such file or directory/i;

/** Runs docker; never throws for a non-zero exit (callers decide), only for docker missing or down. */
export async function docker(args: readonly string[], options: DockerCallOptions = {}): Promise<DockerResult> {
  dockerStats.spawned++;
  const execaOptions: Options = {
    reject: false,
    timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input as string }),
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    env: options.env,
    extendEnv: true,
    stripFinalNewline: false,
  };
  const r = await execa(DOCKER, args, execaOptions);
  if ((r as { code?: string }).code === 'ENOENT') throw notInstalled();
  const stdout = String(r.stdout ?? '');
  const stderr = String(r.stderr ?? '');
  if (r.timedOut) throw new BottleError('BACKEND_FAILED', `docker ${args[0]} timed out after ${(options.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000}s`, { suggestions: ['Check the engine with `docker info`; re-run with BOTTLE_DEBUG=1.'] });
  if (r.isCanceled) throw new BottleError('INTERRUPTED', `docker ${args[0]} was interrupted`, { exit: EXIT_INTERRUPTED });
  if (r.exitCode !== 0 && ENGINE_DOWN.test(stderr)) throw engineDown(stderr);
  return { exitCode: r.exitCode ?? 1, stdout, stderr };
}

/** Runs docker and throws a BottleError with docker's own message when it fails. */
export async function dockerOk(args: readonly string[], what: string, options: DockerCallOptions = {}): Promise<string> {
  const r = await docker(args, options);
  if (r.exitCode !== 0) {
    throw new BottleError('BACKEND_FAILED', `${what} failed: ${r.stderr.trim().split('\n').slice(-3).join(' ') || `docker exited ${r.exitCode}`}`, {
      suggestions: ['Re-run with BOTTLE_DEBUG=1 for details; `bottle gc` reclaims anything left behind.'],
    });
  }
  return r.stdout;
}
