/**
 * The docker CLI on the shared runner: both backends start the bundle as a docker container, so
 * the shared layer runs docker; backend-docker adds the bottle container's calls on top of it.
 * The two failures users hit most (docker missing, engine down) become fixes.
 */
import { BottleError } from '@bot-bottle/core';
import { runCli, runCliOk, type CliCallOptions, type CliResult, type CliSpec } from './cli-runner.js';

export type DockerResult = CliResult;
export type DockerCallOptions = CliCallOptions;

export const DOCKER = process.env.BOT_BOTTLE_DOCKER || 'docker';
export const DEFAULT_TIMEOUT_MS = 120_000;

/** Counts docker processes spawned (benchmarks report it). */
export const dockerStats = { spawned: 0 };

export function engineDown(detail: string): BottleError {
  return new BottleError('BACKEND_UNAVAILABLE', `the docker engine is not reachable: ${detail.trim().split('\n')[0]}`, {
    suggestions: ['Start it: `sudo systemctl start docker` (or start Docker Desktop), then run `bottle doctor`.'],
  });
}

const ENGINE_DOWN = /Cannot connect to the Docker daemon|Is the docker daemon running|error during connect|connect: no such file or directory/i;

export const DOCKER_CLI: CliSpec = {
  bin: DOCKER,
  name: 'docker',
  defaultTimeoutMs: DEFAULT_TIMEOUT_MS,
  stats: dockerStats,
  notInstalled: () =>
    new BottleError('BACKEND_UNAVAILABLE', 'docker is not installed (no `docker` on PATH)', {
      suggestions: ['Install Docker Engine (Debian: apt-get install docker.io) or Docker Desktop, then run `bottle doctor`.'],
    }),
  unavailable: (stderr) => (ENGINE_DOWN.test(stderr) ? engineDown(stderr) : null),
  timeoutHint: 'Check the engine with `docker info`; re-run with BOTTLE_DEBUG=1.',
};

/** Runs docker; never throws for a non-zero exit (callers decide), only for docker missing or down. */
export function docker(args: readonly string[], options: DockerCallOptions = {}): Promise<DockerResult> {
  return runCli(DOCKER_CLI, args, options);
}

/** Runs docker and throws a BottleError with docker's own message when it fails. */
export function dockerOk(args: readonly string[], what: string, options: DockerCallOptions = {}): Promise<string> {
  return runCliOk(DOCKER_CLI, args, what, options);
}
