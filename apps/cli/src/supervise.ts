/**
 * What the `bottle supervise` commands share: the queues of the running bottles, who decides, and
 * how a request is shown. A request is shown as the route an approval adds, every field of it
 * (and the defaults of those it leaves out), with what its credential would do. Text in a request
 * was chosen by the agent: it goes through `visible` (display/visible.ts), so it cannot drive the
 * terminal or hide anything.
 */
import { userInfo } from 'node:os';
import { bottleStateDir, type EgressRoute } from '@bot-bottle/core';
import { assessCredential, bottleQueue, knownRoutes, pendingRequests, routeFor, type ApproveResult, type BottleQueue, type CredentialAssessment, type PendingRequest, type RequestRecord } from '@bot-bottle/supervise';
import type { Config } from '@oclif/core';
import { listAll } from './backends.js';
import { age } from './display/age.js';
import { hostText, hostUnicode, hostView, quoted, visible } from './display/visible.js';

/** The queues of the bottles that run now (a stopped bottle's requests are gone with its state). */
export async function runningQueues(config: Config): Promise<BottleQueue[]> {
  const bottles = (await listAll(config, (m) => process.stderr.write(`bottle: warning: ${m}\n`))).filter((b) => b.state === 'running');
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

/** `GET,POST /v1/ /v2/` or `any`: what the route would allow on the host. */
export function scope(r: Pick<RequestRecord, 'methods' | 'paths'>): string {
  return `${r.methods ? visible(r.methods.join(',')) : 'any method'} ${r.paths ? r.paths.map(visible).join(' ') : 'any path'}`;
}

/** The credential a route would inject, said plainly; empty when none. */
export function credential(r: Pick<EgressRoute, 'auth' | 'host'>): string {
  if (!r.auth) return '';
  const as = r.auth.format !== undefined ? `, as ${quoted(r.auth.format)} with {value} replaced by its value` : '';
  return `the gateway will set header ${visible(r.auth.header)} from $${visible(r.auth.env)} of the host's environment on every request to ${hostText(r.host)}${as}`;
}

const ROUTE_KEYS = ['host', 'methods', 'paths', 'schemes', 'ports', 'to', 'auth'];
const AUTH_KEYS = ['header', 'env', 'format', 'cleartext'];
/** A value of a key this version does not know, shown whole. */
const other = (x: unknown) => visible(JSON.stringify(x) ?? String(x));

/**
 * Every field of `route` as `[name, value]`, in the schema's order: those it sets, the defaults
 * of those it leaves out, and any key this version does not know, so nothing a route holds is
 * left unsaid.
 */
export function routeFields(route: EgressRoute): [string, string][] {
  const r = route as EgressRoute & Record<string, unknown>;
  const schemes = route.schemes ?? ['https'];
  const fields: [string, string][] = [
    ['host', hostText(route.host)],
    ['methods', route.methods ? route.methods.map(visible).join(', ') : 'any method'],
    ['paths', route.paths ? route.paths.map(quoted).join(', ') : 'any path'],
    ['schemes', route.schemes ? route.schemes.map(visible).join(', ') : 'https (default)'],
    ['ports', route.ports ? route.ports.join(', ') : `${schemes.map((s) => (s === 'http' ? 80 : 443)).join(', ')} (default)`],
    ['to', route.to !== undefined ? visible(route.to) : '- (the gateway connects to the host itself)'],
  ];
  const auth = route.auth as (EgressRoute['auth'] & Record<string, unknown>) | undefined;
  if (!auth) fields.push(['auth', '- (no credential is injected)']);
  else {
    fields.push(['auth.header', visible(auth.header)], ['auth.env', visible(auth.env)]);
    fields.push(['auth.format', auth.format !== undefined ? `${quoted(auth.format)} (the header's value; {value} is $${visible(auth.env)})` : '- (the header\'s value is $' + visible(auth.env) + ' alone)']);
    fields.push(['auth.cleartext', auth.cleartext !== undefined ? String(auth.cleartext) : 'false (default: never over plain http)']);
    for (const k of Object.keys(auth)) if (!AUTH_KEYS.includes(k)) fields.push([`auth.${visible(k)}`, other(auth[k])]);
  }
  for (const k of Object.keys(r)) if (!ROUTE_KEYS.includes(k)) fields.push([visible(k), other(r[k])]);
  return fields;
}

/**
 * What a person must know before (or on) approving: a credential going where no route sends it
 * today, one the manifest does not let the bottle ask for, a host that mixes scripts.
 */
export function requestWarnings(route: EgressRoute, cred: CredentialAssessment | null, tense: 'would' | 'now' = 'would'): string[] {
  const warnings: string[] = [];
  if (cred && !cred.allowed) warnings.push(`NOT ALLOWED: ${visible(cred.problem ?? '')}; \`bottle supervise approve\` refuses it (the bottle's supervise server should have refused it already)`);
  if (cred?.newDestination) {
    const today = cred.sentTo.length ? `today it goes only to ${cred.sentTo.map(hostText).join(', ')}` : 'no route uses it today: its value would be read from your shell';
    const host = hostText(route.host);
    warnings.push(tense === 'would' ? `NEW: ${cred.env} would be sent to ${host}, which no current route sends it to (${today})` : `NEW: ${cred.env} is now sent to ${host}, which no route sent it to before (${today.replace('would be read from your shell', 'was read from your shell')})`);
  }
  for (const note of hostView(route.host).notes) warnings.push(`NOTE: host ${hostText(route.host)}: ${note}`);
  return warnings;
}

/** The route an approval of `request` adds, what its credential would do, and the warnings. */
export function assessRequest(bottle: BottleQueue, request: RequestRecord, routes: readonly EgressRoute[]) {
  const route = routeFor(request);
  const cred = assessCredential(request, bottle.credentials, routes);
  return { route, credential: cred, warnings: requestWarnings(route, cred) };
}

/** The route's fields as indented lines. */
export function routeLines(route: EgressRoute, indent = '      '): string[] {
  const fields = routeFields(route);
  const width = Math.max(...fields.map(([k]) => k.length)) + 1;
  return fields.map(([k, v]) => `${indent}${`${k}:`.padEnd(width)} ${v}`);
}

/** One request as lines for a person: what, where, why, and the exact route an approval adds. */
export function describeRequest(slug: string, r: RequestRecord, assessed: ReturnType<typeof assessRequest>, now = Date.now()): string[] {
  const lines = [`${r.id}  ${slug}  ${hostText(r.host)}  ${scope(r)}  ${age(r.time, now)} ago`, `    reason: ${visible(r.reason)}`];
  lines.push('    route on approval:', ...routeLines(assessed.route));
  if (assessed.route.auth) lines.push(`    credential: ${credential(assessed.route)}`);
  for (const w of assessed.warnings) lines.push(`    ${w}`);
  return lines;
}

/** One pending request under --json: what `bottle supervise list` shows, as data. */
export interface PendingJson {
  id: string;
  slug: string;
  host: string;
  /** The Unicode form of an internationalized host (xn-- labels), or null. */
  hostUnicode: string | null;
  methods: string[] | null;
  paths: string[] | null;
  /** The credential the route injects, every field of it (header, env, format, ...), or null. */
  auth: NonNullable<EgressRoute['auth']> | null;
  /** Exactly the route an approval adds to the running gateway. */
  route: EgressRoute;
  /** What the credential would do: allowed by the manifest, and whether it would go somewhere new. */
  credential: CredentialAssessment | null;
  /** NEW (a credential to a host no route sends it to), NOT ALLOWED, NOTE (a host mixing scripts). */
  warnings: string[];
  reason: string;
  time: string;
  ageSeconds: number;
}

export interface ShownRequest {
  lines: string[];
  json: PendingJson;
}

/** The pending requests as lines for a person and as data, each against its bottle's routes in force. */
export async function showPending(pending: readonly PendingRequest[], now = Date.now()): Promise<ShownRequest[]> {
  const routes = new Map<BottleQueue, EgressRoute[]>();
  const shown: ShownRequest[] = [];
  for (const { slug, bottle, request: r } of pending) {
    if (!routes.has(bottle)) routes.set(bottle, await knownRoutes(bottle));
    const assessed = assessRequest(bottle, r, routes.get(bottle)!);
    shown.push({
      lines: describeRequest(slug, r, assessed, now),
      json: {
        id: r.id,
        slug,
        host: r.host,
        hostUnicode: hostUnicode(r.host),
        methods: r.methods ?? null,
        paths: r.paths ?? null,
        auth: assessed.route.auth ?? null,
        route: assessed.route,
        credential: assessed.credential,
        warnings: assessed.warnings,
        reason: r.reason,
        time: r.time,
        ageSeconds: Math.max(0, Math.floor((now - Date.parse(r.time)) / 1000)),
      },
    });
  }
  return shown;
}

/**
 * The pending requests of every running bottle, shown: `note` is told of each file in a queue that
 * is not a request, and when there is nothing pending.
 */
export async function listPending(config: Config, note: (message: string) => void): Promise<ShownRequest[]> {
  const { pending, skipped } = await pendingRequests(await runningQueues(config));
  for (const s of skipped) note(`bottle: ignored a file in the queue of ${visible(s)}`);
  if (pending.length === 0) note('no pending requests');
  return showPending(pending);
}

/** What `bottle supervise approve` prints: the route added, every field of it, its credential, the warnings, and the manifest's change. */
export function approvedLines(bottle: BottleQueue, r: ApproveResult, warnings: readonly string[]): string[] {
  const lines = [`approved ${r.request.id}: ${bottle.slug} may now reach ${hostText(r.route.host)} (${scope(r.route)})${r.alreadyAllowed ? ' (it already could)' : ', in force now'}`, '  route:'];
  lines.push(...routeLines(r.route, '    '));
  if (r.route.auth) lines.push(`  ${credential(r.route)}`);
  for (const w of warnings) lines.push(`  ${w}`);
  if (r.persisted === true) lines.push(`  added to ${bottle.manifestPath} (bottles.${bottle.bottleName}.egress.routes)`);
  if (r.persisted === false) lines.push(`  ${bottle.manifestPath} has this route already`);
  return lines;
}
