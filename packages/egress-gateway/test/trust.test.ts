/**
 * The upstream trust store: an upstream is reached only when its certificate chains to a CA the
 * gateway trusts (Node's default store plus the config's extra CAs), and the extra CAs one gateway
 * trusts stay its own: they reach neither another gateway in the same process nor Node's default
 * store. Each refusal has its control: the same upstream answers a gateway that trusts its CA.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import tls from 'node:tls';
import { fetchText, makeUpstreamPki, proxyDispatcher, startTestGateway, startUpstream, type TestGateway, type TestPki, type Upstream } from './helpers.js';

interface Ctx {
  pki: TestPki;
  up: Upstream;
  /** Trusts the upstream's CA (the control). */
  trusting: TestGateway;
  /** Started after `trusting` in the same process, trusting another CA only. */
  other: TestGateway;
  /** No extra CA at all: Node's default store only. */
  bare: TestGateway;
}
const test = suite<Ctx>('upstream trust');

const route = (port: number) => [{ host: 'localhost', ports: [port], to: `https://localhost:${port}` }];

test.before(async (ctx) => {
  ctx.pki = makeUpstreamPki();
  ctx.up = await startUpstream(ctx.pki);
  ctx.trusting = await startTestGateway(ctx.pki.caPem, route(ctx.up.port));
  ctx.other = await startTestGateway(makeUpstreamPki().caPem, route(ctx.up.port));
  ctx.bare = await startTestGateway('', route(ctx.up.port), { extraCaCerts: [] });
});

test.after(async (ctx) => {
  await Promise.all([ctx.trusting.close(), ctx.other.close(), ctx.bare.close(), ctx.up.close()]);
});

const get = async (tg: TestGateway, port: number, path: string) => {
  const dispatcher = proxyDispatcher(tg);
  try {
    return await fetchText(dispatcher, `https://localhost:${port}${path}`);
  } finally {
    await dispatcher.close();
  }
};

test('control: a gateway given the upstream CA as an extra CA reaches the upstream', async (ctx) => {
  const r = await get(ctx.trusting, ctx.up.port, '/trusted');
  assert.is(r.status, 200);
  assert.ok(ctx.up.seen.some((s) => s.url === '/trusted'));
});

test('an upstream whose CA another gateway of the same process trusts is refused, and never sees the request', async (ctx) => {
  const r = await get(ctx.other, ctx.up.port, '/other');
  assert.is(r.status, 502);
  assert.match(r.text, /upstream certificate not trusted/);
  assert.not.ok(ctx.up.seen.some((s) => s.url === '/other'));
  const entry = ctx.other.audit.find((e) => e.path === '/other');
  assert.match(entry?.reason ?? '', /upstream certificate not trusted/);
});

test('with no extra CA (Node default store only) the private-CA upstream is refused', async (ctx) => {
  const r = await get(ctx.bare, ctx.up.port, '/bare');
  assert.is(r.status, 502);
  assert.match(r.text, /upstream certificate not trusted/);
  assert.not.ok(ctx.up.seen.some((s) => s.url === '/bare'));
});

test("a gateway's extra CA does not reach Node's default store: a plain TLS client still refuses the upstream", async (ctx) => {
  const code = await new Promise<string>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: ctx.up.port, servername: 'localhost' }, () => {
      resolve('trusted');
      s.destroy();
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
  assert.match(code, /UNABLE_TO_VERIFY|SELF_SIGNED|CERT/);
  // Control: the same client with the upstream's CA connects.
  const ok = await new Promise<string>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: ctx.up.port, servername: 'localhost', ca: ctx.pki.caPem }, () => {
      resolve('trusted');
      s.destroy();
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
  assert.is(ok, 'trusted');
});

test.run();
