/**
 * The errors a docker Target can raise, the same whichever way it works (exec channel or one docker
 * process per call): each says what failed in which container, and what to do about it. A provisioner
 * passes them on, so these are what a user sees when a launch fails while preparing the bottle.
 */
import path from 'node:path';
import { BottleError, EXIT_INTERRUPTED, isBottleError } from '@bot-bottle/core';

const GONE = 'If the bottle stopped or was removed meanwhile, `bottle ls` shows it; `bottle gc` removes what is left, then `bottle run` again.';

/** A copy that failed on the host side (reading the source) or in the bottle (writing the copy). */
export function copyFailed(container: string, hostPath: string, guestPath: string, side: 'host' | 'guest', detail: string): BottleError {
  return new BottleError('BACKEND_FAILED', `copying ${hostPath} to ${guestPath} in docker container ${container} failed`, {
    details: [side === 'host' ? `on the host: ${detail.trim() || 'no output'}` : detail.trim() || 'no output'],
    suggestions:
      side === 'host'
        ? [`Check that ${hostPath} exists and that you can read it (and every file under it).`]
        : [`Check that ${path.posix.dirname(guestPath)} exists in the bottle; an image not made by \`bottle image build\` may lack it.`, GONE],
  });
}

/** The exec channel ended while requests were in flight (the container stopped, docker exited). */
export function channelClosed(container: string, why: string): BottleError {
  return new BottleError('BACKEND_FAILED', `the connection into docker container ${container} closed (${why})`, { suggestions: [GONE] });
}

/** Any other failure of a request, as a BottleError naming it; BottleErrors pass as they are. */
export function requestFailed(container: string, what: string, e: unknown): BottleError {
  if (isBottleError(e)) return e;
  return new BottleError('BACKEND_FAILED', `${what} in docker container ${container} failed: ${e instanceof Error ? e.message : String(e)}`, {
    suggestions: [GONE, 'Re-run with BOTTLE_DEBUG=1 for details.'],
    cause: e,
  });
}

export function interrupted(what: string): BottleError {
  return new BottleError('INTERRUPTED', `${what} was interrupted`, { exit: EXIT_INTERRUPTED });
}
