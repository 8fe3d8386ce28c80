/**
 * How a service process and the supervisor talk: the service reads one JSON document on stdin
 * (its settings, and for the egress gateway its secrets, which so never sit in an environment),
 * then writes one JSON line on stdout: `{"ready": {...}}` once it listens, or `{"error": {...}}`.
 * Its stderr is the bundle's log.
 */
import { isServiceError, type ServiceErrorKind } from '@bot-bottle/core/service';

/** A ServiceError as it crosses to the supervisor. */
export interface ServiceFailure {
  kind: ServiceErrorKind;
  message: string;
  details: readonly string[];
  suggestions: readonly string[];
}

export type ServiceMessage = { ready: Record<string, unknown> } | { error: ServiceFailure };

export async function readInput<T>(): Promise<T> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
}

function send(message: ServiceMessage): Promise<void> {
  return new Promise((resolve) => process.stdout.write(JSON.stringify(message) + '\n', () => resolve()));
}

export function reportReady(info: Record<string, unknown>): Promise<void> {
  return send({ ready: info });
}

/** Reports a failure to start and exits 1. */
export async function reportFailure(e: unknown): Promise<never> {
  const failure: ServiceFailure = isServiceError(e)
    ? { kind: e.kind, message: e.message, details: e.details, suggestions: e.suggestions }
    : { kind: 'failure', message: (e as Error)?.message ?? String(e), details: [], suggestions: [] };
  await send({ error: failure });
  process.exit(1);
}

/** SIGTERM or SIGINT: close, then exit 0. */
export function onStop(close: () => Promise<unknown>): void {
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/**
 * Becomes `user` for good: no supplementary groups, then the group, then the user (the order the
 * calls need: after setuid there is no right left to change groups). Going from root to another
 * user clears every capability; the process is also no longer dumpable, so other processes of that
 * user cannot read its memory or environment.
 */
export function dropPrivileges(user: { uid: number; gid: number }): void {
  process.setgroups!([]);
  process.setgid!(user.gid);
  process.setuid!(user.uid);
  const groups = process.getgroups!();
  if (process.getuid!() !== user.uid || process.geteuid!() !== user.uid || process.getgid!() !== user.gid || process.getegid!() !== user.gid || groups.some((g) => g !== user.gid)) {
    throw new Error(`could not become uid ${user.uid} gid ${user.gid}`);
  }
}
