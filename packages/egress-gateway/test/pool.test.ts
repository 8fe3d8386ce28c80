/**
 * The gateway on several processes (pool.ts): a route approved through the admin socket is in
 * force in every process when the PUT returns, audit lines from all of them stay whole and
 * complete, and the connection bound holds for the whole gateway. Connections go to the processes
 * in turn, so N fresh connections in a row reach every one of them when N is a multiple of their
 * number.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { ProxyAgent } from 'undici';
import { createBottleCa, startAdminServer, startGatewayPool, workerCount, type AdminServer, type AuditEntry, type Gateway } from '@bot-bottle/egress-gateway';
import { fetchText, makeUpstreamPki, rawConnect, startUpstream, tempDir, waitFor, type Upstream } from './helpers.js';

const PROCESSES = 3;
const NEW_KEY = 'pool-approved-key-5a4b3c2d1e0f';

interface Ctx {
  dir: string;
  up: Upstream;
  gateway: Gateway;
  admin: AdminServer;
  caPem: string;
  audit: AuditEntry[];
  auditPath: string;
}

const test = suite<Ctx>('gateway pool', {} as Ctx);

test.before(async (ctx) => {
  const pki = makeUpstreamPki();
  ctx.dir = tempDir('egress-pool-');
  ctx.up = await startUpstream(pki);
  const ca = await createBottleCa(path.join(ctx.dir, 'egress'));
  ctx.caPem = ca.certPem;
  ctx.audit = [];
  ctx.auditPath = path.join(ctx.dir, 'audit.jsonl');
  ctx.gateway = await startGatewayPool({
    workers: PROCESSES,
    ca: { cert: ca.certPath, key: ca.keyPath },
    routes: [{ host: 'api.example.test', to: `https://localhost:${ctx.up.port}` }],
    extraCaCerts: [pki.caPem],
    auditLogPath: ctx.auditPath,
    onAudit: (e) => ctx.audit.push(e),
    maxClientConnections: 30,
  });
  ctx.admin = await startAdminServer(ctx.gateway, path.join(ctx.dir, 'admin.sock'));
});

test.after(async (ctx) => {
  await ctx.admin.close();
  await ctx.gateway.close();
  await ctx.up.close();
  rmSync(ctx.dir, { recursive: true, force: true });
});

/** One request on a connection of its own (a fresh CONNECT tunnel: the next process in turn). */
async function onFreshConnection(ctx: Ctx, url: string) {
  const d = new ProxyAgent({ uri: ctx.gateway.url!, requestTls: { ca: ctx.caPem }, connections: 1 });
  try {
    return await fetchText(d, url);
  } finally {
    await d.close();
  }
}

function adminPut(ctx: Ctx, body: unknown): Promise<{ status: number; json: { routes?: unknown[]; error?: string } }> {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const req = http.request({ socketPath: ctx.admin.socketPath, path: '/routes', method: 'PUT', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } }, (res) => {
      let out = '';
      res.on('data', (c) => (out += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(out) as { routes?: unknown[]; error?: string } }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

test('a route approved through the admin socket is in force in every process when the PUT returns', async (ctx) => {
  const rounds = PROCESSES * 3;
  // Control: before, every process refuses the name (and the allowed one answers on each).
  for (let i = 0; i < rounds; i++) {
    const refused = await onFreshConnection(ctx, 'https://late.example.test/x');
    assert.is(refused.status, 403, `connection ${i} before the approval`);
    assert.ok(refused.connectRefused);
    assert.is((await onFreshConnection(ctx, 'https://api.example.test/ok')).status, 200);
  }
  const before = ctx.gateway.routes();
  const put = await adminPut(ctx, {
    routes: [...before, { host: 'late.example.test', to: `https://localhost:${ctx.up.port}`, auth: { header: 'x-api-key', env: 'POOL_NEW_KEY' } }],
    secrets: { POOL_NEW_KEY: NEW_KEY },
  });
  assert.is(put.status, 200, JSON.stringify(put.json));
  // No waiting: the answer came after every process confirmed the routes.
  ctx.up.seen.length = 0;
  for (let i = 0; i < rounds; i++) {
    const r = await onFreshConnection(ctx, `https://late.example.test/after-${i}`);
    assert.is(r.status, 200, `connection ${i} after the approval`);
  }
  const seen = ctx.up.seen.filter((s) => s.url.startsWith('/after-'));
  assert.is(seen.length, rounds);
  // The credential the approval brought is injected by every process.
  for (const s of seen) assert.is(s.headers['x-api-key'], NEW_KEY);
  // A bad change is refused as a whole and changes nothing anywhere.
  const bad = await adminPut(ctx, { routes: [...before, { host: 'bad.example.test', auth: { header: 'x-k', env: 'NOT_HELD' } }] });
  assert.is(bad.status, 400);
  assert.match(bad.json.error ?? '', /NOT_HELD/);
  for (let i = 0; i < PROCESSES; i++) assert.is((await onFreshConnection(ctx, 'https://late.example.test/still')).status, 200);
});

test('audit lines from every process arrive whole, one per request', async (ctx) => {
  await waitFor(() => readFileSync(ctx.auditPath, 'utf8').split('\n').filter(Boolean).length === ctx.audit.length);
  const start = ctx.audit.length;
  const d = new ProxyAgent({ uri: ctx.gateway.url!, requestTls: { ca: ctx.caPem }, connections: PROCESSES * 4 });
  const n = 300;
  const results = await Promise.all(Array.from({ length: n }, (_, i) => fetchText(d, `https://api.example.test/burst-${i}?pad=${'x'.repeat(i % 50)}`)));
  await d.close();
  assert.ok(results.every((r) => r.status === 200));
  await waitFor(() => ctx.audit.length - start >= n);
  await waitFor(() => readFileSync(ctx.auditPath, 'utf8').split('\n').filter(Boolean).length === ctx.audit.length);
  const lines = readFileSync(ctx.auditPath, 'utf8').split('\n');
  assert.is(lines.pop(), '', 'the file ends with a whole line');
  const paths = new Set<string>();
  for (const line of lines) {
    const e = JSON.parse(line) as AuditEntry; // throws on a torn or interleaved line
    if (e.path.startsWith('/burst-')) paths.add(e.path.split('?')[0]!);
  }
  assert.is(paths.size, n, 'every request of the burst has its line');
});

test('the connection bound holds for the whole gateway: a flood is evicted, a request still passes', async (ctx) => {
  const sockets: net.Socket[] = [];
  for (let i = 0; i < 90; i++) {
    const s = net.connect(ctx.gateway.port!, '127.0.0.1');
    s.on('error', () => undefined);
    if (i % 2) s.write('GET http://api.example.test/ HTTP/1.1\r\nHost: api');
    sockets.push(s);
  }
  await new Promise((r) => setTimeout(r, 300));
  assert.is((await onFreshConnection(ctx, 'https://api.example.test/after-flood')).status, 200);
  // Workers report their counts at least once a second.
  await new Promise((r) => setTimeout(r, 1300));
  const stats = ctx.gateway.stats();
  assert.ok(stats.clientSockets <= 30, `held ${stats.clientSockets}`);
  assert.ok(stats.evictedClients >= 55, `evicted ${stats.evictedClients}`);
  for (const s of sockets) s.destroy();
});

test('a refused CONNECT is refused the same by every process', async (ctx) => {
  for (let i = 0; i < PROCESSES; i++) {
    const r = await rawConnect(ctx.gateway.port!, 'api.example.test:22');
    assert.is(r.status, 403);
    assert.match(r.text, /port 22/);
  }
});

test.run();

const count = suite('workers: "auto"');
count('half the usable cores, at least 1, at most 4; a number as given', () => {
  assert.equal([1, 2, 3, 4, 8, 64].map((cores) => workerCount('auto', cores)), [1, 1, 1, 2, 4, 4]);
  assert.is(workerCount(3, 1), 3);
  assert.ok(workerCount('auto') >= 1);
});
count.run();
