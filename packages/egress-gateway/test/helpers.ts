/**
 * Test parts: a test CA and HTTPS upstream on loopback (made with the openssl CLI, independent of
 * the gateway's own certificate code), a gateway with a fresh bottle CA, and proxy clients.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { ProxyAgent, request, type Dispatcher } from 'undici';
import { createBottleCa, startGateway, type AuditEntry, type Gateway, type GatewayOptions } from '@bot-bottle/egress-gateway';

export function tempDir(prefix = 'egress-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface TestPki {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** A test CA and a server certificate for localhost / 127.0.0.1 signed by it. */
export function makeUpstreamPki(): TestPki {
  const dir = tempDir('egress-pki-');
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=egress test upstream CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=localhost');
  writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  run('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.crt', '-days', '2', '-extfile', 'ext.cnf');
  const pki = { caPem: readFileSync(path.join(dir, 'ca.crt'), 'utf8'), certPem: readFileSync(path.join(dir, 'srv.crt'), 'utf8'), keyPem: readFileSync(path.join(dir, 'srv.key'), 'utf8') };
  rmSync(dir, { recursive: true, force: true });
  return pki;
}

export interface Upstream {
  server: https.Server;
  port: number;
  /** Requests seen: method, url, headers, body. */
  seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[];
  close(): Promise<void>;
}

export async function startUpstream(pki: TestPki, handler?: (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void): Promise<Upstream> {
  const seen: Upstream['seen'] = [];
  const server = https.createServer({ cert: pki.certPem, key: pki.keyPem, keepAliveTimeout: 30_000 }, (req, res) => {
    if (req.url?.startsWith('/stream')) return handler?.(req, res, Buffer.alloc(0));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: body.toString('utf8') });
      if (handler) return handler(req, res, body);
      const text = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, bodyLength: body.length });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    server,
    port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

export interface TestGateway {
  gateway: Gateway;
  dir: string;
  caPem: string;
  audit: AuditEntry[];
  auditPath: string;
  close(): Promise<void>;
}

export async function startTestGateway(upstreamCaPem: string, routes: unknown[], extra: Partial<GatewayOptions> = {}): Promise<TestGateway> {
  const dir = tempDir();
  const ca = await createBottleCa(path.join(dir, 'egress'));
  const audit: AuditEntry[] = [];
  const auditPath = path.join(dir, 'audit.jsonl');
  const gateway = await startGateway({
    ca: { cert: ca.certPath, key: ca.keyPath },
    routes,
    extraCaCerts: [upstreamCaPem],
    auditLogPath: auditPath,
    onAudit: (e) => audit.push(e),
    ...extra,
  });
  return {
    gateway,
    dir,
    caPem: ca.certPem,
    audit,
    auditPath,
    async close() {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An undici dispatcher that uses the gateway as its proxy and trusts the gateway CA only. */
export function proxyDispatcher(tg: TestGateway, opts: { connections?: number } = {}): ProxyAgent {
  return new ProxyAgent({ uri: tg.gateway.url!, requestTls: { ca: tg.caPem }, connections: opts.connections ?? null, keepAliveTimeout: 30_000 });
}

/**
 * One request through the proxy. A CONNECT the gateway refuses (a host or port no route allows)
 * never opens a tunnel: that comes back as its CONNECT status with `connectRefused` set.
 */
export async function fetchText(dispatcher: Dispatcher, url: string, init: { method?: Dispatcher.HttpMethod; headers?: Record<string, string>; body?: string | Buffer | AsyncIterable<Buffer> } = {}) {
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, { dispatcher, method: init.method ?? 'GET', headers: init.headers, body: init.body as string | undefined });
  } catch (e) {
    const m = /Proxy response \((\d+)\)/.exec((e as Error).message);
    if (!m) throw e;
    return { status: Number(m[1]), headers: {} as Record<string, string | string[] | undefined>, text: '', connectRefused: true };
  }
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, connectRefused: false };
}

/** A raw CONNECT: the status line and, for a refusal, the body the gateway wrote. */
export function rawConnect(proxyPort: number, authority: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(proxyPort, '127.0.0.1', () => s.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`));
    let text = '';
    s.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (/^HTTP\/1\.1 200/.test(text)) s.destroy();
    });
    s.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text }));
    s.on('error', reject);
  });
}

/** Opens a CONNECT tunnel by hand; resolves with the status line and the socket. */
export function connectTunnel(proxyPort: number, authority: string): Promise<{ status: number; socket: net.Socket; head: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxyPort, method: 'CONNECT', path: authority, headers: { host: authority } });
    req.on('connect', (res, socket, head) => resolve({ status: res.statusCode ?? 0, socket, head: head.toString() }));
    req.on('error', reject);
    req.end();
  });
}

/** Sends one HTTPS request through a hand-made tunnel with a chosen SNI and Host header. */
export async function requestThroughTunnel(
  proxyPort: number,
  caPem: string,
  opts: { connect: string; sni: string; hostHeader: string; path?: string },
): Promise<{ status: number; text: string } | { error: string }> {
  const { status, socket } = await connectTunnel(proxyPort, opts.connect);
  if (status !== 200) return { status, text: '' };
  return new Promise((resolve) => {
    const tlsSocket = tls.connect({ socket, servername: opts.sni, ca: caPem, checkServerIdentity: () => undefined });
    tlsSocket.on('error', (e) => resolve({ error: e.message }));
    tlsSocket.on('secureConnect', () => {
      const req = http.request({ createConnection: () => tlsSocket, path: opts.path ?? '/', headers: { host: opts.hostHeader } });
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', (e) => resolve({ error: e.message }));
      req.end();
    });
  });
}

export function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (cond()) return resolve();
      if (Date.now() - start > timeoutMs) return reject(new Error('timed out waiting'));
      setTimeout(tick, 20);
    };
    tick();
  });
}
