/**
 * What an agent may ask for, and the records of the queue: the tools' inputs (checked the same way
 * by the MCP server in the bundle and, again, by the host before a person sees a request), the
 * request file the bundle writes, the decision file the host writes, and the route an approval adds.
 */
import { randomBytes } from 'node:crypto';
import * as v from 'valibot';
import { getDomain } from 'tldts';
import { EgressRouteSchema, RouteAuthEntries, RouteEntries, issueLines, routeHostProblem, type EgressRoute } from '@bot-bottle/core/service';

/** At most this many requests of one bottle wait for a person at once. */
export const MAX_PENDING = 20;
export const MAX_REASON = 1000;
/** The longest DNS name. */
export const MAX_HOST = 253;
const MAX_PATHS = 20;
const MAX_PATH = 512;

/** `req-` and 10 characters of a-z0-9: what request_egress returns and `bottle supervise approve` takes. */
export const REQUEST_ID_PATTERN = /^req-[a-z0-9]{10}$/;
const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function newRequestId(): string {
  return `req-${Array.from(randomBytes(10), (b) => ID_ALPHABET[b % ID_ALPHABET.length]).join('')}`;
}

/**
 * Why an agent may not ask for `host` (lower case, trimmed), or null. On top of what a manifest
 * route allows: a wildcard must stay under one registrable domain (`*.example.com`, not `*.com`,
 * `*.co.uk` or `*.github.io`, whose names belong to many owners), and `*` alone is no host.
 */
export function requestHostProblem(host: string): string | null {
  if (host.length > MAX_HOST) return `host is ${host.length} characters long; a DNS name has at most ${MAX_HOST}`;
  if (host === '*') return 'host "*" would allow every host; ask for one host (api.example.com) or the names under one domain (*.example.com)';
  const problem = routeHostProblem(host);
  if (problem) return problem;
  if (host.startsWith('*.')) {
    const suffix = host.slice(2);
    // Private suffixes count: *.github.io would be every GitHub Pages site.
    if (!getDomain(suffix, { allowPrivateDomains: true })) {
      return `"${host}" would allow every name under the public suffix "${suffix}", which many owners share; ask for an exact host or *.<domain>.${suffix}`;
    }
  }
  return null;
}

const Host = v.pipe(
  v.string('host must be a string such as "api.example.com"'),
  v.maxLength(MAX_HOST, (issue) => `host is ${(issue.input as string).length} characters long; a DNS name has at most ${MAX_HOST}`),
  v.trim(),
  v.toLowerCase(),
  v.check((h) => requestHostProblem(h) === null, (issue) => requestHostProblem(issue.input as string) ?? 'host is not valid'),
);

const Reason = v.pipe(
  v.string('reason must be a string: why the agent needs this'),
  v.trim(),
  v.nonEmpty('reason must say why you need this; a person reads it before deciding'),
  v.maxLength(MAX_REASON, (issue) => `reason is ${(issue.input as string).length} characters long; keep it under ${MAX_REASON}`),
);

const Methods = v.pipe(RouteEntries.methods.wrapped, v.minLength(1, 'methods must name at least one method, or be left out for all of them'));
const Paths = v.pipe(
  v.array(v.pipe(v.string('each path prefix must be a string such as "/v1/"'), v.startsWith('/', 'each path prefix must start with "/"'), v.maxLength(MAX_PATH, `each path prefix must be at most ${MAX_PATH} characters`))),
  v.minLength(1, 'paths must name at least one prefix, or be left out for every path'),
  v.maxLength(MAX_PATHS, `ask for at most ${MAX_PATHS} path prefixes`),
);
/** A credential asked for by name only: the value comes from the host's env when a person approves. */
const Auth = v.strictObject(
  { header: RouteAuthEntries.header, env: RouteAuthEntries.env, format: RouteAuthEntries.format },
  objectMessage('auth is {"header": "x-api-key", "env": "NAME_OF_A_HOST_ENV_VAR", "format"?: "Bearer {value}"}; name the variable, never its value'),
);

/**
 * The message of a strict object's own issues: a key it does not take, a key it needs, or not an
 * object at all, each with what the object is.
 */
function objectMessage(what: string): (issue: v.BaseIssue<unknown>) => string {
  return (issue) => {
    const key = issue.path?.at(-1)?.key;
    if (issue.expected === 'never') return `there is no argument ${JSON.stringify(key)}; ${what}`;
    if (issue.received === 'undefined' && key !== undefined) return `${String(key)} is required; ${what}`;
    return what;
  };
}

export const RequestEgressInput = v.strictObject(
  {
    host: Host,
    reason: Reason,
    methods: v.optional(Methods),
    paths: v.optional(Paths),
    auth: v.optional(Auth),
  },
  objectMessage('request_egress takes an object with host and reason, and optionally methods, paths and auth'),
);
export type RequestEgressInput = v.InferOutput<typeof RequestEgressInput>;

const RequestId = v.pipe(v.string('id must be a string'), v.regex(REQUEST_ID_PATTERN, 'id must be an id that request_egress returned, such as req-0123456789'));
export const GetRequestInput = v.strictObject({ id: RequestId }, objectMessage('get_request takes an object with only an id'));
export const GetRulesInput = v.strictObject({}, objectMessage('get_rules takes no arguments'));

/** A request as the bundle writes it to the queue (and the host reads it back, trusting nothing). */
export const RequestRecordSchema = v.strictObject({
  id: RequestId,
  /** ISO 8601 time the agent asked. */
  time: v.pipe(v.string(), v.isoTimestamp()),
  host: Host,
  reason: Reason,
  methods: v.optional(Methods),
  paths: v.optional(Paths),
  auth: v.optional(Auth),
});
export type RequestRecord = v.InferOutput<typeof RequestRecordSchema>;

/** A person's decision, written by the host next to (not in) the queue. */
export const DecisionRecordSchema = v.strictObject({
  id: RequestId,
  status: v.picklist(['approved', 'denied']),
  time: v.pipe(v.string(), v.isoTimestamp()),
  /** The host user who decided. */
  decidedBy: v.string(),
  /** The person's reason (a denial's, so the agent can adapt). */
  reason: v.optional(v.string()),
  /** The route was also added to the manifest. */
  persisted: v.optional(v.boolean()),
});
export type DecisionRecord = v.InferOutput<typeof DecisionRecordSchema>;

export type RequestStatus = 'pending' | DecisionRecord['status'];

/** The tool input's problems as `path: message` lines (what the agent must fix). */
export function inputProblems(issues: readonly v.BaseIssue<unknown>[]): string[] {
  return issueLines(issues).map((l) => l.replace(/^\(top level\): /, 'arguments: '));
}

/** The route an approval adds: what was asked, nothing more (https on 443, the manifest's defaults). */
export function routeFor(request: Pick<RequestRecord, 'host' | 'methods' | 'paths' | 'auth'>): EgressRoute {
  const route: Record<string, unknown> = { host: request.host };
  if (request.methods) route.methods = [...request.methods];
  if (request.paths) route.paths = [...request.paths];
  if (request.auth) route.auth = { ...request.auth };
  return v.parse(EgressRouteSchema, route);
}

/**
 * Why a request may not ask the gateway to inject `$env`, or null: a bottle asks only for the host
 * variables its manifest names in `"supervise": {"credentials": [...]}` (`"supervise": true` names
 * none). Checked by the server before a request is queued and by the host again at approval.
 */
export function credentialProblem(env: string, allowed: readonly string[]): string | null {
  if (allowed.includes(env)) return null;
  if (allowed.length === 0) {
    return `this bottle may not ask for any credential (its manifest's "supervise" names none), so not for $${env}; ask without auth, or ask the person running the bottle to add ${env} to "supervise": {"credentials": [...]} and launch it again`;
  }
  return `$${env} is not a credential this bottle may ask for; its manifest's "supervise": {"credentials": [...]} allows only ${allowed.join(', ')}`;
}

/**
 * The hosts `pattern` (a route's host) takes in `host` (a route's host too): an exact name, or
 * `*.suffix` over any name below the suffix, also a narrower wildcard (the gateway's matching).
 */
export function hostCovers(pattern: string, host: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === host;
  const suffix = pattern.slice(1);
  if (host.startsWith('*.')) return host.slice(1).endsWith(suffix);
  return host.length > suffix.length && host.endsWith(suffix);
}

/** Two requests ask for the same thing (the duplicate check of request_egress). */
export function sameAsk(a: Pick<RequestRecord, 'host' | 'methods' | 'paths' | 'auth'>, b: Pick<RequestRecord, 'host' | 'methods' | 'paths' | 'auth'>): boolean {
  const key = (r: typeof a) => JSON.stringify([r.host, r.methods ? [...r.methods].sort() : null, r.paths ? [...r.paths].sort() : null, r.auth ? [r.auth.header.toLowerCase(), r.auth.env, r.auth.format ?? null] : null]);
  return key(a) === key(b);
}
