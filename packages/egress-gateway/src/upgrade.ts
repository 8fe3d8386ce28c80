/**
 * WebSocket upgrades. The request is decided like any other; then the gateway asks the upstream on
 * a fresh connection and pipes both ways only if the upstream really switched protocols (101 with
 * `Upgrade: websocket`). Any other answer is relayed as a plain response and both connections are
 * closed: nothing the bottle sends later on that connection can reach the upstream unchecked.
 * After the switch, the bottle's frames are scanned (websocket.ts) and the upstream's are redacted
 * of injected credentials (redact.ts).
 */
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type tls from 'node:tls';
import type { Allowed, Refusal } from './decide.js';
import { DlpError } from './dlp.js';
import { guardedLookup } from './address-guard.js';
import { filterHeaders, hopHeaders } from './headers.js';
import type { RedactStream } from './redact.js';
import { refusalBody } from './rules.js';
import type { GatewayState } from './state.js';
import { reasonPhrase, upstreamErrorReason } from './upstream.js';
import { WebSocketClientScanner, WebSocketScanError } from './websocket.js';

/**
 * A response head the gateway writes on a raw socket. The reason phrase is always the standard
 * one for the code: an upstream's own text (of a 101, or of the answer to an upgrade it did not
 * honour) could quote the injected key.
 */
function rawResponse(status: number, headers: readonly string[]): string {
  const lines = [`HTTP/1.1 ${status} ${reasonPhrase(status)}`];
  for (let i = 0; i + 1 < headers.length; i += 2) lines.push(`${headers[i]}: ${headers[i + 1]}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

/** Why an upgrade request that a route allows is still refused, or null. */
export function upgradeProblem(req: http.IncomingMessage): string | null {
  if ((req.headers.upgrade ?? '').trim().toLowerCase() !== 'websocket') return `upgrade to ${JSON.stringify(req.headers.upgrade ?? '')} is refused; only WebSocket is allowed`;
  if (req.method !== 'GET') return `a WebSocket upgrade must be a GET, not ${req.method}`;
  const cl = req.headers['content-length'];
  if ((cl !== undefined && cl !== '0') || req.headers['transfer-encoding'] !== undefined) return 'a WebSocket upgrade request carries no body';
  return null;
}

/** Refuses an upgrade on its raw socket, with the same body a plain refusal has. */
export function refuseUpgrade(ctx: GatewayState, socket: net.Socket, method: string, display: string, path: string, r: Refusal, started: number): void {
  const body = refusalBody(method, display, r.reason, r.hintHost);
  socket.end(rawResponse(r.status, ['content-type', 'text/plain; charset=utf-8', 'content-length', String(Buffer.byteLength(body)), 'connection', 'close', 'x-bot-bottle-refused', '1']) + body);
  ctx.log({ method, host: r.logHost, path, status: r.status, bytes: 0, bytesUp: 0, decision: 'deny', rule: r.rule, reason: r.reason }, started);
}

export function forwardUpgrade(ctx: GatewayState, socket: net.Socket, head: Buffer, d: Allowed, started: number): void {
  const { upstream, dest } = d;
  const method = 'GET';
  // The scanner and redactor at the time of the upgrade, for the whole connection.
  const { dlp, redactor } = ctx;
  let status = 0;
  let bytes = 0;
  let bytesUp = 0;
  let redacted = 0;
  const streams: RedactStream[] = [];
  let reason: string | null = null;
  let decision: 'allow' | 'deny' = 'allow';
  let logged = false;
  const finish = () => {
    if (logged) return;
    logged = true;
    redacted += streams.reduce((n, s) => n + s.found, 0);
    if (redacted && !reason) reason = `redacted ${redacted} copies of an injected credential from the response`;
    ctx.log({ method, host: dest.host, path: dest.target, status, bytes, bytesUp, decision, rule: d.rule, reason, upstream: d.route.to ? `${upstream.scheme}://${upstream.host}:${upstream.port}` : undefined }, started);
  };
  // The bottle's bytes wait in the socket until the upstream has switched protocols.
  socket.pause();
  const headers = [...d.headers, 'Connection', 'Upgrade', 'Upgrade', 'websocket'];
  // secureContext reaches tls.connect through the request options (with agent: false).
  const options: https.RequestOptions & { secureContext?: tls.SecureContext } = {
    host: upstream.host,
    port: upstream.port,
    servername: upstream.scheme === 'https' ? upstream.servername : undefined,
    secureContext: upstream.scheme === 'https' ? ctx.upstreamTls : undefined,
    method,
    path: dest.target,
    headers: headers as unknown as http.OutgoingHttpHeaders,
    agent: false,
    setHost: false,
    lookup: upstream.guardAddresses ? guardedLookup : undefined,
  };
  const upReq = upstream.scheme === 'https' ? https.request(options) : http.request(options);
  upReq.on('socket', (s) => ctx.trackUpstream(s));
  const closeBoth = () => {
    upReq.destroy();
    socket.destroy();
  };
  socket.on('close', () => {
    upReq.destroy();
    finish();
  });

  // Anything but a switch: relay it as a final answer, then close. The connection is never piped.
  upReq.on('response', (upRes) => {
    status = upRes.statusCode ?? 502;
    reason ??= `the upstream answered ${status} instead of switching protocols; the connection was closed`;
    const drop = hopHeaders(upRes.rawHeaders);
    drop.add('content-length');
    const rh = redactor.redactHeaders(filterHeaders(upRes.rawHeaders, drop));
    redacted += rh.found;
    socket.write(rawResponse(status, [...rh.headers, 'connection', 'close']));
    let body: NodeJS.ReadableStream = upRes;
    if (!redactor.empty) {
      const r = redactor.stream();
      streams.push(r);
      body = upRes.pipe(r);
    }
    body.on('data', (c: Buffer) => {
      bytes += c.length;
      socket.write(c);
    });
    body.on('end', () => socket.end());
    upRes.on('error', closeBoth);
  });

  upReq.on('upgrade', (upRes, upSocket, upHead) => {
    status = upRes.statusCode ?? 0;
    ctx.trackUpstream(upSocket);
    if ((upRes.headers.upgrade ?? '').toLowerCase() !== 'websocket' || upRes.headers['sec-websocket-extensions']) {
      status = 502;
      decision = 'deny';
      reason = upRes.headers['sec-websocket-extensions']
        ? 'the upstream switched to WebSocket with an extension the gateway did not offer (compressed frames cannot be scanned)'
        : `the upstream switched to ${JSON.stringify(upRes.headers.upgrade ?? '')}, not WebSocket`;
      upSocket.destroy();
      const body = redactor.redactText(`bot-bottle egress gateway: ${reason}\n`);
      socket.end(rawResponse(502, ['content-type', 'text/plain; charset=utf-8', 'content-length', String(Buffer.byteLength(body)), 'connection', 'close']) + body);
      return;
    }
    const drop = hopHeaders(upRes.rawHeaders);
    const rh = redactor.redactHeaders(filterHeaders(upRes.rawHeaders, drop));
    redacted += rh.found;
    socket.write(rawResponse(101, [...rh.headers, 'Connection', 'Upgrade', 'Upgrade', 'websocket']));

    // Bottle → upstream: frames scanned before they go.
    const scan = new WebSocketClientScanner(dlp, { routed: true });
    scan.on('error', (e) => {
      decision = 'deny';
      reason = e instanceof DlpError ? `dlp: ${e.message}` : e instanceof WebSocketScanError ? e.message : `websocket: ${e.message}`;
      closeBoth();
    });
    scan.on('data', (c: Buffer) => {
      bytesUp += c.length;
      ctx.pacer.add(c.length);
    });
    scan.pipe(upSocket);
    if (head.length) scan.write(head);
    socket.pipe(scan);
    socket.resume();

    // Upstream → bottle: injected values overwritten.
    const down = redactor.empty ? null : redactor.stream();
    if (down) {
      streams.push(down);
      down.pipe(socket);
    }
    const sink = down ?? socket;
    if (upHead.length) sink.write(upHead);
    upSocket.on('data', (c: Buffer) => {
      bytes += c.length;
      ctx.pacer.add(c.length);
    });
    upSocket.pipe(sink);
    upSocket.on('error', closeBoth);
    upSocket.on('close', () => {
      socket.end();
      finish();
    });
  });

  upReq.on('error', (e: NodeJS.ErrnoException) => {
    if (status !== 0 || socket.destroyed) return;
    reason ??= upstreamErrorReason(e);
    status = 502;
    const body = redactor.redactText(`bot-bottle egress gateway: ${reason}\n`);
    socket.end(rawResponse(502, ['content-type', 'text/plain; charset=utf-8', 'content-length', String(Buffer.byteLength(body)), 'connection', 'close']) + body);
  });
  upReq.end();
}
