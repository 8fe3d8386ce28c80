import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { startAdminServer } from '@bot-bottle/egress-gateway';
import { parseAuditEntry } from '@bot-bottle/core';
import {
  connectTunnel,
  rawConnect,
  fetchText,
  makeUpstreamPki,
  proxyDispatcher,
  requestThroughTunnel,
  startTestGateway,
  startUpstream,
  waitFor,
  type TestGateway,
  type Upstream,
} from './helpers.js';

const SECRET = 'test-secret-value-0123456789abcdef';
const test = suite<{ up: Upstream; tg: TestGateway }>('routes');

test.before(async (ctx) => {
  const pki = makeUpstreamPki();
  ctx.up = await startUpstream(pki);
  ctx.tg = await startTestGateway(pki.caPem, [
    { host: 'api.example.test', to: `https://localhost:${ctx.up.port}`, auth: { header: 'x-api-key', env: 'TEST_KEY' } },
    { host: 'bearer.example.test', to: `https://localhost:${ctx.up.port}`, auth: { header: 'authorization', env: 'TEST_KEY', format: 'Bearer {value}' } },
    { host: '*.wild.example.test', to: `https://localhost:${ctx.up.port}`, methods: ['GET'], paths: ['/v1/'] },
  ], { secrets: { TEST_KEY: SECRET } });
});

test.after(async (ctx) => {
  await ctx.tg.close();
  await ctx.up.close();
});

test('the CA key is mode 600 and the certificate is a CA', (ctx) => {
  const key = path.join(ctx.tg.dir, 'egress', 'ca.key');
  assert.is(statSync(key).mode & 0o777, 0o600);
  assert.match(readFileSync(path.join(ctx.tg.dir, 'egress', 'ca.crt'), 'utf8'), /BEGIN CERTIFICATE/);
});

test('an allowed route reaches the upstream with the injected header, replacing a forged one', async (ctx) => {
  const d = proxyDispatcher(ctx.tg);
  const r1 = await fetchText(d, 'https://api.example.test/v1/messages?x=1', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"hello":"world"}' });
  assert.is(r1.status, 200, r1.text);
  const echo = JSON.parse(r1.text) as { headers: Record<string, string>; url: string; bodyLength: number };
  // The upstream got the credential; its echo of it reaches the bottle overwritten.
  assert.is(ctx.up.seen.at(-1)!.headers['x-api-key'], SECRET);
  assert.is(echo.headers['x-api-key'], '*'.repeat(SECRET.length));
  assert.is(echo.url, '/v1/messages?x=1');
  assert.is(echo.bodyLength, 17);
  assert.is(ctx.up.seen.at(-1)!.body, '{"hello":"world"}');

  const r2 = await fetchText(d, 'https://api.example.test/v1/x', { headers: { 'X-Api-Key': 'bot-bottle-placeholder', 'x-other': 'kept' } });
  const echo2 = JSON.parse(r2.text) as { headers: Record<string, string | string[]> };
  assert.is(r2.status, 200);
  assert.is(ctx.up.seen.at(-1)!.headers['x-api-key'], SECRET, 'the placeholder is replaced');
  assert.is(echo2.headers['x-other'], 'kept');

  const r3 = await fetchText(d, 'https://bearer.example.test/', { headers: { authorization: 'Bearer forged' } });
  assert.is(r3.status, 200);
  assert.is(ctx.up.seen.at(-1)!.headers.authorization, `Bearer ${SECRET}`);
  await d.close();
  const allowed = ctx.tg.audit.filter((e) => e.decision === 'allow' && e.host === 'api.example.test');
  assert.ok(allowed.length >= 2);
  assert.is(allowed[0]!.rule, 'routes[0] api.example.test');
  assert.is(allowed[0]!.status, 200);
  assert.is(allowed[0]!.method, 'POST');
  assert.is(allowed[0]!.path, '/v1/messages?x=1');
  assert.ok(allowed[0]!.bytes > 0);
  assert.is(allowed[0]!.bytesUp, 17);
  assert.not.ok(readFileSync(ctx.tg.auditPath, 'utf8').includes(SECRET), 'the audit log never holds the secret');
});

test('an unlisted host gets 403 at CONNECT with how to allow it, and no certificate is made for it', async (ctx) => {
  const d = proxyDispatcher(ctx.tg);
  const viaClient = await fetchText(d, 'https://not-listed.example.test/some/path');
  await d.close();
  assert.equal([viaClient.status, viaClient.connectRefused], [403, true]);
  const r = await rawConnect(ctx.tg.gateway.port!, 'not-listed.example.test:443');
  assert.is(r.status, 403);
  assert.match(r.text, /no egress route allows host not-listed\.example\.test/);
  assert.match(r.text, /"egress": \{ "routes": \[ \{ "host": "not-listed\.example\.test" \} \] \}/);
  assert.match(r.text, /supervise/);
  const line = ctx.tg.audit.find((e) => e.host === 'not-listed.example.test')!;
  assert.is(line.method, 'CONNECT');
  assert.is(line.decision, 'deny');
  assert.is(line.status, 403);
  assert.is(line.rule, null);
  assert.match(line.reason!, /no egress route/);
});

test('plain http:// through the proxy is decided the same way', async (ctx) => {
  const plain = http.createServer((req, res) => res.end(`plain ${req.headers.host} ${req.headers['x-api-key']}`));
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', () => r()));
  const plainPort = (plain.address() as net.AddressInfo).port;
  const before = ctx.tg.gateway.routes();
  await ctx.tg.gateway.setRoutes([...before, { host: 'plain.example.test', schemes: ['http'], to: `http://localhost:${plainPort}`, auth: { header: 'x-api-key', env: 'TEST_KEY', cleartext: true } }]);
  const get = (url: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: ctx.tg.gateway.port!, path: url, headers: { host: new URL(url).host, 'x-api-key': 'forged' } }, (r) => {
        let text = '';
        r.on('data', (c) => (text += c));
        r.on('end', () => resolve({ status: r.statusCode!, text }));
      });
      req.on('error', reject);
      req.end();
    });
  const ok = await get('http://plain.example.test/p');
  assert.is(ok.status, 200);
  // The plain upstream echoes the credential: redacted on the way back.
  assert.is(ok.text, `plain localhost:${plainPort} ${'*'.repeat(SECRET.length)}`);
  const no = await get('http://other.example.test/p');
  assert.is(no.status, 403);
  assert.match(no.text, /no egress route allows host other\.example\.test/);
  await ctx.tg.gateway.setRoutes(before);
  plain.close();
});

test('method and path limits, and wildcard hosts', async (ctx) => {
  const d = proxyDispatcher(ctx.tg);
  assert.is((await fetchText(d, 'https://a.wild.example.test/v1/ok')).status, 200);
  assert.is((await fetchText(d, 'https://wild.example.test/v1/ok')).status, 403, '*.suffix does not match the suffix itself');
  const post = await fetchText(d, 'https://a.wild.example.test/v1/ok', { method: 'POST', body: 'x' });
  assert.is(post.status, 403);
  assert.match(post.text, /allows methods GET only/);
  const other = await fetchText(d, 'https://a.wild.example.test/v2/no');
  assert.is(other.status, 403);
  assert.match(other.text, /allows paths \/v1\/ only/);
  const dots = await fetchText(d, 'https://a.wild.example.test/v1/%2e%2e/admin');
  assert.is(dots.status, 403);
  await d.close();
});

test('IP-literal destinations are refused, at CONNECT and as absolute URLs', async (ctx) => {
  const port = ctx.tg.gateway.port!;
  for (const target of ['127.0.0.1:443', '[::1]:443', '2130706433:443', '169.254.169.254:443']) {
    const { status, socket } = await connectTunnel(port, target);
    socket.destroy();
    assert.is(status, 403, target);
  }
  const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: 'http://169.254.169.254/latest/meta-data/', headers: { host: '169.254.169.254' } }, (r) => {
      let text = '';
      r.on('data', (c) => (text += c));
      r.on('end', () => resolve({ status: r.statusCode!, text }));
    });
    req.on('error', reject);
    req.end();
  });
  assert.is(res.status, 403);
  assert.match(res.text, /IP-literal/);
  assert.ok(ctx.tg.audit.some((e) => e.method === 'CONNECT' && e.host === '169.254.169.254' && e.decision === 'deny' && /IP-literal/.test(e.reason!)));
});

test('domain fronting: SNI or Host that differs from the CONNECT host is refused', async (ctx) => {
  const port = ctx.tg.gateway.port!;
  // Both names are routed (an unrouted CONNECT never gets this far): the tunnel is for one, the SNI or Host for the other.
  const sni = await requestThroughTunnel(port, ctx.tg.caPem, { connect: 'bearer.example.test:443', sni: 'api.example.test', hostHeader: 'api.example.test' });
  assert.ok('error' in sni, 'the TLS handshake fails');
  await waitFor(() => ctx.tg.audit.some((e) => /SNI api\.example\.test does not match the CONNECT host bearer\.example\.test/.test(e.reason ?? '')));
  const host = await requestThroughTunnel(port, ctx.tg.caPem, { connect: 'bearer.example.test:443', sni: 'bearer.example.test', hostHeader: 'api.example.test', path: '/v1/x' });
  assert.ok('status' in host && host.status === 403);
  assert.match((host as { text: string }).text, /Host header api\.example\.test does not match the CONNECT host/);
  const good = await requestThroughTunnel(port, ctx.tg.caPem, { connect: 'api.example.test:443', sni: 'api.example.test', hostHeader: 'api.example.test' });
  assert.ok('status' in good && good.status === 200, JSON.stringify(good));
  const fronted = ctx.tg.audit.filter((e) => /domain fronting/.test(e.reason ?? ''));
  assert.ok(fronted.length >= 2 && fronted.every((e) => e.decision === 'deny'));
});

test('a CONNECT tunnel that carries neither TLS nor HTTP is closed', async (ctx) => {
  // A plain TCP service on loopback that the tunnel must never reach.
  let reached = false;
  const decoy = net.createServer((s) => {
    reached = true;
    s.end('SSH-2.0-decoy\r\n');
  });
  await new Promise<void>((r) => decoy.listen(0, '127.0.0.1', () => r()));
  const { status, socket } = await connectTunnel(ctx.tg.gateway.port!, 'api.example.test:443');
  assert.is(status, 200);
  socket.write('SSH-2.0-OpenSSH_9.2\r\n');
  await new Promise<void>((resolve) => socket.on('close', () => resolve()));
  assert.not.ok(reached);
  decoy.close();
  const line = ctx.tg.audit.find((e) => e.method === 'CONNECT' && /non-HTTP tunnel/.test(e.reason ?? ''));
  assert.ok(line);
  assert.is(line!.decision, 'deny');
});

test('a silent tunnel (server-speaks-first protocol) is closed after the first-byte timeout', async () => {
  const pki = makeUpstreamPki();
  const tg = await startTestGateway(pki.caPem, [{ host: 'smtp.example.test', ports: [25] }], { tunnelFirstByteTimeoutMs: 200 });
  const { status, socket } = await connectTunnel(tg.gateway.port!, 'smtp.example.test:25');
  assert.is(status, 200);
  await new Promise<void>((resolve) => socket.on('close', () => resolve()));
  assert.match(tg.audit[0]!.reason!, /sent nothing/);
  await tg.close();
});

test('plain HTTP inside a CONNECT tunnel is decided like any request: a route without "http" in schemes refuses it', async (ctx) => {
  const { status, socket } = await connectTunnel(ctx.tg.gateway.port!, 'api.example.test:443');
  assert.is(status, 200);
  socket.write('GET /x HTTP/1.1\r\nHost: api.example.test\r\nConnection: close\r\n\r\n');
  let text = '';
  socket.on('data', (c) => (text += c));
  await new Promise<void>((resolve) => socket.on('close', () => resolve()));
  assert.match(text, /^HTTP\/1\.1 403/);
  assert.match(text, /routes\[0\] api\.example\.test allows https only/);
  assert.not.ok(ctx.up.seen.some((r) => r.url === '/x'), 'the upstream got nothing');
});

test('routes change at run time through the admin socket, without a restart', async (ctx) => {
  const sock = path.join(ctx.tg.dir, 'admin.sock');
  const admin = await startAdminServer(ctx.tg.gateway, sock);
  const call = (method: string, body?: unknown) =>
    new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
      const req = http.request({ socketPath: sock, path: '/routes', method, headers: { 'content-type': 'application/json' } }, (r) => {
        let t = '';
        r.on('data', (c) => (t += c));
        r.on('end', () => resolve({ status: r.statusCode!, json: JSON.parse(t) as Record<string, unknown> }));
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  const d = proxyDispatcher(ctx.tg);
  assert.is((await fetchText(d, 'https://late.example.test/')).status, 403);
  const before = (await call('GET')).json.routes as unknown[];
  const bad = await call('PUT', { routes: [{ host: 'http://bad' }] });
  assert.is(bad.status, 400);
  assert.match(String((bad.json.details as string[])[0]), /routes\[0\]\.host: host must not include a scheme/);
  const missing = await call('PUT', { routes: [{ host: 'x.example.test', auth: { header: 'x-k', env: 'NOT_GIVEN' } }] });
  assert.is(missing.status, 400);
  assert.match(String(missing.json.error), /NOT_GIVEN/);
  const ok = await call('PUT', { routes: [...before, { host: 'late.example.test', to: `https://localhost:${ctx.up.port}` }] });
  assert.is(ok.status, 200);
  assert.is((await fetchText(d, 'https://late.example.test/')).status, 200);
  await call('PUT', { routes: before });
  assert.is((await fetchText(d, 'https://late.example.test/')).status, 403);
  await d.close();
  await admin.close();
});

test('a route approved at run time may inject a credential the gateway did not hold: its value comes with the routes, is injected, redacted and scanned for, and never echoed', async (ctx) => {
  const sock = path.join(ctx.tg.dir, 'admin-secrets.sock');
  const admin = await startAdminServer(ctx.tg.gateway, sock);
  const call = (method: string, body?: unknown) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request({ socketPath: sock, path: '/routes', method, headers: { 'content-type': 'application/json' } }, (r) => {
        let t = '';
        r.on('data', (c) => (t += c));
        r.on('end', () => resolve({ status: r.statusCode!, text: t }));
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  const LATE = 'late-secret-value-9876543210fedcba';
  const before = ctx.tg.gateway.routes();
  const route = { host: 'late-auth.example.test', to: `https://localhost:${ctx.up.port}`, auth: { header: 'x-late-key', env: 'LATE_KEY' } };
  // Control: without the value the change is refused and nothing changes.
  const refused = await call('PUT', { routes: [...before, route] });
  assert.is(refused.status, 400);
  assert.match(refused.text, /no value for LATE_KEY/);
  const badName = await call('PUT', { routes: [...before, { ...route, auth: { header: 'x-late-key', env: 'constructor' } }], secrets: { constructor: LATE } });
  assert.is(badName.status, 400, badName.text);
  const ok = await call('PUT', { routes: [...before, route], secrets: { LATE_KEY: LATE, UNUSED_KEY: 'not kept' } });
  assert.is(ok.status, 200, ok.text);
  assert.not.ok(ok.text.includes(LATE), 'the value is never sent back');
  assert.not.ok((await call('GET')).text.includes(LATE));
  const d = proxyDispatcher(ctx.tg);
  const r = await fetchText(d, 'https://late-auth.example.test/echo', { headers: { 'x-late-key': 'forged' } });
  assert.is(r.status, 200, r.text);
  assert.is(ctx.up.seen.at(-1)!.headers['x-late-key'], LATE, 'the upstream got the value');
  assert.is((JSON.parse(r.text) as { headers: Record<string, string> }).headers['x-late-key'], '*'.repeat(LATE.length), 'its echo is redacted');
  const leak = await fetchText(d, 'https://api.example.test/v1/x', { method: 'POST', body: `exfil=${LATE}` });
  assert.is(leak.status, 403, 'the bottle sending the new value is refused (control: the same request without it passes, above)');
  assert.match(leak.text, /LATE_KEY/);
  await d.close();
  // A value the gateway holds is kept: a second value for TEST_KEY changes nothing.
  const again = await call('PUT', { routes: before, secrets: { TEST_KEY: 'other' } });
  assert.is(again.status, 200);
  const d2 = proxyDispatcher(ctx.tg);
  assert.is((await fetchText(d2, 'https://api.example.test/v1/x')).status, 200);
  assert.is(ctx.up.seen.at(-1)!.headers['x-api-key'], SECRET);
  await d2.close();
  await admin.close();
});

test("the audit file has one JSON line per decision, each an egress entry as core's parser reads it", async (ctx) => {
  const read = () => readFileSync(ctx.tg.auditPath, 'utf8').trim().split('\n');
  // Lines are appended asynchronously; wait until the file has caught up with the decisions made.
  await waitFor(() => read().length === ctx.tg.audit.length);
  const lines = read();
  assert.ok(lines.length > 10);
  for (const l of lines) {
    const e = JSON.parse(l) as Record<string, unknown>;
    for (const k of ['time', 'source', 'method', 'host', 'path', 'status', 'bytes', 'decision', 'rule', 'reason']) assert.ok(k in e, `${k} in ${l}`);
    assert.ok(e.decision === 'allow' || e.decision === 'deny');
    assert.is(e.source, 'egress');
    assert.equal(parseAuditEntry(l), e, 'read back by `bottle logs` as written');
  }
});

test.run();
