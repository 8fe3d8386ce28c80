/**
 * The gateway's decisions, as pure functions of what the bottle sent: where a request goes, whether
 * a route allows it, what DLP finds in its URL and headers, and what the upstream receives. No
 * sockets here, so every case is testable on its own (test/decide.test.ts).
 */
import net from 'node:net';
import { authHeaderProblem, type EgressRoute } from '@bot-bottle/core/service';
import type { DlpFinding, DlpScanner } from './dlp.js';
import { filterHeaders, framingProblem, hopHeaders } from './headers.js';
import { targetProblem } from './paths.js';
import { RuleSet, destinationProblem, normalizeHost, type Scheme } from './rules.js';

/** A CONNECT tunnel the gateway accepted: where the bottle said it goes, and what it speaks inside. */
export interface Tunnel {
  host: string;
  port: number;
  tls: boolean;
}

/** Where a request goes, as the bottle addressed it. */
export interface Destination {
  scheme: Scheme;
  host: string;
  port: number;
  /** Origin-form request target: path and query, forwarded exactly as checked. */
  target: string;
  /** What the bottle asked for, for messages and the log. */
  display: string;
}

export interface Refusal {
  status: number;
  reason: string;
  /** The host a route could allow (for the "to allow it" hint), or null when no route can. */
  hintHost: string | null;
  rule: string | null;
  /** The host for the audit line. */
  logHost: string;
}

/** host[:port] (IPv6 in brackets); null when it is not that shape or the port is out of range. */
export function splitHostPort(authority: string, defaultPort: number): { host: string; port: number } | null {
  const m = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(authority.trim());
  if (!m) return null;
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { host: normalizeHost(m[1]!), port };
}

// What an HTTP header value may hold; anything else could end the header early or be refused by Node.
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function refuse(status: number, reason: string, logHost = '', hintHost: string | null = null, rule: string | null = null): Refusal {
  return { status, reason, hintHost, rule, logHost };
}

/**
 * Where a request goes: from its tunnel (whose Host header must name the tunnel's host), or from
 * its absolute http:// URL. Every host is checked as a DNS name before anything else looks at it.
 */
export function destinationOf(url: string, tunnel: Tunnel | undefined, hostHeader: string | undefined): Destination | Refusal {
  if (tunnel) {
    const scheme: Scheme = tunnel.tls ? 'https' : 'http';
    const problem = targetProblem(url);
    if (problem) return refuse(400, `${problem} (inside a tunnel a request uses an origin-form target, /path)`, tunnel.host);
    const parsed = hostHeader ? splitHostPort(hostHeader, tunnel.port) : null;
    if (!parsed) return refuse(400, 'the request has no valid Host header', tunnel.host);
    if (parsed.host !== tunnel.host) return refuse(403, `Host header ${parsed.host} does not match the CONNECT host ${tunnel.host} (domain fronting)`, tunnel.host);
    const defaultPort = tunnel.tls ? 443 : 80;
    const authority = tunnel.port === defaultPort ? tunnel.host : `${tunnel.host}:${tunnel.port}`;
    return { scheme, host: tunnel.host, port: tunnel.port, target: url, display: `${scheme}://${authority}${url}` };
  }
  if (!/^http:\/\//i.test(url)) {
    if (/^https:\/\//i.test(url)) return refuse(400, 'send https:// URLs through a CONNECT tunnel (set HTTPS_PROXY to this proxy)');
    return refuse(400, 'this is a proxy: send absolute http:// URLs, or CONNECT for https');
  }
  // The authority is read as sent, not through a URL parser that would rewrite it (IDNA, dots,
  // numeric forms): what is checked is what the bottle wrote.
  const rest = url.slice('http://'.length);
  const end = rest.search(/[/?#]/);
  const authority = end === -1 ? rest : rest.slice(0, end);
  if (authority.includes('@')) return refuse(403, 'credentials in the URL are refused');
  const hp = splitHostPort(authority, 80);
  if (!hp) return refuse(400, `the URL's host and port ${JSON.stringify(authority)} are not valid`);
  const hostProblem = destinationProblem(hp.host);
  if (hostProblem) return refuse(403, hostProblem, hp.host);
  let target = end === -1 ? '/' : rest.slice(end);
  if (target.startsWith('?')) target = `/${target}`;
  const problem = targetProblem(target);
  if (problem) return refuse(400, problem, hp.host);
  return { scheme: 'http', host: hp.host, port: hp.port, target, display: url };
}

/** Where the gateway connects for an allowed request. */
export interface Upstream {
  scheme: Scheme;
  host: string;
  port: number;
  /** SNI for https (none for an IP address). */
  servername: string | undefined;
  /** The name's DNS answers must not be loopback, link-local or metadata (address-guard.ts): true unless a `to` chose the origin. */
  guardAddresses: boolean;
}

/** A route's `to` parsed once (routes are replaced, never changed, so the route object is the key). */
const parsedTo = new WeakMap<EgressRoute, Readonly<Upstream>>();

export function upstreamFor(route: EgressRoute, dest: Destination): Readonly<Upstream> {
  if (!route.to) return { scheme: dest.scheme, host: dest.host, port: dest.port, servername: dest.host, guardAddresses: true };
  let up = parsedTo.get(route);
  if (!up) {
    const u = new URL(route.to);
    const scheme: Scheme = u.protocol === 'https:' ? 'https' : 'http';
    const host = u.hostname.replace(/^\[|\]$/g, '');
    up = Object.freeze({ scheme, host, port: Number(u.port || (scheme === 'https' ? 443 : 80)), servername: net.isIP(host) ? undefined : host, guardAddresses: false });
    parsedTo.set(route, up);
  }
  return up;
}

export interface Allowed {
  dest: Destination;
  route: EgressRoute;
  rule: string;
  upstream: Readonly<Upstream>;
  /** Raw header list for the upstream: hop-by-hop and Host dropped, Host set, credential injected. */
  headers: string[];
  /** The injected credential's header (lower case), or null. */
  authHeader: string | null;
}

export interface DecideContext {
  rules: RuleSet;
  dlp: DlpScanner;
  /** Values of the env vars routes inject, by name. */
  secrets: Readonly<Record<string, string>>;
}

/** Decides one request: its route, DLP on URL, header names and values, framing, the upstream and its headers. */
export function decideRequest(ctx: DecideContext, dest: Destination, method: string, rawHeaders: readonly string[], opts: { upgrade?: boolean } = {}): Allowed | Refusal {
  const decision = ctx.rules.decide({ scheme: dest.scheme, host: dest.host, port: dest.port, method, target: dest.target });
  const authHeader = decision.allowed && decision.route.auth ? decision.route.auth.header.toLowerCase() : null;
  const scan = { routed: decision.allowed };
  // The host is scanned too: under a wildcard route its labels are the agent's to choose (and to
  // carry data in, through the upstream's DNS).
  const finding: DlpFinding | null =
    ctx.dlp.scanText(dest.host, 'host name', scan) ?? ctx.dlp.scanUrl(dest.target, scan) ?? ctx.dlp.scanHeaders(rawHeaders, new Set(authHeader ? [authHeader] : []), scan);
  if (finding) return refuse(403, `dlp: ${finding.kind} in the ${finding.where}`, dest.host, null, decision.allowed ? decision.rule : null);
  if (!decision.allowed) return refuse(403, decision.reason, dest.host, dest.host);
  const framing = framingProblem(rawHeaders);
  if (framing) return refuse(403, framing, dest.host, null, decision.rule);
  const route = decision.route;
  const upstream = upstreamFor(route, dest);
  if (route.auth && upstream.scheme === 'http' && route.auth.cleartext !== true) {
    return refuse(403, `${decision.rule} would send its credential over plain http, and its auth does not say "cleartext": true`, dest.host, null, decision.rule);
  }
  const drop = hopHeaders(rawHeaders);
  drop.add('host');
  if (authHeader) drop.add(authHeader);
  if (opts.upgrade) {
    // No compression extension: a compressed WebSocket frame could not be scanned.
    drop.add('sec-websocket-extensions');
  }
  if (route.auth) {
    // A compressed response could not be scanned for the credential it might echo.
    drop.add('accept-encoding');
  }
  const headers = filterHeaders(rawHeaders, drop);
  const defaultPort = upstream.scheme === 'https' ? 443 : 80;
  const hostName = upstream.host.includes(':') ? `[${upstream.host}]` : upstream.host;
  headers.unshift('Host', upstream.port === defaultPort ? hostName : `${hostName}:${upstream.port}`);
  if (route.auth) {
    // Checked where routes are parsed; again here, since an injected name that frames or routes
    // the request (content-length, transfer-encoding, host...) would let a body go out unframed.
    if (authHeaderProblem(route.auth.header)) return refuse(502, `${decision.rule} injects a header that frames or routes the request; the gateway refuses to send it`, dest.host, null, decision.rule);
    headers.push('Accept-Encoding', 'identity');
    const value = ctx.secrets[route.auth.env];
    if (value === undefined) return refuse(502, `the gateway has no value for ${route.auth.env}`, dest.host, null, decision.rule);
    const injected = (route.auth.format ?? '{value}').replaceAll('{value}', value);
    if (!HEADER_VALUE.test(injected)) return refuse(502, `the value ${decision.rule} injects cannot be a header value (a line break or control character)`, dest.host, null, decision.rule);
    headers.push(route.auth.header, injected);
  }
  return { dest, route, rule: decision.rule, upstream, headers, authHeader };
}
