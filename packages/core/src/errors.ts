/**
 * The one error type bot-bottle raises for anything a user can fix or must know about.
 * The CLI formats it once (message, fix, exit code); a stack trace is shown only with BOTTLE_DEBUG=1.
 */

/**
 * Exit codes, the only ones `bottle` uses besides 0 and a command's own (`bottle run -- CMD`,
 * `bottle exec`): 2 = the user's input is wrong (arguments, manifest, environment, files they
 * named); 1 = something failed while doing the work; 130 = interrupted (Ctrl-C, SIGTERM).
 */
export const EXIT_USAGE = 2;
export const EXIT_FAILURE = 1;
export const EXIT_INTERRUPTED = 130;

/**
 * What went wrong, for scripts reading `--json` (`error.code`). USAGE is for how a program was
 * called: an unknown command, a bad flag or argument, flags that exclude each other (and, for a
 * bundle service, its own config). Bad input with a code of its own (a manifest, a CA file) uses that.
 */
export type BottleErrorCode =
  | 'MANIFEST_NOT_FOUND'
  | 'MANIFEST_UNREADABLE'
  | 'MANIFEST_INVALID_JSON'
  | 'MANIFEST_INVALID'
  /** `bottle init` could not write the manifest. */
  | 'MANIFEST_UNWRITABLE'
  | 'AGENT_NOT_FOUND'
  /** Something the launch needs from the host is missing: an environment variable, a known_hosts file. */
  | 'LAUNCH_ENV_MISSING'
  /** A CA certificate file the user named (a flag or an environment variable) cannot be read or is not PEM. */
  | 'CA_CERT_INVALID'
  /** The working tree could not be listed or packed for --copy-cwd. */
  | 'WORKSPACE_FAILED'
  | 'PROVISIONER_UNKNOWN'
  | 'PROVISIONER_DUPLICATE'
  | 'PROVISIONER_HOOK_FAILED'
  | 'PROVISIONER_ORDER'
  | 'PROVISIONER_OPTIONS'
  /** A plugin speaks another provisioner API version than this CLI. */
  | 'PROVISIONER_API_VERSION'
  | 'PROVISIONER_FAILED'
  | 'SETUP_FAILED'
  /** An agent plugin failed to register, or registered an invalid definition. */
  | 'AGENT_HOOK_FAILED'
  | 'AGENT_DUPLICATE'
  /** An agent's "cli" names no installed agent. */
  | 'AGENT_UNKNOWN'
  /** The agent's definition failed to set it up in the bottle (its config files, its MCP servers). */
  | 'AGENT_CONFIGURE_FAILED'
  /** What an agent definition would give the agent holds a credential the gateway injects. */
  | 'AGENT_CONFIG_SECRET'
  | 'BACKEND_UNAVAILABLE'
  | 'BACKEND_HOOK_FAILED'
  | 'BACKEND_DUPLICATE'
  | 'BACKEND_UNKNOWN'
  | 'BACKEND_FAILED'
  | 'IMAGE_BUILD_FAILED'
  /** An image a bottle names is not on the engine and cannot be pulled (or built). */
  | 'IMAGE_MISSING'
  /** A bottle's image cannot take bot-bottle's agent layer (no /bin/sh, no glibc, another architecture). */
  | 'IMAGE_UNSUPPORTED'
  /** A file or folder on this machine could not be read or written (the message names it and the errno). */
  | 'HOST_IO_FAILED'
  | 'BOTTLE_NOT_FOUND'
  | 'USAGE'
  | 'INTERRUPTED'
  | 'INTERNAL';

export interface BottleErrorOptions {
  /** What the user can do about it, one fix per line. */
  suggestions?: readonly string[];
  /** Process exit code: EXIT_USAGE for bad input, EXIT_FAILURE (the default) for failures at run time. */
  exit?: number;
  /** Extra lines of detail (one per problem), printed under the message. */
  details?: readonly string[];
  cause?: unknown;
}

/**
 * The mark every BottleError carries. A plugin has its own copy of @bot-bottle/core, so its
 * BottleError is another class than the CLI's and `instanceof` fails across them; a registered
 * symbol is the same in every copy.
 */
export const BOTTLE_ERROR_BRAND: unique symbol = Symbol.for('bot-bottle.error') as never;

export class BottleError extends Error {
  override readonly name = 'BottleError';
  readonly [BOTTLE_ERROR_BRAND] = true;
  readonly code: BottleErrorCode;
  readonly suggestions: readonly string[];
  readonly details: readonly string[];
  readonly exit: number;

  constructor(code: BottleErrorCode, message: string, options: BottleErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.suggestions = options.suggestions ?? [];
    this.details = options.details ?? [];
    this.exit = options.exit ?? EXIT_FAILURE;
  }

  toJSON(): { code: string; message: string; details: readonly string[]; suggestions: readonly string[]; exit: number } {
    return { code: this.code, message: this.message, details: this.details, suggestions: this.suggestions, exit: this.exit };
  }
}

/**
 * Whether `e` is a BottleError from any copy of @bot-bottle/core: this one's class, or an object with
 * the brand and the fields the CLI reads (so a half-made look-alike is reported as a plain error).
 */
export function isBottleError(e: unknown): e is BottleError {
  if (e instanceof BottleError) return true;
  if (typeof e !== 'object' || e === null) return false;
  const x = e as Record<PropertyKey, unknown>;
  return (
    x[BOTTLE_ERROR_BRAND] === true &&
    typeof x.code === 'string' &&
    typeof x.message === 'string' &&
    Number.isInteger(x.exit) &&
    Array.isArray(x.suggestions) &&
    x.suggestions.every((s) => typeof s === 'string') &&
    Array.isArray(x.details) &&
    x.details.every((d) => typeof d === 'string')
  );
}
