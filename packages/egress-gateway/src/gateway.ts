/**
 * The gateway: an HTTP proxy (the bottle's HTTP_PROXY and HTTPS_PROXY) that terminates every
 * CONNECT tunnel with a certificate from the bottle's CA, decides each request by the routes,
 * injects credentials, scans what goes out, streams what comes back, and logs every decision.
 */
import http from 'node:http';
import type net from 'node:net';
import { type EgressRoute } from '@bot-bottle/core/service';
import { AuditLog, type AuditEntry } from './audit.js';
import { LeafCertificates, loadCa, type LoadedCa } from './ca.js';
import { decideRequest, destinationOf } from './decide.js';
import { listenOn, type ListenAt } from './listen.js';
import { GatewayState, checkRouteChange } from './state.js';
import { tunnelHandler } from './tunnel.js';
import { forwardUpgrade, refuseUpgrade, upgradeProblem } from './upgrade.js';
import { forward, sendRefusal } from './upstream.js';

export interface GatewayOptions {
  /** The bottle's CA: paths to its PEM files, or one already loaded. */
  ca: { cert: string; key: string } | LoadedCa;
  routes: readonly EgressRoute[] | unknown;
  /** Values of the env vars named by routes' `auth.env`, by name. Never written anywhere. */
  secrets?: Record<string, string>;
  /** PEM texts of CAs the gateway trusts for upstreams, beside the system store. */
  extraCaCerts?: readonly string[];
  /** Append-only JSONL audit log; null for none. */
  auditLogPath?: string | null;
  /** An audit log already open for appending (a descriptor), instead of auditLogPath. */
  auditFd?: number;
  /**
   * Where to listen: a TCP port (0 for any) on a host (default 127.0.0.1), or a unix socket; null
   * for nowhere: connections accepted elsewhere are handed in with `accept` (a pool's worker).
   */
  listen?: ListenAt | null;
  /** Called with each audit entry as it is written. */
  onAudit?: (entry: AuditEntry) => void;
  /** How long a CONNECT tunnel may stay silent before its first byte (default 10 s). */
  tunnelFirstByteTimeoutMs?: number;
  /**
   * Run a young-generation GC after every this many body bytes streamed (default 1 MiB; 0: never),
   * so chunks already forwarded are freed before they pile up (see gc.ts).
   */
  gcEveryBytes?: number;
  /**
   * Client connections held at once (default 512). A new connection beyond it closes the one idle
   * the longest, so a bottle that floods its gateway with idle connections cannot stop it answering.
   */
  maxClientConnections?: number;
}

export interface GatewayStats {
  /** Client connections open now (a CONNECT tunnel is the connection it was opened on). */
  clientSockets: number;
  /** Upstream connections open now, in use or idle in the keep-alive pool. */
  upstreamSockets: number;
  requests: number;
  denied: number;
  /** Idle client connections closed to make room for new ones (see maxClientConnections). */
  evictedClients: number;
  /** New client connections refused because every slot was busy. */
  refusedClients: number;
}

export interface Gateway {
  /** The proxy URL for HTTP_PROXY/HTTPS_PROXY when listening on TCP (e.g. http://127.0.0.1:3128). */
  readonly url: string | null;
  readonly port: number | null;
  readonly socketPath: string | null;
  /** The certificate (PEM) the bottle must trust. */
  readonly caCertPem: string;
  routes(): EgressRoute[];
  /**
   * Replaces the routes for every request from now on; rejects with a ServiceError for bad routes.
   * `secrets` adds values for env vars the gateway does not hold yet (a route approved at run time
   * that injects a new credential); a name it holds already keeps its value. Added values are
   * injected, redacted and scanned for like the ones given at start. Resolves once every process
   * of the gateway decides by the new routes.
   */
  setRoutes(routes: unknown, secrets?: Record<string, string>): Promise<EgressRoute[]>;
  stats(): GatewayStats;
  /** Serves a client connection accepted elsewhere (a pool's primary hands them to its workers). */
  accept(socket: net.Socket): void;
  close(): Promise<void>;
}

export { checkRouteChange, checkSecrets, upstreamTrust } from './state.js';

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const ca = 'issuer' in options.ca ? options.ca : await loadCa(options.ca.cert, options.ca.key);
  const leaves = new LeafCertificates(ca);
  const state = new GatewayState({
    routes: options.routes,
    secrets: options.secrets ?? {},
    extraCaCerts: options.extraCaCerts ?? [],
    audit: new AuditLog(options.auditFd ?? options.auditLogPath ?? null, options.onAudit),
    maxClientConnections: options.maxClientConnections ?? 512,
    gcEveryBytes: options.gcEveryBytes ?? 1024 * 1024,
    tunnelFirstByteTimeoutMs: options.tunnelFirstByteTimeoutMs ?? 10_000,
  });
  const { slots, tunnels, outerOf } = state;

  // ---- plain requests (inside tunnels and absolute-form) --------------------------------------

  function onRequest(req: http.IncomingMessage, res: http.ServerResponse) {
    const started = Date.now();
    const method = req.method ?? 'GET';
    const client = state.clientOf(req.socket);
    slots.start(client);
    res.once('close', () => slots.end(client));
    const tunnel = tunnels.get(req.socket);
    if (!tunnel && req.url === '/__bottle/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, service: 'egress-gateway', routes: state.routes.length }));
      return;
    }
    const dest = destinationOf(req.url ?? '', tunnel, req.headers.host);
    if ('reason' in dest) {
      sendRefusal(res, method, req.url ?? '', dest);
      state.log({ method, host: dest.logHost, path: req.url ?? '', status: dest.status, bytes: 0, bytesUp: 0, decision: 'deny', rule: dest.rule, reason: dest.reason }, started);
      req.resume();
      return;
    }
    const d = decideRequest(state, dest, method, req.rawHeaders);
    if ('reason' in d) {
      sendRefusal(res, method, dest.display, d);
      state.log({ method, host: dest.host, path: dest.target, status: d.status, bytes: 0, bytesUp: 0, decision: 'deny', rule: d.rule, reason: d.reason }, started);
      // The rest of an upload is not wanted: close the connection after the answer.
      if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) res.shouldKeepAlive = false;
      req.resume();
      return;
    }
    forward(state, req, res, d, started);
  }

  const tunnelsIn = tunnelHandler(state, leaves, (socket) => server.emit('connection', socket));

  // ---- WebSocket upgrades ---------------------------------------------------------------------

  function onUpgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer) {
    const started = Date.now();
    const method = req.method ?? 'GET';
    socket.on('error', () => socket.destroy());
    // An upgraded connection is busy until it closes.
    slots.start(state.clientOf(socket));
    const dest = destinationOf(req.url ?? '', tunnels.get(req.socket), req.headers.host);
    if ('reason' in dest) return refuseUpgrade(state, socket, method, req.url ?? '', req.url ?? '', dest, started);
    const d = decideRequest(state, dest, method, req.rawHeaders, { upgrade: true });
    if ('reason' in d) return refuseUpgrade(state, socket, method, dest.display, dest.target, d, started);
    const problem = upgradeProblem(req);
    if (problem) return refuseUpgrade(state, socket, method, dest.display, dest.target, { status: 403, reason: problem, hintHost: null, rule: d.rule, logHost: dest.host }, started);
    forwardUpgrade(state, socket, head, d, started);
  }

  // ---- the server -----------------------------------------------------------------------------

  const server = http.createServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 30_000, noDelay: true }, onRequest);
  server.on('connection', (s: net.Socket) => {
    // A tunnel's inner socket is the same client connection: it is not counted twice.
    if (!outerOf.has(s) && !tunnels.has(s)) slots.add(s);
  });
  server.on('connect', tunnelsIn.onConnect);
  server.on('upgrade', onUpgrade);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    if (socket.writable && err.code !== 'ECONNRESET') socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });

  const listen = options.listen === undefined ? { port: 0, host: '127.0.0.1' } : options.listen;
  const at = listen ? await listenOn(server, listen) : { url: null, port: null, socketPath: null };

  return {
    ...at,
    caCertPem: ca.certPem,
    routes: () => structuredClone([...state.routes]),
    setRoutes(next: unknown, added: Record<string, string> = {}) {
      try {
        const change = checkRouteChange(next, added, state.secrets);
        // Requests from now on decide by the new routes, and scan for and redact new values too.
        state.apply(change);
        return Promise.resolve(structuredClone(change.routes));
      } catch (e) {
        return Promise.reject(e as Error);
      }
    },
    accept(socket: net.Socket) {
      server.emit('connection', socket);
    },
    stats: () => ({ clientSockets: slots.size, upstreamSockets: state.upstreamSockets.size, ...state.counters, evictedClients: slots.evicted, refusedClients: slots.refused }),
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const s of slots.sockets()) s.destroy();
      });
      state.destroy();
      await state.audit.close();
    },
  };
}
