/**
 * The error the bundle's services raise: the egress gateway, git-gate and the bundle's supervisor.
 * They are daemons, not the CLI, so their errors carry no CLI error code or exit code: a message,
 * one line per problem, the fixes, and whether the fault is in what they were given (their config
 * file or input; a daemon exits 2 then, as for a bad command line) or in doing their work (exit 1).
 * Each service prints one with `formatServiceError`; where the CLI calls into a service's code in
 * its own process, it turns one into its BottleError with `bottleErrorFrom`.
 */
import { BottleError, EXIT_USAGE, type BottleErrorCode } from './errors.js';

/** `config`: the service cannot use what it was given; `failure`: it could not do its work. */
export type ServiceErrorKind = 'config' | 'failure';

export interface ServiceErrorOptions {
  kind?: ServiceErrorKind;
  /** One line per problem, printed under the message. */
  details?: readonly string[];
  /** What to do about it, one fix per line. */
  suggestions?: readonly string[];
  cause?: unknown;
}

export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  readonly kind: ServiceErrorKind;
  readonly details: readonly string[];
  readonly suggestions: readonly string[];

  constructor(message: string, options: ServiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = options.kind ?? 'failure';
    this.details = options.details ?? [];
    this.suggestions = options.suggestions ?? [];
  }

  toJSON(): { kind: ServiceErrorKind; message: string; details: readonly string[]; suggestions: readonly string[] } {
    return { kind: this.kind, message: this.message, details: this.details, suggestions: this.suggestions };
  }
}

/** Also true for a ServiceError from another copy of this package (a plugin's, a bundled one). */
export function isServiceError(e: unknown): e is ServiceError {
  return e instanceof ServiceError || (typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'ServiceError' && Array.isArray((e as { details?: unknown }).details));
}

/** The exit code of a service that stops on `e`: 2 when what it was given is wrong, else 1. */
export function serviceExitCode(e: unknown): number {
  return isServiceError(e) && e.kind === 'config' ? 2 : 1;
}

/**
 * One message for a service's log: `<service>: message`, each detail indented, each fix as
 * `fix: ...`. A message that already starts with the service's name does not repeat it. The stack
 * of anything that is not a ServiceError (a bug) is added only with BOTTLE_DEBUG=1: the launcher
 * shows the last lines of this log to the user.
 */
export function formatServiceError(service: string, e: unknown, env: NodeJS.ProcessEnv = process.env): string {
  if (!isServiceError(e)) {
    const err = e as Error | undefined;
    return `${service}: ${(env.BOTTLE_DEBUG === '1' ? err?.stack : undefined) ?? err?.message ?? String(e)}\n`;
  }
  const message = e.message.startsWith(`${service}: `) ? e.message.slice(service.length + 2) : e.message.startsWith(`${service} `) ? e.message.slice(service.length + 1) : e.message;
  return `${service}: ${message}\n${e.details.map((d) => `  ${d}\n`).join('')}${e.suggestions.map((s) => `  fix: ${s}\n`).join('')}`;
}

/**
 * The CLI's error for a ServiceError raised by a service's code that the CLI ran in its own
 * process: same message and details, the service's fixes after the CLI's own, and exit 2 when what
 * the service was given came from the user.
 */
export function bottleErrorFrom(e: ServiceError, code: BottleErrorCode, options: { suggestions?: readonly string[]; exit?: number } = {}): BottleError {
  return new BottleError(code, e.message, {
    details: e.details,
    suggestions: [...(options.suggestions ?? []), ...e.suggestions],
    ...(options.exit !== undefined ? { exit: options.exit } : e.kind === 'config' ? { exit: EXIT_USAGE } : {}),
    cause: e,
  });
}
