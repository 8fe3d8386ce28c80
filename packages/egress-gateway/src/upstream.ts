/**
 * The upstream leg of an allowed request: the request to the upstream (body scanned as it streams),
 * the response back (decoded where it must be read, injected values overwritten), and the answers
 * the gateway writes itself when either side fails.
 *
 * Of the upstream's status line only the code reaches the bottle: the reason phrase is the
 * standard one for the code, never the upstream's text (which could quote the injected key).
 * Trailers and 1xx informational responses are not relayed.
 */
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import { BlockedAddressError, guardedLookup } from './address-guard.js';
import type { Allowed, Refusal } from './decide.js';
import { DlpError } from './dlp.js';
import { filterHeaders, hopHeaders } from './headers.js';
import type { RedactStream } from './redact.js';
import { refusalBody } from './rules.js';
import type { GatewayState } from './state.js';

/** The standard reason phrase for `status` (empty for a code without one). */
export function reasonPhrase(status: number): string {
  return http.STATUS_CODES[status] ?? '';
}

/** Why an upstream connection failed, in words for the bottle and the log; nothing the upstream wrote. */
export function upstreamErrorReason(e: NodeJS.ErrnoException): string {
  const code = e.code ?? '';
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS_CERT_ALTNAME/.test(code)) {
    return `upstream certificate not trusted (${code}): give its CA to the gateway as an extra CA if it is yours`;
  }
  if (e instanceof BlockedAddressError) return `refused: ${e.message}`;
  // A code names the failure; a message could quote what the upstream sent (a parser's error).
  return `upstream error: ${code || 'the connection failed'}`;
}

export function sendRefusal(res: http.ServerResponse, method: string, display: string, r: Refusal): void {
  const body = refusalBody(method, display, r.reason, r.hintHost);
  res.writeHead(r.status, reasonPhrase(r.status), { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'x-bot-bottle-refused': '1' });
  res.end(body);
}

/** A 502 the gateway writes itself, its text redacted like anything else that reaches the bottle. */
export function sendGatewayError(state: GatewayState, res: http.ServerResponse, reason: string): void {
  const text = state.redactor.redactText(`bot-bottle egress gateway: ${reason}\n`);
  res.writeHead(502, reasonPhrase(502), { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
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

export function forward(state: GatewayState, req: http.IncomingMessage, res: http.ServerResponse, d: Allowed, started: number): void {
  const method = req.method ?? 'GET';
  const { upstream, dest } = d;
  // The state's scanner and redactor at the time of the request: a route change mid-exchange
  // does not swap them under a stream.
  const { dlp, redactor } = state;
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
    state.log({ method, host: dest.host, path: dest.target, status: res.headersSent ? res.statusCode : 0, bytes, bytesUp: scan?.bytes ?? 0, decision, rule: d.rule, reason, upstream: d.route.to ? `${upstream.scheme}://${upstream.host}:${upstream.port}` : undefined }, started);
  };
  const { agents } = state;
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
  upReq.on('socket', (s) => state.trackUpstream(s));
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
          // The coding's name is the upstream's text (a cut of it could carry part of the key): not quoted.
          reason = 'the upstream sent a response in a content coding the gateway cannot decode, so it cannot scan it for the injected credential';
          upReq.destroy();
          sendGatewayError(state, res, reason);
          return;
        }
        if (decoder) {
          drop.add('content-encoding');
          drop.add('content-length');
          decoder.on('error', (e: NodeJS.ErrnoException) => {
            reason ??= `the upstream's compressed response could not be decoded (${e.code ?? 'corrupt data'})`;
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
    const status = upRes.statusCode ?? 502;
    res.writeHead(status, reasonPhrase(status), headers as unknown as http.OutgoingHttpHeaders);
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
      state.pacer.add(c.length);
    });
    // pipe() and explicit clean-up rather than pipeline(): pipeline makes an AbortController (and
    // an AbortError with its stack trace) per exchange, a measurable cost per small request.
    upRes.on('error', (err: NodeJS.ErrnoException) => {
      reason ??= `stream ended early: ${err.code ?? 'the upstream closed the connection'}`;
      res.destroy();
    });
    res.on('error', (err: NodeJS.ErrnoException) => {
      reason ??= `stream ended early: ${err.code ?? 'the client closed the connection'}`;
      upReq.destroy();
    });
    body.pipe(res);
  });
  upReq.on('error', (e: NodeJS.ErrnoException) => {
    if (e instanceof DlpError || reason) return;
    reason = upstreamErrorReason(e);
    if (!res.headersSent) sendGatewayError(state, res, reason);
    else res.destroy();
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
    req.on('data', (c: Buffer) => state.pacer.add(c.length));
    req.pipe(scan).pipe(upReq);
  } else upReq.end(); // nothing to scan or send: no stream plumbing for the common GET
  req.on('aborted', () => upReq.destroy());
}
