/**
 * Attacks on the gateway's streams, on loopback: upgrades an upstream does not honour, secrets in
 * WebSocket frames, an upstream that reflects the injected credential (raw, encoded, compressed),
 * and a flood of idle connections. Each has a control showing the target answered.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gzipSync } from 'node:zlib';
import net from 'node:net';
import tls from 'node:tls';
import { WebSocket, WebSocketServer } from 'ws';
import { blockedAddressReason } from '@bot-bottle/egress-gateway';
import { connectTunnel, fetchText, makeUpstreamPki, proxyDispatcher, startTestGateway, startUpstream, waitFor, type TestGateway, type Upstream } from './helpers.js';

const SECRET = 'reflect-secret-Qw3Er5Ty7Ui9Op1As';
const b64 = (s: string) => Buffer.from(s).toString('base64');

interface Ctx {
  up: Upstream;
  plain: Upstream;
  tg: TestGateway;
  wsMessages: string[];
  /** Every request line the no-upgrade upstream received, in order. */
  rawLines: string[];
}
const test = suite<Ctx>('attacks on streams');

test.before(async (ctx) => {
  const pki = makeUpstreamPki();
  ctx.wsMessages = [];
  ctx.up = await startUpstream(pki, (req, res, body) => {
    const key = String(req.headers['x-api-key'] ?? '');
    const reply: Record<string, (() => void) | undefined> = {
      '/echo': () => res.end(`${req.method} ${req.url} key=${key} body=${body.toString()}`),
      '/b64': () => res.end(`{"token":"${b64(`..${key}`)}","hex":"${Buffer.from(key).toString('hex')}"}`),
      '/header': () => {
        res.setHeader('x-debug-key', key);
        res.end('ok');
      },
      '/gzip': () => {
        res.setHeader('content-encoding', 'gzip');
        res.end(gzipSync(`zipped key=${key}`));
      },
      '/gzip-forced': () => {
        // Ignores Accept-Encoding: identity, as some servers do.
        res.setHeader('content-encoding', 'zstd-unknown');
        res.end('opaque');
      },
    };
    (reply[req.url ?? ''] ?? (() => res.end('ok')))();
  });
  const wss = new WebSocketServer({ server: ctx.up.server });
  wss.on('connection', (ws) => ws.on('message', (m) => {
    ctx.wsMessages.push(m.toString());
    ws.send(`echo:${m.toString()}`);
  }));
  // A server with no upgrade handler: answers every request 200 and logs each request line it parses.
  ctx.rawLines = [];
  ctx.plain = await startUpstream(pki, (req, res) => {
    ctx.rawLines.push(`${req.method} ${req.url}`);
    res.end('no upgrade here');
  });
  ctx.plain.server.on('request', (req) => {
    if (req.headers.upgrade) ctx.rawLines.push(`${req.method} ${req.url} (upgrade asked)`);
  });
  ctx.tg = await startTestGateway(pki.caPem, [
    { host: 'api.example.test', to: `https://localhost:${ctx.up.port}`, methods: ['GET', 'POST', 'TRACE'], auth: { header: 'x-api-key', env: 'KEY' } },
    { host: 'noupgrade.example.test', to: `https://localhost:${ctx.plain.port}`, auth: { header: 'x-api-key', env: 'KEY' } },
    { host: 'other.example.test', to: `https://localhost:${ctx.up.port}` },
    // No `to`: the gateway connects where the name's DNS points — here, loopback.
    { host: 'localhost', ports: [ctx.up.port] },
  ], { secrets: { KEY: SECRET }, maxClientConnections: 40 });
});

test.after(async (ctx) => {
  await ctx.tg.close();
  await ctx.up.close();
  await ctx.plain.close();
});

/** A TLS socket to `host` through a CONNECT tunnel, trusting the gateway CA. */
async function tunnel(ctx: Ctx, host: string): Promise<tls.TLSSocket> {
  const { status, socket } = await connectTunnel(ctx.tg.gateway.port!, `${host}:443`);
  assert.is(status, 200);
  const t = tls.connect({ socket, servername: host, ca: ctx.tg.caPem, ALPNProtocols: ['http/1.1'] });
  await new Promise<void>((resolve, reject) => {
    t.once('secureConnect', () => resolve());
    t.once('error', reject);
  });
  return t;
}

function readAll(s: net.Socket, ms = 3000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    let text = '';
    const timer = setTimeout(() => resolve({ text, closed: false }), ms);
    s.on('data', (c: Buffer) => (text += c.toString('latin1')));
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    s.on('error', () => undefined);
  });
}

test('an upgrade the upstream does not honour: its answer is relayed, the connection closed, and later requests on it never reach the upstream', async (ctx) => {
  const t = await tunnel(ctx, 'noupgrade.example.test');
  const done = readAll(t);
  t.write('GET /chat HTTP/1.1\r\nHost: noupgrade.example.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
  // What an attacker sends next, hoping for a raw pipe: a request the route (GET only by default... any method) must decide.
  setTimeout(() => t.write('DELETE /admin HTTP/1.1\r\nHost: noupgrade.example.test\r\nContent-Length: 0\r\n\r\n'), 300);
  const r = await done;
  assert.ok(r.closed, 'the gateway closed the connection');
  assert.match(r.text, /^HTTP\/1\.1 200/);
  assert.match(r.text, /no upgrade here/);
  assert.equal(ctx.rawLines.filter((l) => !l.includes('upgrade asked')), ['GET /chat'], 'the upstream saw the upgrade request only (control), never the DELETE');
  await waitFor(() => ctx.tg.audit.some((e) => e.path === '/chat' && /instead of switching protocols/.test(e.reason ?? '')));
});

test('an upgrade request with a body, a non-GET upgrade and a non-WebSocket upgrade are refused', async (ctx) => {
  for (const req of [
    'GET /chat HTTP/1.1\r\nHost: api.example.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 5\r\n\r\nhello',
    'POST /chat HTTP/1.1\r\nHost: api.example.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n',
    'GET /chat HTTP/1.1\r\nHost: api.example.test\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n',
  ]) {
    const t = await tunnel(ctx, 'api.example.test');
    const done = readAll(t);
    t.write(req);
    const r = await done;
    assert.match(r.text, /^HTTP\/1\.1 403/, req);
    assert.ok(r.closed);
  }
});

test('WebSocket: a message carrying the injected value (raw or base64) closes the connection before it reaches the upstream', async (ctx) => {
  const open = async () => {
    const t = await tunnel(ctx, 'api.example.test');
    const ws = new WebSocket('wss://api.example.test/ws', { createConnection: () => t } as WebSocket.ClientOptions);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return ws;
  };
  const ws = await open();
  const echo = await new Promise<string>((resolve) => {
    ws.once('message', (m) => resolve(m.toString()));
    ws.send('hello');
  });
  assert.is(echo, 'echo:hello', 'control: ordinary messages pass both ways');
  ws.close();
  for (const leak of [`key ${SECRET}`, b64(`xx${SECRET}`), Buffer.from(SECRET).toString('hex')]) {
    const w = await open();
    const closed = new Promise<void>((resolve) => w.once('close', () => resolve()));
    w.on('error', () => undefined);
    w.send(leak);
    await closed;
    assert.not.ok(ctx.wsMessages.includes(leak), `the upstream never got ${leak.slice(0, 12)}...`);
  }
  await waitFor(() => ctx.tg.audit.filter((e) => e.path === '/ws' && /dlp: the value of KEY in the websocket message/.test(e.reason ?? '')).length === 3);
});

test('reflected secrets: an echo (TRACE where named), base64 and hex echoes, a header echo and a gzip echo come back overwritten', async (ctx) => {
  const d = proxyDispatcher(ctx.tg);
  const stars = '*'.repeat(SECRET.length);
  const trace = await fetchText(d, 'https://api.example.test/echo', { method: 'TRACE' as 'GET' });
  assert.is(trace.status, 200);
  assert.is(trace.text, `TRACE /echo key=${stars} body=`);
  const enc = await fetchText(d, 'https://api.example.test/b64');
  assert.not.ok(enc.text.includes(b64(`..${SECRET}`)) || enc.text.includes(Buffer.from(SECRET).toString('hex')), enc.text);
  assert.match(enc.text, /\*{20,}/);
  const h = await fetchText(d, 'https://api.example.test/header');
  assert.is(h.headers['x-debug-key'], stars);
  const z = await fetchText(d, 'https://api.example.test/gzip');
  assert.is(z.text, `zipped key=${stars}`, 'decoded by the gateway and redacted');
  assert.is(z.headers['content-encoding'], undefined);
  const opaque = await fetchText(d, 'https://api.example.test/gzip-forced');
  assert.is(opaque.status, 502, 'a coding the gateway cannot read is not passed on a credential route');
  // Control: the upstream did receive the real value.
  assert.ok(ctx.up.seen.some((r) => r.headers['x-api-key'] === SECRET));
  await d.close();
  await waitFor(() => ctx.tg.audit.some((e) => e.path === '/echo' && /redacted 1 copies/.test(e.reason ?? '')));
});

test('a flood of idle connections does not stop the gateway answering: the idlest are closed to make room', async (ctx) => {
  const sockets: net.Socket[] = [];
  for (let i = 0; i < 120; i++) {
    const s = net.connect(ctx.tg.gateway.port!, '127.0.0.1');
    s.on('error', () => undefined);
    // Half send a partial request and stall (slow-loris); half send nothing.
    if (i % 2) s.write('GET http://other.example.test/ HTTP/1.1\r\nHost: other');
    sockets.push(s);
  }
  await new Promise((r) => setTimeout(r, 300));
  const d = proxyDispatcher(ctx.tg);
  const r = await fetchText(d, 'https://other.example.test/x');
  assert.is(r.status, 200);
  await d.close();
  const stats = ctx.tg.gateway.stats();
  assert.ok(stats.evictedClients >= 80, `evicted ${stats.evictedClients}`);
  assert.ok(stats.clientSockets <= 40, `held ${stats.clientSockets}`);
  for (const s of sockets) s.destroy();
});

test('a routed name whose DNS points at loopback, link-local or metadata is not connected (without an explicit to)', async (ctx) => {
  const before = ctx.up.seen.length;
  const d = proxyDispatcher(ctx.tg);
  const r = await fetchText(d, `https://localhost:${ctx.up.port}/echo?case=dns-loopback`);
  await d.close();
  assert.is(r.status, 502);
  assert.match(r.text, /localhost resolves to (127\.0\.0\.1|::1), a loopback/);
  assert.is(ctx.up.seen.length, before, 'the loopback upstream got nothing');
  // Control: the same upstream through a route whose `to` names it.
  const d2 = proxyDispatcher(ctx.tg);
  assert.is((await fetchText(d2, 'https://other.example.test/echo')).status, 200);
  await d2.close();
  for (const a of ['127.0.0.1', '127.8.9.1', '::1', '::ffff:127.0.0.1', '169.254.169.254', 'fe80::1', 'fd00:ec2::254', '100.100.100.200', '0.0.0.0']) assert.ok(blockedAddressReason(a), a);
  for (const a of ['10.1.2.3', '172.17.0.2', '192.168.1.1', '93.184.216.34', '2606:4700::1']) assert.is(blockedAddressReason(a), null, a);
});

test.run();
