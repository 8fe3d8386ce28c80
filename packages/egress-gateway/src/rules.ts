/**
 * Which requests the bottle may make: the manifest's egress routes, default deny.
 */
import net from 'node:net';
import * as v from 'valibot';
import { EgressRouteSchema, ServiceError, issueLines, type EgressRoute } from '@bot-bottle/core/service';
import { pathAmbiguity, splitTarget } from './paths.js';

export type { EgressRoute };

export type RouteDecision =
  | { allowed: true; route: EgressRoute; index: number; rule: string }
  | { allowed: false; reason: string };

/** Lower case, without a trailing dot: the form every comparison of host names uses. */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  while (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/**
 * True for anything a client would read as an IP address: dotted, bracketed or bare IPv6, and the
 * forms URL parsers turn into IPv4 (`2130706433`, `0x7f.1`, `127.1`).
 */
export function isIpLiteral(host: string): boolean {
  const h = normalizeHost(host);
  if (h === '' || net.isIP(h) !== 0) return true;
  if (h.includes(':')) return true;
  const last = h.split('.').pop() ?? '';
  if (/^(0x[0-9a-f]*|[0-9]+)$/.test(last)) return true;
  try {
    return net.isIP(new URL(`http://${h}/`).hostname) !== 0;
  } catch {
    return false;
  }
}

/**
 * Why `host` (normalised) cannot be a destination, or null: every host the bottle names (CONNECT
 * authority, absolute URL, Host header) passes this before anything is looked up or signed.
 */
export function destinationProblem(host: string): string | null {
  if (isIpLiteral(host)) return `IP-literal destination ${host || '(empty)'} is refused; use a DNS name`;
  if (host.length > 253 || !/^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/.test(host)) {
    return `${JSON.stringify(host)} is not a DNS name (letters, digits, "-" and "_" in dot-separated labels of 1-63 characters)`;
  }
  return null;
}

/** `host` must already be a valid DNS name (destinationProblem), so no empty label can match. */
export function hostMatches(pattern: string, host: string): boolean {
  const p = normalizeHost(pattern);
  if (p.startsWith('*.')) {
    const suffix = p.slice(1);
    return host.length > suffix.length && host.endsWith(suffix);
  }
  return p === host;
}

export type Scheme = 'http' | 'https';

const DEFAULT_PORT: Record<Scheme, number> = { https: 443, http: 80 };
/** Methods that echo the request back (credential included): allowed only where a route names them. */
const ECHO_METHODS = new Set(['TRACE', 'TRACK']);

export function routeSchemes(route: EgressRoute): readonly Scheme[] {
  return route.schemes ?? ['https'];
}

/** The ports a route lets the bottle address for `scheme` (or for any of its schemes). */
export function routePorts(route: EgressRoute, scheme?: Scheme): readonly number[] {
  if (route.ports) return route.ports;
  return (scheme ? [scheme] : routeSchemes(route)).map((s) => DEFAULT_PORT[s]);
}

function describeRoute(route: EgressRoute, index: number): string {
  return `routes[${index}] ${route.host}`;
}

/**
 * Checks and normalises routes from outside (a config file, a supervise approval).
 * Throws a ServiceError (kind `config`) naming each problem by its path.
 */
export function parseRoutes(input: unknown, where = 'routes'): EgressRoute[] {
  const result = v.safeParse(v.array(EgressRouteSchema), input);
  if (result.success) return result.output;
  const details = issueLines(result.issues, [where]);
  throw new ServiceError(`egress routes are not valid (${details.length} problem${details.length === 1 ? '' : 's'})`, {
    kind: 'config',
    details,
    suggestions: ['Each route is {"host": "api.example.com" or "*.example.com", "methods"?: [...], "paths"?: ["/v1/"], "schemes"?: ["https", "http"], "ports"?: [443], "to"?: "https://host:port", "auth"?: {"header", "env", "format"?, "cleartext"?}}.'],
  });
}

/** What the bottle asked for, once its destination is known. */
export interface RequestFacts {
  /** What the bottle spoke: TLS through a tunnel (https) or plain HTTP. */
  scheme: Scheme;
  host: string;
  port: number;
  method: string;
  /** Origin-form target: path and query, exactly as it will be forwarded. */
  target: string;
}

/** Hosts whose matching routes a RuleSet remembers (it is replaced, never changed, when routes change). */
const HOST_CACHE = 1024;

export class RuleSet {
  private readonly byHost = new Map<string, readonly { route: EgressRoute; index: number }[]>();

  constructor(readonly routes: readonly EgressRoute[]) {}

  /** The routes whose host pattern matches `host` (normalised), in order; worked out once per host. */
  private forHost(host: string): readonly { route: EgressRoute; index: number }[] {
    const hit = this.byHost.get(host);
    if (hit) return hit;
    const found = this.routes.map((route, index) => ({ route, index })).filter(({ route }) => hostMatches(route.host, host));
    if (this.byHost.size >= HOST_CACHE) this.byHost.clear();
    this.byHost.set(host, found);
    return found;
  }

  /**
   * Whether a CONNECT to host:port may open at all: some route allows the host on that port.
   * A refused CONNECT gets no certificate signed for its name.
   */
  decideConnect(host: string, port: number): RouteDecision {
    const h = normalizeHost(host);
    const forHost = this.forHost(h);
    if (forHost.length === 0) return { allowed: false, reason: `no egress route allows host ${h}` };
    const hit = forHost.find(({ route }) => routePorts(route).includes(port));
    if (!hit) return { allowed: false, reason: `no egress route allows port ${port} of ${h}: ${forHost.map(({ route, index }) => `${describeRoute(route, index)} allows ports ${routePorts(route).join(', ')} only`).join('; ')}` };
    return { allowed: true, route: hit.route, index: hit.index, rule: describeRoute(hit.route, hit.index) };
  }

  /** The first route that allows the request, or why none does. */
  decide(facts: RequestFacts): RouteDecision {
    const h = normalizeHost(facts.host);
    const forHost = this.forHost(h);
    if (forHost.length === 0) return { allowed: false, reason: `no egress route allows host ${h}` };
    const m = facts.method.toUpperCase();
    const { path } = splitTarget(facts.target);
    const misses: string[] = [];
    for (const { route, index } of forHost) {
      const name = describeRoute(route, index);
      if (!routeSchemes(route).includes(facts.scheme)) {
        misses.push(facts.scheme === 'http' ? `${name} allows https only (plain http needs "schemes": ["http"] on the route)` : `${name} allows plain http only`);
        continue;
      }
      if (!routePorts(route, facts.scheme).includes(facts.port)) {
        misses.push(`${name} allows ${facts.scheme} on ports ${routePorts(route, facts.scheme).join(', ')} only`);
        continue;
      }
      if (route.methods ? !route.methods.includes(m as (typeof route.methods)[number]) : ECHO_METHODS.has(m)) {
        misses.push(route.methods ? `${name} allows methods ${route.methods.join(', ')} only` : `${name} does not name ${m} in "methods" (${m} echoes the request, injected credentials included)`);
        continue;
      }
      if (route.paths) {
        const ambiguity = pathAmbiguity(path);
        if (ambiguity) {
          misses.push(`${name} limits paths, and ${ambiguity}`);
          continue;
        }
        if (!route.paths.some((p) => pathPrefixMatches(p, path))) {
          misses.push(`${name} allows paths ${route.paths.join(', ')} only`);
          continue;
        }
      }
      return { allowed: true, route, index, rule: name };
    }
    return { allowed: false, reason: `no egress route allows ${m} ${facts.scheme}://${h}:${facts.port}${path}: ${misses.join('; ')}` };
  }
}

const segmentPatterns = new Map<string, RegExp>();

/**
 * Whether `path` starts with the route's path prefix. A segment that is just `*` stands for one
 * whole non-empty segment (the github preset's clone route: owner, repo, then git-upload-pack);
 * the path was already refused if it is ambiguous (dot segments, encoded slashes), so a segment is
 * exactly what a server reads as one. A `*` inside a longer segment is a literal star.
 */
export function pathPrefixMatches(prefix: string, path: string): boolean {
  if (!prefix.includes('*')) return path.startsWith(prefix);
  let re = segmentPatterns.get(prefix);
  if (!re) {
    re = new RegExp('^' + prefix.split('/').map((seg) => (seg === '*' ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/'));
    if (segmentPatterns.size < 1000) segmentPatterns.set(prefix, re);
  }
  return re.test(path);
}

/** The body of a 403: what was refused, why, and the two ways to allow it. */
export function refusalBody(method: string, url: string, reason: string, host: string | null): string {
  const lines = [`bot-bottle egress gateway refused ${method} ${url}`, `Reason: ${reason}.`, ''];
  if (host) {
    lines.push(
      'To allow it:',
      `  - add a route for it to this bottle in the manifest (bottle.json), e.g.`,
      `      "egress": { "routes": [ { "host": ${JSON.stringify(host)} } ] }`,
      '    and start the agent again; or',
      '  - ask for it through the supervise tool (request an egress route, with your reason);',
      '    a person approves or denies it, and an approved route applies without a restart.',
    );
  } else {
    lines.push('This is refused whatever the routes say; address hosts by their DNS name through this proxy.');
  }
  return lines.join('\n') + '\n';
}
