/**
 * Which requests the bottle may make: the manifest's egress routes, default deny.
 */
import net from 'node:net';
import * as v from 'valibot';
import { BottleError, EXIT_USAGE, EgressRouteSchema, formatPath, type EgressRoute } from '@bot-bottle/core';

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

export function hostMatches(pattern: string, host: string): boolean {
  const p = normalizeHost(pattern);
  if (p.startsWith('*.')) {
    const suffix = p.slice(1);
    return host.length > suffix.length && host.endsWith(suffix);
  }
  return p === host;
}

/** True when a path is already in the form a server reads it, so a prefix check means what it says. */
function pathIsNormal(pathname: string): boolean {
  if (/%2f|%5c|\\/i.test(pathname)) return false;
  try {
    return new URL(pathname, 'http://x').pathname === pathname;
  } catch {
    return false;
  }
}

function describeRoute(route: EgressRoute, index: number): string {
  return `routes[${index}] ${route.host}`;
}

/**
 * Checks and normalises routes from outside (a config file, a supervise approval).
 * Throws a BottleError naming each problem by its path.
 */
export function parseRoutes(input: unknown, where = 'routes'): EgressRoute[] {
  const result = v.safeParse(v.array(EgressRouteSchema), input);
  if (result.success) return result.output;
  const details = result.issues.map((issue) => {
    const segs = [where, ...(issue.path ?? []).map((p) => p.key as string | number)];
    return `${formatPath(segs)}: ${issue.message}`;
  });
  throw new BottleError('USAGE', `egress routes are not valid (${details.length} problem${details.length === 1 ? '' : 's'})`, {
    details,
    suggestions: ['Each route is {"host": "api.example.com" or "*.example.com", "methods"?: [...], "paths"?: ["/v1/"], "to"?: "https://host:port", "auth"?: {"header", "env", "format"?}}.'],
    exit: EXIT_USAGE,
  });
}

export class RuleSet {
  constructor(readonly routes: readonly EgressRoute[]) {}

  /** The first route that allows `method` on `host` + `pathname`, or why none does. */
  decide(host: string, method: string, pathname: string): RouteDecision {
    const h = normalizeHost(host);
    const forHost = this.routes.map((route, index) => ({ route, index })).filter(({ route }) => hostMatches(route.host, h));
    if (forHost.length === 0) return { allowed: false, reason: `no egress route allows host ${h}` };
    const m = method.toUpperCase();
    const misses: string[] = [];
    for (const { route, index } of forHost) {
      if (route.methods && !route.methods.includes(m as (typeof route.methods)[number])) {
        misses.push(`${describeRoute(route, index)} allows methods ${route.methods.join(', ')} only`);
        continue;
      }
      if (route.paths) {
        if (!pathIsNormal(pathname)) {
          misses.push(`${describeRoute(route, index)} limits paths, and ${JSON.stringify(pathname)} has dot segments or encoded slashes`);
          continue;
        }
        if (!route.paths.some((p) => pathname.startsWith(p))) {
          misses.push(`${describeRoute(route, index)} allows paths ${route.paths.join(', ')} only`);
          continue;
        }
      }
      return { allowed: true, route, index, rule: describeRoute(route, index) };
    }
    return { allowed: false, reason: `no egress route allows ${m} ${h}${pathname}: ${misses.join('; ')}` };
  }
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
