/**
 * The errors a Target can raise, the same whichever backend and whichever way it works (exec
 * channel or one engine process per call): each says what failed in which sandbox (its
 * description, e.g. "docker container bot-bottle-demo-abc12" or "smolvm machine ..."), and what to
 * do about it. A provisioner passes them on, so these are what a user sees when a launch fails
 * while preparing the bottle.
 */
import path from 'node:path';
import { BottleError, EXIT_INTERRUPTED, isBottleError } from '@bot-bottle/core';

const GONE = 'If the bottle stopped or was removed meanwhile, `bottle ls` shows it; `bottle gc` removes what is left, then `bottle run` again.';

/** A copy that failed on the host side (reading the source) or in the bottle (writing the copy). */
export function copyFailed(target: string, hostPath: string, guestPath: string, side: 'host' | 'guest', detail: string): BottleError {
  return new BottleError('BACKEND_FAILED', `copying ${hostPath} to ${guestPath} in ${target} failed`, {
    details: [side === 'host' ? `on the host: ${detail.trim() || 'no output'}` : detail.trim() || 'no output'],
    suggestions:
      side === 'host'
        ? [`Check that ${hostPath} exists and that you can read it (and every file under it).`]
        : [`Check that ${path.posix.dirname(guestPath)} exists in the bottle; an image not made by \`bottle image build\` may lack it.`, GONE],
  });
}

/** The exec channel ended while requests were in flight (the sandbox stopped, the engine's CLI exited). */
export function channelClosed(target: string, why: string): BottleError {
  return new BottleError('BACKEND_FAILED', `the connection into ${target} closed (${why})`, { suggestions: [GONE] });
}

/** Any other failure of a request, as a BottleError naming it; BottleErrors pass as they are. */
export function requestFailed(target: string, what: string, e: unknown): BottleError {
  if (isBottleError(e)) return e;
  return new BottleError('BACKEND_FAILED', `${what} in ${target} failed: ${e instanceof Error ? e.message : String(e)}`, {
    suggestions: [GONE, 'Re-run with BOTTLE_DEBUG=1 for details.'],
    cause: e,
  });
}

export function interrupted(what: string): BottleError {
  return new BottleError('INTERRUPTED', `${what} was interrupted`, { exit: EXIT_INTERRUPTED });
}
