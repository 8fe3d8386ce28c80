/**
 * The gateway: an HTTP proxy (the bottle's HTTP_PROXY and HTTPS_PROXY) that terminates every
 * CONNECT tunnel with a certificate from the bottle's CA, decides each request by the routes,
 * injects credentials, scans what goes out, streams what comes back, and logs every decision.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { rm } from 'node:fs/promises';
import { BottleError, type EgressRoute } from '@bot-bottle/core';
import { AuditLog, type AuditEntry } from './audit.js';
import { LeafCertificates, loadCa, type LoadedCa } from './ca.js';
import { DlpError, DlpScanner, type DlpFinding } from './dlp.js';
import { GcPacer } from './gc.js';
import { RuleSet, isIpLiteral, normalizeHost, parseRoutes, refusalBody } from './rules.js';

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
  /** Where to listen: a TCP port (0 for any) on a host (default 127.0.0.1), or a unix socket. */
  listen?: { port?: number; host?: string } | { socket: string };
  /** Called with each audit entry as it is written. */
  onAudit?: (entry: AuditEntry) => void;
  /** How long a CONNECT tunnel may stay silent before its first byte (default 10 s). */
  tunnelFirstByteTimeoutMs?: number;
  /**
   * Run a young-generation GC after every this many body bytes streamed (default 1 MiB; 0: never),
   * so chunks already forwarded are freed before they pile up (see gc.ts).
   */
  gcEveryBytes?: number;
}

export interface GatewayStats {
  /** Client connections open now (a CONNECT tunnel is the connection it was opened on). */
  clientSockets: number;
  /** Upstream connections open now, in use or idle in the keep-alive pool. */
  upstreamSockets: number;
  requests: number;
  denied: number;
}

export interface Gateway {
  /** The proxy URL for HTTP_PROXY/HTTPS_PROXY when listening on TCP (e.g. http://127.0.0.1:3128). */
  readonly url: string | null;
  readonly port: number | null;
  readonly socketPath: string | null;
  /** The certificate (PEM) the bottle must trust. */
  readonly caCertPem: string;
  routes(): EgressRoute[];
  /** Replaces the routes for every request from now on; throws a BottleError for bad routes. */
  setRoutes(routes: unknown): EgressRoute[];
  stats(): GatewayStats;
  close(): Promise<void>;
}

interface Tunnel {
  host: string;
  port: number;
  tls: boolean;
}

interface Target {
  scheme: 'http' | 'https';
  host: string;
  port: number;
  /** Origin-form request target: path and query. */
  target: string;
  /** What the bottle asked for, for messages and the log. */
  display: string;
}

// Headers that describe one hop, not the message (RFC 9110 section 7.6.1), plus proxy credentials.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

function hopHeaders(rawHeaders: readonly string[]): Set<string> {
  const drop = new Set(HOP_BY_HOP);
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'connection') {
      for (const t of rawHeaders[i + 1]!.split(',')) if (t.trim()) drop.add(t.trim().toLowerCase());
    }
  }
  return drop;
}

function filterHeaders(rawHeaders: readonly string[], drop: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (!drop.has(rawHeaders[i]!.toLowerCase())) out.push(rawHeaders[i]!, rawHeaders[i + 1]!);
  }
  return out;
}

function splitHostPort(authority: string, defaultPort: number): { host: string; port: number } | null {
  const m = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(authority.trim());
  if (!m) return null;
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { host: normalizeHost(m[1]!), port };
}

function isDnsName(host: string): boolean {
  return /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/.test(host) && host.length <= 253;
}

function trustedCas(extra: readonly string[]): string[] {
  const getCas = (tls as unknown as { getCACertificates?: (type: string) => string[] }).getCACertificates;
  const base = new Set<string>(tls.rootCertificates);
  if (getCas) {
    try {
      for (const c of getCas('system')) base.add(c);
    } catch {
      // No readable system store: the bundled roots and the extra CAs still apply.
    }
  }
  return [...base, ...extra];
}

function upstreamErrorReason(e: NodeJS.ErrnoException): string {
  const code = e.code ?? '';
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS_CERT_ALTNAME/.test(code)) {
    return `upstream certificate not trusted (${code}): give its CA to the gateway as an extra CA if it is yours`;
  }
  return `upstream error: ${code || e.message}`;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const ca = 'signingKey' in options.ca ? options.ca : await loadCa(options.ca.cert, options.ca.key);
  const leaves = new LeafCertificates(ca);
  const secrets = { ...(options.secrets ?? {}) };
  const checkSecrets = (routes: readonly EgressRoute[]) => {
    const missing = [...new Set(routes.flatMap((r) => (r.auth && secrets[r.auth.env] === undefined ? [r.auth.env] : [])))];
    if (missing.length) {
      throw new BottleError('LAUNCH_ENV_MISSING', `egress gateway: no value for ${missing.join(', ')}, which a route injects`, {
        suggestions: [`Start the gateway with ${missing.join(', ')} in its environment (and named in its config's "secretEnv").`],
      });
    }
  };
  let routes = parseRoutes(options.routes);
  checkSecrets(routes);
  let rules = new RuleSet(routes);
  const dlp = new DlpScanner(secrets);
  const audit = new AuditLog(options.auditLogPath ?? null, options.onAudit);
  const firstByteTimeout = options.tunnelFirstByteTimeoutMs ?? 10_000;
  // One TLS context holds the upstream trust store for every upstream connection. Passing the CA
  // list as `ca` instead would make Node parse it on each connection and, worse, put the whole
  // list (hundreds of KB) into https.Agent's pool key, rebuilt on every request.
  const upstreamTls = tls.createSecureContext({ ca: trustedCas(options.extraCaCerts ?? []) });
  const httpsAgent = new https.Agent({ keepAlive: true, maxFreeSockets: 64, secureContext: upstreamTls, timeout: 120_000 });
  const httpAgent = new http.Agent({ keepAlive: true, maxFreeSockets: 64, timeout: 120_000 });
  const tunnels = new WeakMap<net.Socket, Tunnel>();
  const clientSockets = new Set<net.Socket>();
  const upstreamSockets = new Set<net.Socket>();
  const counters = { requests: 0, denied: 0 };
  const pacer = new GcPacer(options.gcEveryBytes ?? 1024 * 1024);

  const log = (entry: Omit<AuditEntry, 'time' | 'durationMs'>, started: number) => {
    counters.requests++;
    if (entry.decision === 'deny') counters.denied++;
    audit.write({ time: new Date(started).toISOString(), ...entry, durationMs: Date.now() - started });
  };

  const trackUpstream = (s: net.Socket) => {
    if (upstreamSockets.has(s)) return;
    upstreamSockets.add(s);
    s.once('close', () => upstreamSockets.delete(s));
  };

  // ---- where a request goes -------------------------------------------------------------------

  /** The target of a request, from its tunnel or its absolute URL; a string is why it is refused. */
  function targetOf(req: http.IncomingMessage): Target | { refuse: number; reason: string; host: string | null } {
    const url = req.url ?? '/';
    const tunnel = tunnels.get(req.socket);
    if (tunnel) {
      const scheme = tunnel.tls ? 'https' : 'http';
      if (!url.startsWith('/')) return { refuse: 400, reason: 'a request inside a tunnel must use an origin-form target (/path)', host: null };
      const hostHeader = req.headers.host;
      const parsed = hostHeader ? splitHostPort(hostHeader, tunnel.port) : null;
      if (!parsed) return { refuse: 400, reason: 'the request has no valid Host header', host: null };
      if (parsed.host !== tunnel.host) {
        return { refuse: 403, reason: `Host header ${parsed.host} does not match the CONNECT host ${tunnel.host} (domain fronting)`, host: null };
      }
      const defaultPort = tunnel.tls ? 443 : 80;
      const authority = tunnel.port === defaultPort ? tunnel.host : `${tunnel.host}:${tunnel.port}`;
      return { scheme, host: tunnel.host, port: tunnel.port, target: url, display: `${scheme}://${authority}${url}` };
    }
    if (!/^http:\/\//i.test(url)) {
      if (/^https:\/\//i.test(url)) return { refuse: 400, reason: 'send https:// URLs through a CONNECT tunnel (set HTTPS_PROXY to this proxy)', host: null };
      return { refuse: 400, reason: 'this is a proxy: send absolute http:// URLs, or CONNECT for https', host: null };
    }
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return { refuse: 400, reason: 'the request URL is not valid', host: null };
    }
    if (u.username || u.password) return { refuse: 403, reason: 'credentials in the URL are refused', host: null };
    const host = normalizeHost(u.hostname);
    if (isIpLiteral(host)) return { refuse: 403, reason: `IP-literal destination ${host} is refused; use a DNS name`, host: null };
    // The URL, not the Host header, says where a proxied request goes; the Host header is rewritten.
    const rawTarget = url.replace(/^http:\/\/[^/?#]*/i, '') || '/';
    return { scheme: 'http', host, port: Number(u.port || 80), target: rawTarget.startsWith('/') ? rawTarget : `/${rawTarget}`, display: url };
  }

  function pathOf(target: string): string {
    const q = target.search(/[?#]/);
    return q === -1 ? target : target.slice(0, q);
  }

  interface Decided {
    t: Target;
    route: EgressRoute;
    rule: string;
    upstream: { scheme: 'http' | 'https'; host: string; port: number; servername: string | undefined };
    headers: string[];
  }

  /** Decides a request: its route, DLP on URL and headers, the upstream and the headers to send. */
  function decide(req: http.IncomingMessage, t: Target): Decided | { status: number; reason: string; host: string | null; rule: string | null } {
    const method = req.method ?? 'GET';
    const decision = rules.decide(t.host, method, pathOf(t.target));
    const authHeader = decision.allowed && decision.route.auth ? decision.route.auth.header.toLowerCase() : null;
    const ctx = { routed: decision.allowed };
    const finding: DlpFinding | null =
      dlp.scanUrl(t.target, ctx) ?? dlp.scanHeaders(req.rawHeaders, new Set(authHeader ? [authHeader] : []), ctx);
    if (finding) return { status: 403, reason: `dlp: ${finding.kind} in the ${finding.where}`, host: null, rule: decision.allowed ? decision.rule : null };
    if (!decision.allowed) return { status: 403, reason: decision.reason, host: t.host, rule: null };
    const route = decision.route;
    let upstream: Decided['upstream'];
    if (route.to) {
      const u = new URL(route.to);
      const scheme = u.protocol === 'https:' ? 'https' : 'http';
      const host = u.hostname.replace(/^\[|\]$/g, '');
      upstream = { scheme, host, port: Number(u.port || (scheme === 'https' ? 443 : 80)), servername: net.isIP(host) ? undefined : host };
    } else {
      upstream = { scheme: t.scheme, host: t.host, port: t.port, servername: t.host };
    }
    const drop = hopHeaders(req.rawHeaders);
    drop.add('host');
    if (authHeader) drop.add(authHeader);
    const headers = filterHeaders(req.rawHeaders, drop);
    const defaultPort = upstream.scheme === 'https' ? 443 : 80;
    const hostName = upstream.host.includes(':') ? `[${upstream.host}]` : upstream.host;
    headers.unshift('Host', upstream.port === defaultPort ? hostName : `${hostName}:${upstream.port}`);
    if (route.auth) {
      const value = secrets[route.auth.env];
      if (value === undefined) return { status: 502, reason: `the gateway has no value for ${route.auth.env}`, host: null, rule: decision.rule };
      headers.push(route.auth.header, (route.auth.format ?? '{value}').replaceAll('{value}', value));
    }
    return { t, route, rule: decision.rule, upstream, headers };
  }

  function sendRefusal(res: http.ServerResponse, status: number, method: string, display: string, reason: string, host: string | null) {
    const body = refusalBody(method, display, reason, host);
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'x-bot-bottle-refused': '1' });
    res.end(body);
  }

  // ---- plain requests (inside tunnels and absolute-form) --------------------------------------

  function onRequest(req: http.IncomingMessage, res: http.ServerResponse) {
    const started = Date.now();
    const method = req.method ?? 'GET';
    if (!tunnels.has(req.socket) && req.url === '/__bottle/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, service: 'egress-gateway', routes: routes.length }));
      return;
    }
    const t = targetOf(req);
    if ('refuse' in t) {
      const tunnel = tunnels.get(req.socket);
      sendRefusal(res, t.refuse, method, req.url ?? '', t.reason, t.host);
      log({ method, host: tunnel?.host ?? '', path: req.url ?? '', status: t.refuse, bytes: 0, bytesUp: 0, decision: 'deny', rule: null, reason: t.reason }, started);
      req.resume();
      return;
    }
    const d = decide(req, t);
    const base = { method, host: t.host, path: t.target };
    if (!('upstream' in d)) {
      sendRefusal(res, d.status, method, t.display, d.reason, d.host);
      log({ ...base, status: d.status, bytes: 0, bytesUp: 0, decision: 'deny', rule: d.rule, reason: d.reason }, started);
      req.resume();
      return;
    }
    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
    if (hasBody && encoding !== 'identity') {
      const reason = `dlp: a ${encoding}-encoded request body cannot be scanned; send it uncompressed`;
      sendRefusal(res, 403, method, t.display, reason, null);
      log({ ...base, status: 403, bytes: 0, bytesUp: 0, decision: 'deny', rule: d.rule, reason }, started);
      req.resume();
      return;
    }
    forward(req, res, d, started);
  }

  function forward(req: http.IncomingMessage, res: http.ServerResponse, d: Decided, started: number) {
    const method = req.method ?? 'GET';
    const { upstream } = d;
    const upstreamName = `${upstream.scheme}://${upstream.host}:${upstream.port}`;
    let bytes = 0;
    let reason: string | null = null;
    let decision: 'allow' | 'deny' = 'allow';
    let logged = false;
    const scan = dlp.bodyStream({ routed: true });
    const finish = () => {
      if (logged) return;
      logged = true;
      log({ method, host: d.t.host, path: d.t.target, status: res.headersSent ? res.statusCode : 0, bytes, bytesUp: scan.bytes, decision, rule: d.rule, reason, upstream: d.route.to ? upstreamName : undefined }, started);
    };
    const upReq = (upstream.scheme === 'https' ? https : http).request({
      host: upstream.host,
      port: upstream.port,
      servername: upstream.scheme === 'https' ? upstream.servername : undefined,
      method,
      path: d.t.target,
      headers: d.headers as unknown as http.OutgoingHttpHeaders,
      agent: upstream.scheme === 'https' ? httpsAgent : httpAgent,
      setHost: false,
    });
    upReq.on('socket', (s) => trackUpstream(s));
    upReq.on('response', (upRes) => {
      const drop = hopHeaders(upRes.rawHeaders);
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, filterHeaders(upRes.rawHeaders, drop) as unknown as http.OutgoingHttpHeaders);
      // Headers go out with the first body bytes when those came in the same read (one write, one
      // TLS record for a small response), and on their own one turn later otherwise, so a stream
      // (SSE) starts as soon as the upstream starts it.
      let wrote = false;
      setImmediate(() => {
        if (!wrote && !res.writableEnded && !res.destroyed) res.flushHeaders();
      });
      upRes.on('data', (c: Buffer) => {
        wrote = true;
        bytes += c.length;
        pacer.add(c.length);
      });
      // pipe() and explicit clean-up rather than pipeline(): pipeline makes an AbortController (and
      // an AbortError with its stack trace) per exchange, a measurable cost per small request.
      upRes.on('error', (err: NodeJS.ErrnoException) => {
        reason ??= `stream ended early: ${err.code ?? err.message}`;
        res.destroy();
      });
      res.on('error', (err: NodeJS.ErrnoException) => {
        reason ??= `stream ended early: ${err.code ?? err.message}`;
        upReq.destroy();
      });
      upRes.pipe(res);
    });
    upReq.on('error', (e: NodeJS.ErrnoException) => {
      if (e instanceof DlpError || reason) return;
      reason = upstreamErrorReason(e);
      if (!res.headersSent) {
        const body = `bot-bottle egress gateway: ${reason}\n`;
        res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      } else res.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished) {
        reason ??= 'the client closed the connection before the response ended';
        upReq.destroy();
      }
      finish();
    });
    scan.on('error', (e) => {
      if (!(e instanceof DlpError)) return;
      decision = 'deny';
      reason = `dlp: ${e.message}`;
      upReq.destroy(e);
      req.unpipe(scan);
      if (!res.headersSent) {
        sendRefusal(res, 403, method, d.t.display, reason, null);
        // The rest of the upload is not wanted: close the connection after the answer.
        res.shouldKeepAlive = false;
        req.resume();
      } else res.destroy();
    });
    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
    if (hasBody) {
      req.on('data', (c: Buffer) => pacer.add(c.length));
      req.pipe(scan).pipe(upReq);
    }
    else upReq.end(); // nothing to scan or send: no stream plumbing for the common GET
    req.on('aborted', () => upReq.destroy());
  }

  // ---- CONNECT tunnels ------------------------------------------------------------------------

  function refuseConnect(socket: net.Socket, status: number, text: string, reason: string, host: string | null, display: string, started: number, hostForLog: string) {
    const body = refusalBody('CONNECT', display, reason, host);
    socket.end(`HTTP/1.1 ${status} ${text}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    log({ method: 'CONNECT', host: hostForLog, path: display, status, bytes: 0, bytesUp: 0, decision: 'deny', rule: null, reason }, started);
  }

  function onConnect(req: http.IncomingMessage, socket: net.Socket, head: Buffer) {
    const started = Date.now();
    const authority = req.url ?? '';
    socket.on('error', () => socket.destroy());
    if (tunnels.has(socket)) return refuseConnect(socket, 403, 'Forbidden', 'CONNECT inside a tunnel is refused', null, authority, started, '');
    const parsed = splitHostPort(authority, 0);
    if (!parsed || parsed.port === 0) return refuseConnect(socket, 400, 'Bad Request', 'CONNECT needs host:port', null, authority, started, '');
    const { host, port } = parsed;
    if (isIpLiteral(host)) return refuseConnect(socket, 403, 'Forbidden', `IP-literal destination ${host} is refused; use a DNS name`, null, authority, started, host);
    if (!isDnsName(host)) return refuseConnect(socket, 400, 'Bad Request', `${host} is not a DNS name`, null, authority, started, host);
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    const decideTunnel = (first: Buffer) => {
      const b0 = first[0]!;
      if (b0 === 0x16) return interceptTls(socket, host, port, started);
      const text = first.subarray(0, 16).toString('latin1');
      if (/^[A-Z]{3,10}( |$)/.test(text) || (first.length < 4 && /^[A-Z]+$/.test(text))) {
        tunnels.set(socket, { host, port, tls: false });
        trackClient(socket);
        // The HTTP parser reads the socket's handle directly and would never see the bytes
        // already read, so they are taken back out of the stream and handed to it as data.
        const buffered: Buffer[] = [];
        for (let c: Buffer | null; (c = socket.read() as Buffer | null) !== null; ) buffered.push(c);
        server.emit('connection', socket);
        if (buffered.length) socket.emit('data', Buffer.concat(buffered));
        socket.resume();
        return;
      }
      const reason = 'non-HTTP tunnel refused: the first bytes are neither TLS nor HTTP';
      log({ method: 'CONNECT', host, path: authority, status: 0, bytes: 0, bytesUp: first.length, decision: 'deny', rule: null, reason }, started);
      socket.destroy();
    };
    if (head.length) {
      socket.unshift(head);
      decideTunnel(head);
      return;
    }
    const timer = setTimeout(() => {
      socket.removeListener('data', onFirst);
      const reason = 'non-HTTP tunnel refused: the client sent nothing (a server-speaks-first protocol?)';
      log({ method: 'CONNECT', host, path: authority, status: 0, bytes: 0, bytesUp: 0, decision: 'deny', rule: null, reason }, started);
      socket.destroy();
    }, firstByteTimeout);
    const onFirst = (chunk: Buffer) => {
      clearTimeout(timer);
      socket.pause();
      socket.unshift(chunk);
      decideTunnel(chunk);
    };
    socket.once('data', onFirst);
    socket.once('close', () => clearTimeout(timer));
  }

  function interceptTls(socket: net.Socket, host: string, port: number, started: number) {
    let sniRefusal: string | null = null;
    leaves.contextFor(host).then(
      (context) => {
        if (socket.destroyed) return;
        const tlsSocket = new tls.TLSSocket(socket, {
          isServer: true,
          secureContext: context,
          ALPNProtocols: ['http/1.1'],
          SNICallback: (servername, cb) => {
            const sni = normalizeHost(servername);
            if (sni && sni !== host) {
              sniRefusal = `TLS SNI ${sni} does not match the CONNECT host ${host} (domain fronting)`;
              cb(new Error(sniRefusal));
              return;
            }
            cb(null, context);
          },
        });
        tlsSocket.on('error', (e) => {
          if (!tlsSocket.encrypted || !(tlsSocket as unknown as { _secureEstablished?: boolean })._secureEstablished) {
            const reason = sniRefusal ?? `TLS handshake with the client failed: ${e.message} (does the bottle trust the gateway CA?)`;
            log({ method: 'CONNECT', host, path: `${host}:${port}`, status: 0, bytes: 0, bytesUp: 0, decision: 'deny', rule: null, reason }, started);
          }
          tlsSocket.destroy();
          socket.destroy();
        });
        tunnels.set(tlsSocket, { host, port, tls: true });
        server.emit('connection', tlsSocket);
        socket.resume();
      },
      (e: Error) => {
        log({ method: 'CONNECT', host, path: `${host}:${port}`, status: 0, bytes: 0, bytesUp: 0, decision: 'deny', rule: null, reason: `could not issue a certificate: ${e.message}` }, started);
        socket.destroy();
      },
    );
  }

  // ---- WebSocket and other upgrades -----------------------------------------------------------

  function onUpgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer) {
    const started = Date.now();
    const method = req.method ?? 'GET';
    socket.on('error', () => socket.destroy());
    const rawRefuse = (status: number, display: string, reason: string, host: string | null, logHost: string, path: string, rule: string | null) => {
      const body = refusalBody(method, display, reason, host);
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      log({ method, host: logHost, path, status, bytes: 0, bytesUp: 0, decision: 'deny', rule, reason }, started);
    };
    const t = targetOf(req);
    if ('refuse' in t) return rawRefuse(t.refuse, req.url ?? '', t.reason, t.host, tunnels.get(req.socket)?.host ?? '', req.url ?? '', null);
    const d = decide(req, t);
    if (!('upstream' in d)) return rawRefuse(d.status, t.display, d.reason, d.host, t.host, t.target, d.rule);
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return rawRefuse(403, t.display, `upgrade to ${req.headers.upgrade} is refused; only WebSocket is allowed`, null, t.host, t.target, d.rule);
    const { upstream } = d;
    // Keep the upgrade headers this hop needs; everything else as decided.
    const headers = [...d.headers, 'Connection', 'Upgrade', 'Upgrade', 'websocket'];
    const lines = [`${method} ${t.target} HTTP/1.1`];
    for (let i = 0; i + 1 < headers.length; i += 2) lines.push(`${headers[i]}: ${headers[i + 1]}`);
    const upSocket: net.Socket =
      upstream.scheme === 'https'
        ? tls.connect({ host: upstream.host, port: upstream.port, servername: upstream.servername, secureContext: upstreamTls, ALPNProtocols: ['http/1.1'] })
        : net.connect({ host: upstream.host, port: upstream.port });
    trackUpstream(upSocket);
    let status = 0;
    let bytes = 0;
    let bytesUp = head.length;
    let reason: string | null = null;
    let logged = false;
    const finish = () => {
      if (logged) return;
      logged = true;
      log({ method, host: t.host, path: t.target, status, bytes, bytesUp, decision: 'allow', rule: d.rule, reason, upstream: d.route.to ? `${upstream.scheme}://${upstream.host}:${upstream.port}` : undefined }, started);
    };
    upSocket.once(upstream.scheme === 'https' ? 'secureConnect' : 'connect', () => {
      upSocket.write(lines.join('\r\n') + '\r\n\r\n');
      if (head.length) upSocket.write(head);
      socket.pipe(upSocket);
      upSocket.pipe(socket);
    });
    upSocket.once('data', (c: Buffer) => {
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(c.subarray(0, 16).toString('latin1'));
      status = m ? Number(m[1]) : 0;
    });
    upSocket.on('data', (c: Buffer) => {
      bytes += c.length;
      pacer.add(c.length);
    });
    socket.on('data', (c: Buffer) => {
      bytesUp += c.length;
      pacer.add(c.length);
    });
    upSocket.on('error', (e: NodeJS.ErrnoException) => {
      reason ??= upstreamErrorReason(e);
      if (status === 0 && socket.writable && bytes === 0) {
        const body = `bot-bottle egress gateway: ${reason}\n`;
        status = 502;
        socket.end(`HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      } else socket.destroy();
    });
    upSocket.on('close', () => {
      socket.end();
      finish();
    });
    socket.on('close', () => {
      upSocket.destroy();
      finish();
    });
  }

  // ---- the server -----------------------------------------------------------------------------

  function trackClient(s: net.Socket) {
    if (clientSockets.has(s)) return;
    clientSockets.add(s);
    s.once('close', () => clientSockets.delete(s));
  }

  const server = http.createServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 30_000, noDelay: true }, onRequest);
  server.on('connection', (s: net.Socket) => trackClient(s));
  server.on('connect', onConnect);
  server.on('upgrade', onUpgrade);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    if (socket.writable && err.code !== 'ECONNRESET') socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });

  const listen = options.listen ?? { port: 0, host: '127.0.0.1' };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if ('socket' in listen) {
      void rm(listen.socket, { force: true }).then(() => server.listen(listen.socket, done), reject);
    } else server.listen(listen.port ?? 0, listen.host ?? '127.0.0.1', done);
  });
  const addr = server.address();
  const port = addr && typeof addr === 'object' ? addr.port : null;
  const host = 'socket' in listen ? null : (listen.host ?? '127.0.0.1');
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;

  return {
    url: port !== null && urlHost ? `http://${urlHost.includes(':') ? `[${urlHost}]` : urlHost}:${port}` : null,
    port,
    socketPath: 'socket' in listen ? listen.socket : null,
    caCertPem: ca.certPem,
    routes: () => structuredClone([...routes]),
    setRoutes(next: unknown) {
      const parsed = parseRoutes(next);
      checkSecrets(parsed);
      routes = parsed;
      rules = new RuleSet(parsed);
      return structuredClone(parsed);
    },
    stats: () => ({ clientSockets: clientSockets.size, upstreamSockets: upstreamSockets.size, ...counters }),
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const s of clientSockets) s.destroy();
      });
      httpsAgent.destroy();
      httpAgent.destroy();
      for (const s of upstreamSockets) s.destroy();
      await audit.close();
    },
  };
}
