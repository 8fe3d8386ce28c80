/**
 * The one error type bot-bottle raises for anything a user can fix or must know about.
 * The CLI formats it once (message, fix, exit code); a stack trace is shown only with BOTTLE_DEBUG=1.
 */
export type BottleErrorCode =
  | 'MANIFEST_NOT_FOUND'
  | 'MANIFEST_UNREADABLE'
  | 'MANIFEST_INVALID_JSON'
  | 'MANIFEST_INVALID'
  | 'AGENT_NOT_FOUND'
  | 'LAUNCH_ENV_MISSING'
  | 'PROVISIONER_UNKNOWN'
  | 'PROVISIONER_DUPLICATE'
  | 'PROVISIONER_HOOK_FAILED'
  | 'PROVISIONER_ORDER'
  | 'PROVISIONER_OPTIONS'
  | 'PROVISIONER_FAILED'
  | 'BACKEND_UNAVAILABLE'
  | 'BACKEND_FAILED'
  | 'IMAGE_BUILD_FAILED'
  | 'BOTTLE_NOT_FOUND'
  | 'USAGE'
  | 'INTERRUPTED'
  | 'INTERNAL';

export interface BottleErrorOptions {
  /** What the user can do about it, one fix per line. */
  suggestions?: readonly string[];
  /** Process exit code; 2 for bad input, 1 for failures at run time. */
  exit?: number;
  /** Extra lines of detail (one per problem), printed under the message. */
  details?: readonly string[];
  cause?: unknown;
}

export class BottleError extends Error {
  override readonly name = 'BottleError';
  readonly code: BottleErrorCode;
  readonly suggestions: readonly string[];
  readonly details: readonly string[];
  readonly exit: number;

  constructor(code: BottleErrorCode, message: string, options: BottleErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.suggestions = options.suggestions ?? [];
    this.details = options.details ?? [];
    this.exit = options.exit ?? 1;
  }

  toJSON(): { code: string; message: string; details: readonly string[]; suggestions: readonly string[]; exit: number } {
    return { code: this.code, message: this.message, details: this.details, suggestions: this.suggestions, exit: this.exit };
  }
}

export function isBottleError(e: unknown): e is BottleError {
  return e instanceof BottleError || (typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'BottleError' && 'code' in e);
}

/** Exit codes: 2 = the user's input is wrong; 1 = something failed while doing the work; 130 = interrupted. */
export const EXIT_USAGE = 2;
export const EXIT_FAILURE = 1;
export const EXIT_INTERRUPTED = 130;
