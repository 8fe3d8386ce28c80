/**
 * The gateway: an HTTP proxy (the bottle's HTTP_PROXY and HTTPS_PROXY) that terminates every
 * CONNECT tunnel with a certificate from the bottle's CA, decides each request by the routes,
 * injects credentials, scans what goes out, streams what comes back, and logs every decision.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { listenOn, type ListenAt } from './listen.js';
import zlib from 'node:zlib';
import { ServiceError, type EgressRoute } from '@bot-bottle/core/service';
import { AuditLog, type AuditEntry } from './audit.js';
import { LeafCertificates, loadCa, type LoadedCa } from './ca.js';
import { BlockedAddressError, guardedLookup } from './address-guard.js';
import { ClientSlots } from './client-slots.js';
import { decideRequest, destinationOf, splitHostPort, type Allowed, type Refusal, type Tunnel } from './decide.js';
import { DlpError, DlpScanner } from './dlp.js';
import { GcPacer } from './gc.js';
import { filterHeaders, hopHeaders } from './headers.js';
import { Redactor, type RedactStream } from './redact.js';
import { RuleSet, destinationProblem, normalizeHost, parseRoutes, refusalBody } from './rules.js';
import { forwardUpgrade, refuseUpgrade, upgradeProblem, type UpgradeContext } from './upgrade.js';

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

function upstreamErrorReason(e: NodeJS.ErrnoException): string {
  const code = e.code ?? '';
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS_CERT_ALTNAME/.test(code)) {
    return `upstream certificate not trusted (${code}): give its CA to the gateway as an extra CA if it is yours`;
  }
  if (e instanceof BlockedAddressError) return `refused: ${e.message}`;
  return `upstream error: ${code || e.message}`;
}

// An env var name, and never one that names a property every object has.
const SECRET_NAME = /^(?!__proto__$|constructor$|prototype$)[A-Za-z_][A-Za-z0-9_]*$/;

/** A ServiceError when a route injects a value the gateway does not hold. */
export function checkSecrets(routes: readonly EgressRoute[], secrets: Readonly<Record<string, string>>): void {
  const missing = [...new Set(routes.flatMap((r) => (r.auth && !Object.hasOwn(secrets, r.auth.env) ? [r.auth.env] : [])))];
  if (missing.length) {
    throw new ServiceError(`egress gateway: no value for ${missing.join(', ')}, which a route injects`, {
      suggestions: [`Start the gateway with ${missing.join(', ')} in its environment (and named in its config's "secretEnv").`],
    });
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
    if (!SECRET_NAME.test(name) || typeof value !== 'string' || value === '' || value.length > 64 * 1024) {
      throw new ServiceError(`egress gateway: the value sent for ${SECRET_NAME.test(name) ? name : 'a secret'} is not a usable secret`, {
        kind: 'config',
        suggestions: ['Send {"secrets": {"ENV_NAME": "value"}} with a non-empty value of at most 64 KiB.'],
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

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const ca = 'issuer' in options.ca ? options.ca : await loadCa(options.ca.cert, options.ca.key);
  const leaves = new LeafCertificates(ca);
  const secrets = { ...(options.secrets ?? {}) };
  let routes = parseRoutes(options.routes);
  checkSecrets(routes, secrets);
  let rules = new RuleSet(routes);
  let dlp = new DlpScanner(secrets);
  let redactor = new Redactor(dlp.secretNeedles.map((n) => n.text));
  const audit = new AuditLog(options.auditFd ?? options.auditLogPath ?? null, options.onAudit);
  const firstByteTimeout = options.tunnelFirstByteTimeoutMs ?? 10_000;
  // One TLS context holds the upstream trust store for every upstream connection. Passing the CA
  // list as `ca` instead would make Node parse it on each connection and, worse, put the whole
  // list (hundreds of KB) into https.Agent's pool key, rebuilt on every request.
  const upstreamTls = upstreamTrust(options.extraCaCerts ?? []);
  // Two pools: connections made by a `to` (the manifest's chosen origin) are never reused for a
  // request whose name's DNS answers must be checked, and the other way round.
  const agents = {
    https: new https.Agent({ keepAlive: true, maxFreeSockets: 64, secureContext: upstreamTls, timeout: 120_000 }),
    http: new http.Agent({ keepAlive: true, maxFreeSockets: 64, timeout: 120_000 }),
    guardedHttps: new https.Agent({ keepAlive: true, maxFreeSockets: 64, secureContext: upstreamTls, timeout: 120_000, lookup: guardedLookup }),
    guardedHttp: new http.Agent({ keepAlive: true, maxFreeSockets: 64, timeout: 120_000, lookup: guardedLookup } as http.AgentOptions),
  };
  /** The tunnel a socket carries (the TLS socket the gateway terminated, or the raw one for plain HTTP). */
  const tunnels = new WeakMap<net.Socket, Tunnel>();
  /** The client connection a tunnel's inner socket belongs to (for the connection bound). */
  const outerOf = new WeakMap<net.Socket, net.Socket>();
  const slots = new ClientSlots(options.maxClientConnections ?? 512);
  const upstreamSockets = new Set<net.Socket>();
  const counters = { requests: 0, denied: 0 };
  const pacer = new GcPacer(options.gcEveryBytes ?? 1024 * 1024);
  const clientOf = (s: net.Socket) => outerOf.get(s) ?? s;

  const log = (entry: Omit<AuditEntry, 'time' | 'source' | 'durationMs'>, started: number) => {
    counters.requests++;
    if (entry.decision === 'deny') counters.denied++;
    audit.write({ time: new Date(started).toISOString(), source: 'egress', ...entry, durationMs: Date.now() - started });
  };

  const trackUpstream = (s: net.Socket) => {
    if (upstreamSockets.has(s)) return;
    upstreamSockets.add(s);
    s.once('close', () => upstreamSockets.delete(s));
  };

  const decideCtx = () => ({ rules, dlp, secrets });

  const upgradeCtx: UpgradeContext = {
    dlp,
    redactor,
    upstreamTls,
    log,
    trackUpstream,
    countBytes: (n) => pacer.add(n),
    upstreamErrorReason,
    refusalText: (_status, method, display, reason, hintHost) => refusalBody(method, display, reason, hintHost),
  };

  function sendRefusal(res: http.ServerResponse, method: string, display: string, r: Refusal) {
    const body = refusalBody(method, display, r.reason, r.hintHost);
    res.writeHead(r.status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'x-bot-bottle-refused': '1' });
    res.end(body);
  }

  // ---- plain requests (inside tunnels and absolute-form) --------------------------------------

  function onRequest(req: http.IncomingMessage, res: http.ServerResponse) {
    const started = Date.now();
    const method = req.method ?? 'GET';
    const client = clientOf(req.socket);
    slots.start(client);
    res.once('close', () => slots.end(client));
    const tunnel = tunnels.get(req.socket);
    if (!tunnel && req.url === '/__bottle/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, service: 'egress-gateway', routes: routes.length }));
      return;
    }
    const dest = destinationOf(req.url ?? '', tunnel, req.headers.host);
    if ('reason' in dest) {
      sendRefusal(res, method, req.url ?? '', dest);
      log({ method, host: dest.logHost, path: req.url ?? '', status: dest.status, bytes: 0, bytesUp: 0, decision: 'deny', rule: dest.rule, reason: dest.reason }, started);
      req.resume();
      return;
    }
    const d = decideRequest(decideCtx(), dest, method, req.rawHeaders);
    if ('reason' in d) {
      sendRefusal(res, method, dest.display, d);
      log({ method, host: dest.host, path: dest.target, status: d.status, bytes: 0, bytesUp: 0, decision: 'deny', rule: d.rule, reason: d.reason }, started);
      // The rest of an upload is not wanted: close the connection after the answer.
      if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) res.shouldKeepAlive = false;
      req.resume();
      return;
    }
    forward(req, res, d, started);
  }

  /** Decoders for response codings the gateway can read back, for routes whose responses it must scan. */
  function decoderFor(encoding: string): NodeJS.ReadWriteStream | null | undefined {
    switch (encoding) {
      case 'gzip':
      case 'x-gzip':
        return zlib.createGunzip();
      case 'deflate':
        return zlib.createInflate();
      case 'br':
        return zlib.createBrotliDecompress();
      case '':
      case 'identity':
        return null;
      default:
        return undefined;
    }
  }

  function forward(req: http.IncomingMessage, res: http.ServerResponse, d: Allowed, started: number) {
    const method = req.method ?? 'GET';
    const { upstream, dest } = d;
    let bytes = 0;
    let redacted = 0;
    let redactStream: RedactStream | null = null;
    let reason: string | null = null;
    let decision: 'allow' | 'deny' = 'allow';
    let logged = false;
    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
    // Only a request with a body gets the scanning stream (most requests are bodiless GETs).
    const scan = hasBody ? dlp.bodyStream({ routed: true }) : null;
    const finish = () => {
      if (logged) return;
      logged = true;
      redacted += redactStream?.found ?? 0;
      if (redacted && !reason) reason = `redacted ${redacted} copies of an injected credential from the response`;
      log({ method, host: dest.host, path: dest.target, status: res.headersSent ? res.statusCode : 0, bytes, bytesUp: scan?.bytes ?? 0, decision, rule: d.rule, reason, upstream: d.route.to ? `${upstream.scheme}://${upstream.host}:${upstream.port}` : undefined }, started);
    };
    const upReq = (upstream.scheme === 'https' ? https : http).request({
      host: upstream.host,
      port: upstream.port,
      servername: upstream.scheme === 'https' ? upstream.servername : undefined,
      method,
      path: dest.target,
      headers: d.headers as unknown as http.OutgoingHttpHeaders,
      agent: upstream.guardAddresses ? (upstream.scheme === 'https' ? agents.guardedHttps : agents.guardedHttp) : upstream.scheme === 'https' ? agents.https : agents.http,
      setHost: false,
      lookup: upstream.guardAddresses ? guardedLookup : undefined,
    });
    upReq.on('socket', (s) => trackUpstream(s));
    upReq.on('response', (upRes) => {
      const drop = hopHeaders(upRes.rawHeaders);
      let body: NodeJS.ReadableStream = upRes;
      if (!redactor.empty) {
        // A response the gateway cannot read could carry an injected value out unseen: on a route
        // that injects one, a coded response is decoded here (the gateway asked for identity).
        const coding = (upRes.headers['content-encoding'] ?? '').trim().toLowerCase();
        if (d.route.auth && coding !== '' && coding !== 'identity') {
          const decoder = decoderFor(coding);
          if (decoder === undefined) {
            decision = 'deny';
            reason = `the upstream sent a ${coding}-encoded response the gateway cannot scan for the injected credential`;
            upReq.destroy();
            const text = `bot-bottle egress gateway: ${reason}\n`;
            res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
            res.end(text);
            return;
          }
          if (decoder) {
            drop.add('content-encoding');
            drop.add('content-length');
            decoder.on('error', (e: Error) => {
              reason ??= `the upstream's ${coding} response could not be decoded: ${e.message}`;
              res.destroy();
            });
            body = body.pipe(decoder);
          }
        }
        redactStream = redactor.stream();
        body = body.pipe(redactStream);
      }
      let headers = filterHeaders(upRes.rawHeaders, drop);
      if (!redactor.empty) {
        const rh = redactor.redactHeaders(headers);
        headers = rh.headers;
        redacted += rh.found;
      }
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, headers as unknown as http.OutgoingHttpHeaders);
      // Headers go out with the first body bytes when those came in the same read (one write, one
      // TLS record for a small response), and on their own one turn later otherwise, so a stream
      // (SSE) starts as soon as the upstream starts it.
      let wrote = false;
      setImmediate(() => {
        if (!wrote && !res.writableEnded && !res.destroyed) res.flushHeaders();
      });
      body.on('data', (c: Buffer) => {
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
      body.pipe(res);
    });
    upReq.on('error', (e: NodeJS.ErrnoException) => {
      if (e instanceof DlpError || reason) return;
      reason = upstreamErrorReason(e);
      if (!res.headersSent) {
        const text = `bot-bottle egress gateway: ${reason}\n`;
        res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      } else res.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished) {
        reason ??= 'the client closed the connection before the response ended';
        upReq.destroy();
      }
      finish();
    });
    scan?.on('error', (e) => {
      if (!(e instanceof DlpError)) return;
      decision = 'deny';
      reason = `dlp: ${e.message}`;
      upReq.destroy(e);
      req.unpipe(scan);
      if (!res.headersSent) {
        sendRefusal(res, method, dest.display, { status: 403, reason, hintHost: null, rule: d.rule, logHost: dest.host });
        // The rest of the upload is not wanted: close the connection after the answer.
        res.shouldKeepAlive = false;
        req.resume();
      } else res.destroy();
    });
    if (scan) {
      req.on('data', (c: Buffer) => pacer.add(c.length));
      req.pipe(scan).pipe(upReq);
    } else upReq.end(); // nothing to scan or send: no stream plumbing for the common GET
    req.on('aborted', () => upReq.destroy());
  }

  // ---- CONNECT tunnels ------------------------------------------------------------------------

  function refuseConnect(socket: net.Socket, status: number, reason: string, hintHost: string | null, display: string, started: number, hostForLog: string) {
    const body = refusalBody('CONNECT', display, reason, hintHost);
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-bot-bottle-refused: 1\r\nconnection: close\r\n\r\n${body}`);
    log({ method: 'CONNECT', host: hostForLog, path: display, status, bytes: 0, bytesUp: 0, decision: 'deny', rule: null, reason }, started);
  }

  function onConnect(req: http.IncomingMessage, socket: net.Socket, head: Buffer) {
    const started = Date.now();
    const authority = req.url ?? '';
    socket.on('error', () => socket.destroy());
    slots.start(socket);
    if (tunnels.has(socket) || outerOf.has(socket)) return refuseConnect(socket, 403, 'CONNECT inside a tunnel is refused', null, authority, started, '');
    const parsed = splitHostPort(authority, 0);
    if (!parsed || parsed.port === 0) return refuseConnect(socket, 400, 'CONNECT needs host:port', null, authority, started, '');
    const { host, port } = parsed;
    const problem = destinationProblem(host);
    if (problem) return refuseConnect(socket, 403, problem, null, authority, started, host);
    const finding = dlp.scanText(host, 'host name', { routed: false });
    if (finding) return refuseConnect(socket, 403, `dlp: ${finding.kind} in the ${finding.where}`, null, authority, started, '(withheld)');
    // Decided before the tunnel opens: no certificate is signed, and nothing resolved, for a name
    // or port no route allows.
    const allowed = rules.decideConnect(host, port);
    if (!allowed.allowed) return refuseConnect(socket, 403, allowed.reason, host, authority, started, host);
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    const decideTunnel = (first: Buffer) => {
      const b0 = first[0]!;
      if (b0 === 0x16) return interceptTls(socket, host, port, started);
      const text = first.subarray(0, 16).toString('latin1');
      if (/^[A-Z]{3,10}( |$)/.test(text) || (first.length < 4 && /^[A-Z]+$/.test(text))) {
        tunnels.set(socket, { host, port, tls: false });
        slots.end(socket);
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
    let context: tls.SecureContext;
    try {
      context = leaves.contextFor(host);
    } catch (e) {
      log({ method: 'CONNECT', host, path: `${host}:${port}`, status: 0, bytes: 0, bytesUp: 0, decision: 'deny', rule: null, reason: `could not issue a certificate: ${(e as Error).message}` }, started);
      socket.destroy();
      return;
    }
    // The socket is handed over once the 'data' event that brought the ClientHello has returned:
    // from inside it, resuming would let the stream's read loop emit the bytes just put back to
    // no one. TLSSocket then takes what the socket holds before it reads the connection itself.
    queueMicrotask(() => wrapTls(socket, host, port, started, context));
  }

  function wrapTls(socket: net.Socket, host: string, port: number, started: number, context: tls.SecureContext) {
    let sniRefusal: string | null = null;
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
    tlsSocket.once('close', () => socket.destroy());
    tunnels.set(tlsSocket, { host, port, tls: true });
    outerOf.set(tlsSocket, socket);
    slots.end(socket);
    server.emit('connection', tlsSocket);
    socket.resume();
  }

  // ---- WebSocket upgrades ---------------------------------------------------------------------

  function onUpgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer) {
    const started = Date.now();
    const method = req.method ?? 'GET';
    socket.on('error', () => socket.destroy());
    // An upgraded connection is busy until it closes.
    slots.start(clientOf(socket));
    const dest = destinationOf(req.url ?? '', tunnels.get(req.socket), req.headers.host);
    if ('reason' in dest) return refuseUpgrade(upgradeCtx, socket, method, req.url ?? '', req.url ?? '', dest, started);
    const d = decideRequest(decideCtx(), dest, method, req.rawHeaders, { upgrade: true });
    if ('reason' in d) return refuseUpgrade(upgradeCtx, socket, method, dest.display, dest.target, d, started);
    const problem = upgradeProblem(req);
    if (problem) return refuseUpgrade(upgradeCtx, socket, method, dest.display, dest.target, { status: 403, reason: problem, hintHost: null, rule: d.rule, logHost: dest.host }, started);
    forwardUpgrade(upgradeCtx, socket, head, d, started);
  }

  // ---- the server -----------------------------------------------------------------------------

  const server = http.createServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 30_000, noDelay: true }, onRequest);
  server.on('connection', (s: net.Socket) => {
    // A tunnel's inner socket is the same client connection: it is not counted twice.
    if (!outerOf.has(s) && !tunnels.has(s)) slots.add(s);
  });
  server.on('connect', onConnect);
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
    routes: () => structuredClone([...routes]),
    setRoutes(next: unknown, added: Record<string, string> = {}) {
      let change: ReturnType<typeof checkRouteChange>;
      try {
        change = checkRouteChange(next, added, secrets);
      } catch (e) {
        return Promise.reject(e as Error);
      }
      if (change.fresh.length) {
        for (const [name, value] of change.fresh) secrets[name] = value;
        // Requests from now on scan for and redact the new values too.
        dlp = new DlpScanner(secrets);
        redactor = new Redactor(dlp.secretNeedles.map((n) => n.text));
        upgradeCtx.dlp = dlp;
        upgradeCtx.redactor = redactor;
      }
      routes = change.routes;
      rules = new RuleSet(change.routes);
      return Promise.resolve(structuredClone(change.routes));
    },
    accept(socket: net.Socket) {
      server.emit('connection', socket);
    },
    stats: () => ({ clientSockets: slots.size, upstreamSockets: upstreamSockets.size, ...counters, evictedClients: slots.evicted, refusedClients: slots.refused }),
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const s of slots.sockets()) s.destroy();
      });
      for (const a of Object.values(agents)) a.destroy();
      for (const s of upstreamSockets) s.destroy();
      await audit.close();
    },
  };
}
