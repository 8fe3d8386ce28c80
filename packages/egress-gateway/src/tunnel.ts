/**
 * CONNECT tunnels: decided before they open (host and port, DLP on the name), then told apart by
 * their first bytes: a TLS ClientHello is intercepted with the bottle CA's certificate for the
 * host (SNI must equal the CONNECT host), an HTTP request line is served as plain HTTP, anything
 * else is closed. Either way the inner connection is handed to the gateway's HTTP server.
 */
import type http from 'node:http';
import type net from 'node:net';
import tls from 'node:tls';
import type { LeafCertificates } from './ca.js';
import { splitHostPort } from './decide.js';
import { destinationProblem, normalizeHost, refusalBody } from './rules.js';
import type { GatewayState } from './state.js';
import { reasonPhrase } from './upstream.js';

export interface TunnelHandler {
  onConnect(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void;
}

/** `serve` hands a connection (the raw tunnel, or the TLS socket terminating it) to the HTTP server. */
export function tunnelHandler(state: GatewayState, leaves: LeafCertificates, serve: (socket: net.Socket) => void): TunnelHandler {
  function refuseConnect(socket: net.Socket, status: number, reason: string, hintHost: string | null, display: string, started: number, hostForLog: string) {
    const body = refusalBody('CONNECT', display, reason, hintHost);
    socket.end(`HTTP/1.1 ${status} ${reasonPhrase(status)}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-bot-bottle-refused: 1\r\nconnection: close\r\n\r\n${body}`);
    state.log({ method: 'CONNECT', host: hostForLog, path: display, status, bytes: 0, bytesUp: 0, decision: 'deny', rule: null, reason }, started);
  }

  function onConnect(req: http.IncomingMessage, socket: net.Socket, head: Buffer) {
    const started = Date.now();
    const authority = req.url ?? '';
    socket.on('error', () => socket.destroy());
    state.slots.start(socket);
    if (state.tunnels.has(socket) || state.outerOf.has(socket)) return refuseConnect(socket, 403, 'CONNECT inside a tunnel is refused', null, authority, started, '');
    const parsed = splitHostPort(authority, 0);
    if (!parsed || parsed.port === 0) return refuseConnect(socket, 400, 'CONNECT needs host:port', null, authority, started, '');
    const { host, port } = parsed;
    const problem = destinationProblem(host);
    if (problem) return refuseConnect(socket, 403, problem, null, authority, started, host);
    const finding = state.dlp.scanText(host, 'host name', { routed: false });
    if (finding) return refuseConnect(socket, 403, `dlp: ${finding.kind} in the ${finding.where}`, null, authority, started, '(withheld)');
    // Decided before the tunnel opens: no certificate is signed, and nothing resolved, for a name
    // or port no route allows.
    const allowed = state.rules.decideConnect(host, port);
    if (!allowed.allowed) return refuseConnect(socket, 403, allowed.reason, host, authority, started, host);
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    const decideTunnel = (first: Buffer) => {
      const b0 = first[0]!;
      if (b0 === 0x16) return interceptTls(socket, host, port, started);
      const text = first.subarray(0, 16).toString('latin1');
      if (/^[A-Z]{3,10}( |$)/.test(text) || (first.length < 4 && /^[A-Z]+$/.test(text))) {
        state.tunnels.set(socket, { host, port, tls: false });
        state.slots.end(socket);
        // The HTTP parser reads the socket's handle directly and would never see the bytes
        // already read, so they are taken back out of the stream and handed to it as data.
        const buffered: Buffer[] = [];
        for (let c: Buffer | null; (c = socket.read() as Buffer | null) !== null; ) buffered.push(c);
        serve(socket);
        if (buffered.length) socket.emit('data', Buffer.concat(buffered));
        socket.resume();
        return;
      }
      const reason = 'non-HTTP tunnel refused: the first bytes are neither TLS nor HTTP';
      state.log({ method: 'CONNECT', host, path: authority, status: 0, bytes: 0, bytesUp: first.length, decision: 'deny', rule: null, reason }, started);
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
      state.log({ method: 'CONNECT', host, path: authority, status: 0, bytes: 0, bytesUp: 0, decision: 'deny', rule: null, reason }, started);
      socket.destroy();
    }, state.firstByteTimeoutMs);
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
      state.log({ method: 'CONNECT', host, path: `${host}:${port}`, status: 0, bytes: 0, bytesUp: 0, decision: 'deny', rule: null, reason: `could not issue a certificate: ${(e as Error).message}` }, started);
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
        state.log({ method: 'CONNECT', host, path: `${host}:${port}`, status: 0, bytes: 0, bytesUp: 0, decision: 'deny', rule: null, reason }, started);
      }
      tlsSocket.destroy();
      socket.destroy();
    });
    tlsSocket.once('close', () => socket.destroy());
    state.tunnels.set(tlsSocket, { host, port, tls: true });
    state.outerOf.set(tlsSocket, socket);
    state.slots.end(socket);
    serve(tlsSocket);
    socket.resume();
  }

  return { onConnect };
}
