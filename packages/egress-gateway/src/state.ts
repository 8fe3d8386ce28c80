/**
 * The one state object a gateway process shares between its parts (connections and TLS in
 * tunnel.ts, the upstream leg in upstream.ts, WebSocket upgrades in upgrade.ts): the rules, the
 * DLP scanner, the redactor and the secrets they are made from, the audit log, the pools and the
 * counters. Every part holds a reference to it, so a route change replaces the fields once and
 * every request from then on sees the new ones; nothing is copied into per-part contexts.
 */
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import tls from 'node:tls';
import { ServiceError, type EgressRoute } from '@bot-bottle/core/service';
import { guardedLookup } from './address-guard.js';
import type { AuditEntry, AuditLog } from './audit.js';
import { ClientSlots } from './client-slots.js';
import type { Tunnel } from './decide.js';
import { DlpScanner, MIN_SECRET_LENGTH } from './dlp.js';
import { GcPacer } from './gc.js';
import { Redactor } from './redact.js';
import { RuleSet, parseRoutes } from './rules.js';

export type LogEntry = Omit<AuditEntry, 'time' | 'source' | 'durationMs'>;

export interface Agents {
  https: https.Agent;
  http: http.Agent;
  /** For names whose DNS answers are checked (no `to`): never shared with the ones above. */
  guardedHttps: https.Agent;
  guardedHttp: http.Agent;
}

/**
 * The upstream trust store: Node's default store (its bundled roots, the file NODE_EXTRA_CA_CERTS
 * names, and the system store when Node runs with --use-system-ca or NODE_USE_SYSTEM_CA=1) plus
 * `extra`, in one TLS context made once. Node holds the default store natively, parsed once per
 * process; the context adds `extra` to its own copy, so no other context trusts them. Building
 * the same list in JavaScript instead (tls.rootCertificates and tls.getCACertificates('system'),
 * ~580 PEM texts kept in Node's caches, then parsed again) cost ~4 MiB of an idle gateway's RSS.
 */
export function upstreamTrust(extra: readonly string[]): tls.SecureContext {
  const context = tls.createSecureContext();
  const native = (context as unknown as { context?: { addCACert?: (pem: string) => void } }).context;
  if (typeof native?.addCACert !== 'function') {
    // A Node without the native method: the same store from its public list.
    return tls.createSecureContext({ ca: [...tls.getCACertificates('default'), ...extra] });
  }
  for (const pem of extra) native.addCACert(pem);
  return context;
}

// An env var name, and never one that names a property every object has.
const SECRET_NAME = /^(?!__proto__$|constructor$|prototype$)[A-Za-z_][A-Za-z0-9_]*$/;
// What an HTTP header value may hold (Node refuses anything else, from inside a request handler).
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Why `value` cannot be injected as a header value, or null. */
export function secretValueProblem(value: unknown): string | null {
  if (typeof value !== 'string' || value === '') return 'it is empty';
  // DLP and the redactor do not look for shorter values (they would match ordinary text), so a
  // short one could come back to the bottle in an echo. No real credential is this short.
  if (value.length < MIN_SECRET_LENGTH) return `it is shorter than ${MIN_SECRET_LENGTH} characters, too short to be told apart in what goes out and comes back`;
  if (value.length > 64 * 1024) return 'it is longer than 64 KiB';
  if (!HEADER_VALUE.test(value)) return 'it holds a line break or another character a header value cannot (it would end the header early)';
  return null;
}

/** A ServiceError when a route injects a value the gateway does not hold, or one no header can carry. */
export function checkSecrets(routes: readonly EgressRoute[], secrets: Readonly<Record<string, string>>): void {
  const missing = [...new Set(routes.flatMap((r) => (r.auth && !Object.hasOwn(secrets, r.auth.env) ? [r.auth.env] : [])))];
  if (missing.length) {
    throw new ServiceError(`egress gateway: no value for ${missing.join(', ')}, which a route injects`, {
      suggestions: [`Start the gateway with ${missing.join(', ')} in its environment (and named in its config's "secretEnv").`],
    });
  }
  for (const name of new Set(routes.flatMap((r) => (r.auth ? [r.auth.env] : [])))) {
    const problem = secretValueProblem(secrets[name]);
    if (problem) throw new ServiceError(`egress gateway: the value of ${name} cannot be injected: ${problem}`, { kind: 'config', suggestions: [`Set ${name} to the credential alone, on one line.`] });
  }
}

/**
 * Checks a change of routes asked for at run time: the routes, and the values `added` brings for
 * the ones that inject a credential the gateway does not hold yet. Returns the parsed routes and
 * the values to add (only those a route injects); throws a ServiceError naming the problem.
 */
export function checkRouteChange(next: unknown, added: Record<string, string>, held: Readonly<Record<string, string>>): { routes: EgressRoute[]; fresh: [string, string][] } {
  const parsed = parseRoutes(next);
  const holds = (name: string) => Object.hasOwn(held, name);
  // Only values a route injects are kept.
  const fresh = Object.entries(added).filter(([name]) => !holds(name) && parsed.some((r) => r.auth?.env === name));
  for (const [name, value] of fresh) {
    if (!SECRET_NAME.test(name) || secretValueProblem(value) !== null) {
      throw new ServiceError(`egress gateway: the value sent for ${SECRET_NAME.test(name) ? name : 'a secret'} is not a usable secret`, {
        kind: 'config',
        suggestions: ['Send {"secrets": {"ENV_NAME": "value"}} with a value of 8 characters to 64 KiB, on one line.'],
      });
    }
  }
  const missing = [...new Set(parsed.flatMap((r) => (r.auth && !holds(r.auth.env) && !fresh.some(([n]) => n === r.auth!.env) ? [r.auth.env] : [])))];
  if (missing.length) {
    throw new ServiceError(`egress gateway: no value for ${missing.join(', ')}, which a route injects`, {
      kind: 'config',
      suggestions: [`Send the value with the routes: {"routes": [...], "secrets": {"${missing[0]}": "..."}}.`],
    });
  }
  return { routes: parsed, fresh };
}

export interface GatewayStateOptions {
  routes: unknown;
  secrets: Record<string, string>;
  extraCaCerts: readonly string[];
  audit: AuditLog;
  maxClientConnections: number;
  gcEveryBytes: number;
  tunnelFirstByteTimeoutMs: number;
}

export class GatewayState {
  routes: EgressRoute[];
  rules: RuleSet;
  dlp: DlpScanner;
  redactor: Redactor;
  /** Values of the env vars routes inject, by name. Never written anywhere. */
  readonly secrets: Record<string, string>;
  readonly audit: AuditLog;
  /**
   * One TLS context holds the upstream trust store for every upstream connection. Passing the CA
   * list as `ca` instead would make Node parse it on each connection and, worse, put the whole
   * list (hundreds of KB) into https.Agent's pool key, rebuilt on every request.
   */
  readonly upstreamTls: tls.SecureContext;
  readonly agents: Agents;
  /** The tunnel a socket carries (the TLS socket the gateway terminated, or the raw one for plain HTTP). */
  readonly tunnels = new WeakMap<net.Socket, Tunnel>();
  /** The client connection a tunnel's inner socket belongs to (for the connection bound). */
  readonly outerOf = new WeakMap<net.Socket, net.Socket>();
  readonly slots: ClientSlots;
  readonly upstreamSockets = new Set<net.Socket>();
  readonly counters = { requests: 0, denied: 0 };
  readonly pacer: GcPacer;
  readonly firstByteTimeoutMs: number;

  constructor(o: GatewayStateOptions) {
    this.secrets = { ...o.secrets };
    this.routes = parseRoutes(o.routes);
    checkSecrets(this.routes, this.secrets);
    this.rules = new RuleSet(this.routes);
    this.dlp = new DlpScanner(this.secrets);
    this.redactor = new Redactor(this.dlp.secretNeedles.map((n) => n.text));
    this.audit = o.audit;
    this.upstreamTls = upstreamTrust(o.extraCaCerts);
    // Two pools: connections made by a `to` (the manifest's chosen origin) are never reused for a
    // request whose name's DNS answers must be checked, and the other way round.
    this.agents = {
      https: new https.Agent({ keepAlive: true, maxFreeSockets: 64, secureContext: this.upstreamTls, timeout: 120_000 }),
      http: new http.Agent({ keepAlive: true, maxFreeSockets: 64, timeout: 120_000 }),
      guardedHttps: new https.Agent({ keepAlive: true, maxFreeSockets: 64, secureContext: this.upstreamTls, timeout: 120_000, lookup: guardedLookup }),
      guardedHttp: new http.Agent({ keepAlive: true, maxFreeSockets: 64, timeout: 120_000, lookup: guardedLookup } as http.AgentOptions),
    };
    this.slots = new ClientSlots(o.maxClientConnections);
    this.pacer = new GcPacer(o.gcEveryBytes);
    this.firstByteTimeoutMs = o.tunnelFirstByteTimeoutMs;
  }

  /** The client connection `s` belongs to (a tunnel's inner socket counts as its outer one). */
  clientOf(s: net.Socket): net.Socket {
    return this.outerOf.get(s) ?? s;
  }

  log(entry: LogEntry, started: number): void {
    this.counters.requests++;
    if (entry.decision === 'deny') this.counters.denied++;
    this.audit.write({ time: new Date(started).toISOString(), source: 'egress', ...entry, durationMs: Date.now() - started });
  }

  trackUpstream(s: net.Socket): void {
    if (this.upstreamSockets.has(s)) return;
    this.upstreamSockets.add(s);
    s.once('close', () => this.upstreamSockets.delete(s));
  }

  /** Applies a checked route change: new rules, and new values scanned for and redacted from now on. */
  apply(change: { routes: EgressRoute[]; fresh: [string, string][] }): void {
    if (change.fresh.length) {
      for (const [name, value] of change.fresh) this.secrets[name] = value;
      this.dlp = new DlpScanner(this.secrets);
      this.redactor = new Redactor(this.dlp.secretNeedles.map((n) => n.text));
    }
    this.routes = change.routes;
    this.rules = new RuleSet(change.routes);
  }

  destroy(): void {
    for (const a of Object.values(this.agents)) a.destroy();
    for (const s of this.upstreamSockets) s.destroy();
  }
}
