/**
 * What the `bottle supervise` commands share: the queues of the running bottles, who decides, and
 * how a request is shown. Text in a request was chosen by the agent: it is shown with control
 * characters and bidi overrides escaped, so it cannot drive the terminal.
 */
import { userInfo } from 'node:os';
import { bottleStateDir, type EgressRoute } from '@bot-bottle/core';
import { bottleQueue, type BottleQueue, type RequestRecord } from '@bot-bottle/supervise';
import { backendFor } from './backend.js';
import { visible } from './commands/logs.js';

/** The queues of the bottles that run now (a stopped bottle's requests are gone with its state). */
export async function runningQueues(): Promise<BottleQueue[]> {
  const bottles = (await backendFor().list()).filter((b) => b.state === 'running');
  const queues: BottleQueue[] = [];
  for (const b of bottles) {
    const q = await bottleQueue(bottleStateDir(b.slug));
    if (q) queues.push(q);
  }
  return queues;
}

/** The host user who decides (recorded in the decision and the audit log). */
export function decider(env: NodeJS.ProcessEnv = process.env): string {
  try {
    return userInfo().username;
  } catch {
    return env.USER || env.LOGNAME || 'unknown';
  }
}

export function age(iso: string, now = Date.now()): string {
  const s = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${Math.floor(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** `GET,POST /v1/ /v2/` or `any`: what the route would allow on the host. */
export function scope(r: Pick<RequestRecord, 'methods' | 'paths'>): string {
  return visible(`${r.methods ? r.methods.join(',') : 'any method'} ${r.paths ? r.paths.join(' ') : 'any path'}`);
}

/** The credential a route would inject, said plainly; empty when none. */
export function credential(r: Pick<EgressRoute, 'auth' | 'host'>): string {
  if (!r.auth) return '';
  return visible(`the gateway will set header ${r.auth.header} from $${r.auth.env} of the host's environment on every request to ${r.host}`);
}

/** One request as lines for a person: what, where, why. */
export function describeRequest(slug: string, r: RequestRecord, now = Date.now()): string[] {
  const lines = [`${r.id}  ${slug}  ${visible(r.host)}  ${scope(r)}  ${age(r.time, now)} ago`, `    reason: ${visible(r.reason)}`];
  if (r.auth) lines.push(`    credential: ${credential({ host: r.host, auth: r.auth })}`);
  return lines;
}
