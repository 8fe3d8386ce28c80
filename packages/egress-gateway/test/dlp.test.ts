import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import { fetchText, makeUpstreamPki, proxyDispatcher, startTestGateway, startUpstream, waitFor, type TestGateway, type Upstream } from './helpers.js';

const SECRET = 'injected-secret-Zq8w3Xk2Lm9Pv4Rt';
// Token-shaped strings are assembled at run time so that secret scanners reading this file see no tokens.
const TOKENS: Record<string, string> = {
  'Anthropic API key': ['sk', 'ant', 'api03', 'AbCdEfGhIjKlMnOpQrStUvWxYz012345'].join('-'),
  'OpenAI API key': ['sk', 'proj', 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd'].join('-'),
  'GitHub token': 'gh' + 'p_' + 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789',
  'GitHub fine-grained token': 'github' + '_pat_' + '11ABCDEFG0123456789_abcdefghijklmnop',
  'GitLab token': 'gl' + 'pat-' + 'AbCdEfGhIjKlMnOpQrSt',
  'Slack token': 'xo' + 'xb-' + '123456789012-123456789012-AbCdEf',
  'AWS access key id': 'AK' + 'IA' + 'QWERTYUIOPASDFGH',
};
const KIND_OF: Record<string, string> = { 'GitHub fine-grained token': 'GitHub token' };
const JWT = ['eyJhbGciOiJIUzI1NiJ9', 'eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ', 'c2lnbmF0dXJl'].join('.');
const PRIVATE_KEY = ['-----BEGIN', 'OPENSSH PRIVATE KEY-----'].join(' ') + '\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n';

const test = suite<{ up: Upstream; tg: TestGateway; received: Buffer[] }>('dlp');

test.before(async (ctx) => {
  const pki = makeUpstreamPki();
  ctx.received = [];
  ctx.up = await startUpstream(pki);
  ctx.up.server.prependListener('request', (req) => req.on('data', (c: Buffer) => ctx.received.push(c)));
  ctx.tg = await startTestGateway(pki.caPem, [
    { host: 'api.example.test', to: `https://localhost:${ctx.up.port}`, auth: { header: 'x-api-key', env: 'TEST_KEY' } },
  ], { secrets: { TEST_KEY: SECRET } });
});

test.after(async (ctx) => {
  await ctx.tg.close();
  await ctx.up.close();
});

async function expectRefused(ctx: { tg: TestGateway }, url: string, init: Parameters<typeof fetchText>[2], kind: RegExp, where: string) {
  const d = proxyDispatcher(ctx.tg);
  const before = ctx.tg.audit.length;
  const r = await fetchText(d, url, init);
  await d.close();
  assert.is(r.status, 403, `${kind} in ${where}: ${r.text}`);
  assert.match(r.text, /dlp: /);
  await waitFor(() => ctx.tg.audit.length > before);
  const line = ctx.tg.audit.slice(before).find((e) => e.decision === 'deny');
  assert.ok(line, 'a deny line');
  assert.match(line!.reason!, kind, line!.reason!);
  assert.match(line!.reason!, new RegExp(`in the ${where}`));
}

for (const [name, token] of Object.entries(TOKENS)) {
  const kind = new RegExp(`dlp: ${KIND_OF[name] ?? name}`);
  test(`${name} is refused in the URL, a header and the body`, async (ctx) => {
    await expectRefused(ctx, `https://api.example.test/v1/x?key=${encodeURIComponent(token)}`, {}, kind, 'url');
    await expectRefused(ctx, 'https://api.example.test/v1/x', { headers: { 'x-note': `token ${token}` } }, kind, 'header x-note');
    await expectRefused(ctx, 'https://api.example.test/v1/x', { method: 'POST', body: JSON.stringify({ text: `here: ${token} end` }) }, kind, 'body');
  });
}

test('a token base64d or hexed is refused too, and the reason names its encoding', async (ctx) => {
  const token = TOKENS['GitHub token']!;
  const kind = (encoding: string) => new RegExp(`dlp: GitHub token \\(${encoding}\\)`);
  ctx.received.length = 0;
  await expectRefused(ctx, 'https://api.example.test/v1/x', { method: 'POST', body: JSON.stringify({ content: Buffer.from(` ${token}`).toString('base64') }) }, kind('base64'), 'body');
  assert.is(Buffer.concat(ctx.received).length, 0, 'the upstream got none of the body');
  const basic = `Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`;
  await expectRefused(ctx, 'https://api.example.test/v1/x', { headers: { authorization: basic } }, kind('base64'), 'header authorization');
  await expectRefused(ctx, `https://api.example.test/v1/x?h=${Buffer.from(token).toString('hex')}`, {}, kind('hex'), 'url');
});

test('a private key block in a body is refused', async (ctx) => {
  await expectRefused(ctx, 'https://api.example.test/v1/upload', { method: 'PUT', body: JSON.stringify({ key: PRIVATE_KEY }) }, /dlp: private key block/, 'body');
});

test('the injected secret is refused in the URL, another header and the body; the injected header itself is exempt', async (ctx) => {
  const kind = /dlp: the value of TEST_KEY/;
  await expectRefused(ctx, `https://api.example.test/v1/x?leak=${SECRET}`, {}, kind, 'url');
  await expectRefused(ctx, 'https://api.example.test/v1/x', { headers: { authorization: `Bearer ${SECRET}` } }, kind, 'header authorization');
  await expectRefused(ctx, 'https://api.example.test/v1/x', { method: 'POST', body: `prefix ${SECRET} suffix` }, kind, 'body');
  const d = proxyDispatcher(ctx.tg);
  const ok = await fetchText(d, 'https://api.example.test/v1/x', { headers: { 'x-api-key': SECRET } });
  await d.close();
  assert.is(ok.status, 200, 'the header the gateway sets is not scanned (it is replaced)');
});

test('a secret split across body chunks is caught, and no byte of it reaches the upstream', async (ctx) => {
  ctx.received.length = 0;
  const half = Math.floor(SECRET.length / 2);
  const filler = Buffer.alloc(200_000, 'a');
  async function* body() {
    yield filler;
    yield Buffer.from(`more text ${SECRET.slice(0, half)}`);
    await sleep(100);
    yield Buffer.from(`${SECRET.slice(half)} and the rest`);
    await sleep(100);
    yield filler;
  }
  await expectRefused(ctx, 'https://api.example.test/v1/split', { method: 'POST', body: body() }, /dlp: the value of TEST_KEY/, 'body');
  const seen = Buffer.concat(ctx.received).toString('latin1');
  assert.not.ok(seen.includes(SECRET.slice(0, 4)), 'not even the start of the secret was forwarded');
});

test('a JWT goes to a routed host, and is refused elsewhere', async (ctx) => {
  const d = proxyDispatcher(ctx.tg);
  const ok = await fetchText(d, 'https://api.example.test/v1/x', { headers: { 'x-session': JWT } });
  assert.is(ok.status, 200);
  await d.close();
  // An https host no route allows never gets a tunnel; an absolute http:// request is scanned first.
  const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: ctx.tg.gateway.port!, path: 'http://elsewhere.example.test/', headers: { host: 'elsewhere.example.test', 'x-session': JWT } }, (r) => {
      let text = '';
      r.on('data', (c) => (text += c));
      r.on('end', () => resolve({ status: r.statusCode!, text }));
    });
    req.on('error', reject);
    req.end();
  });
  assert.is(res.status, 403);
  assert.match(res.text, /dlp: JWT in the header x-session/);
});

test('a compressed request body, which cannot be scanned, is refused', async (ctx) => {
  const d = proxyDispatcher(ctx.tg);
  const r = await fetchText(d, 'https://api.example.test/v1/x', { method: 'POST', headers: { 'content-encoding': 'gzip' }, body: gzipSync(Buffer.from('hello')) });
  await d.close();
  assert.is(r.status, 403);
  assert.match(r.text, /gzip-encoded request body cannot be scanned/);
});

test('ordinary text that resembles nothing passes', async (ctx) => {
  const d = proxyDispatcher(ctx.tg);
  const r = await fetchText(d, 'https://api.example.test/v1/x?q=sk-learn&desk-top=1', { method: 'POST', body: JSON.stringify({ text: 'ask-anything about AKIA and ghp_ prefixes, and eyJ alone' }) });
  await d.close();
  assert.is(r.status, 200, r.text);
});

test.run();
