/**
 * The injected secret never comes back: attacks on loopback by a bottle that can get an upstream
 * to send back what the gateway sent it. Nothing the bottle observes (which bytes arrive, and
 * when, the status line, trailers, informational responses, error texts, WebSocket handshakes and
 * close frames) may depend on a partial match of the secret, nor carry any part of it. Each attack
 * has a control showing that the path it uses really carries bytes.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import type net from 'node:net';
import tls from 'node:tls';
import { DlpScanner, Redactor, encodedForms } from '@bot-bottle/egress-gateway';
import { connectTunnel, makeUpstreamPki, startTestGateway, startUpstream, waitFor, type TestGateway, type Upstream } from './helpers.js';

const SECRET = 'sk-live-Zq8Xw2Lm5Np7Rt4Vb6Cd9Fg1Hj3Kp0Qs5Wy';

interface Ctx {
  up: Upstream;
  tg: TestGateway;
}
const test = suite<Ctx>('the injected secret never comes back');

const wsAccept = (key: string) => createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');

test.before(async (ctx) => {
  const pki = makeUpstreamPki();
  ctx.up = await startUpstream(pki, (req, res, body) => {
    const key = String(req.headers['x-api-key'] ?? '');
    const reply: Record<string, (() => void) | undefined> = {
      // The upstream quotes the key in its reason phrase.
      '/status': () => {
        res.writeHead(200, `OK ${key}`, { 'content-type': 'text/plain' });
        res.end('fine');
      },
      '/status-error': () => {
        res.writeHead(400, `Bad key ${key}`);
        res.end();
      },
      '/trailer': () => {
        res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-echo' });
        res.write('body;');
        res.addTrailers({ 'x-echo': key });
        res.end();
      },
      '/early-hints': () => {
        res.writeEarlyHints({ link: `</style.css?k=${key}>; rel=preload` });
        res.end('after hints');
      },
      // An upgrade this upstream does not honour: a plain answer with the key in its reason phrase.
      '/no-upgrade': () => {
        res.writeHead(403, `Nope ${key}`, { 'content-type': 'text/plain' });
        res.end('no');
      },
      '/echo-body': () => res.end(body),
    };
    // A streaming echo: what the bottle sends in its body comes straight back, chunk by chunk.
    if (req.url === '/stream-echo') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.flushHeaders();
      req.on('data', (c: Buffer) => res.write(c));
      req.on('end', () => res.end());
      return;
    }
    (reply[req.url ?? ''] ?? (() => res.end('ok')))();
  });
  // A WebSocket upstream that quotes the key in its 101 reason phrase and in a close frame's reason.
  ctx.up.server.on('upgrade', (req, socket: net.Socket) => {
    if (req.url === '/no-upgrade') {
      socket.end(`HTTP/1.1 403 Nope ${String(req.headers['x-api-key'])}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
      return;
    }
    const key = String(req.headers['x-api-key'] ?? '');
    socket.write(`HTTP/1.1 101 Switching ${key}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${wsAccept(String(req.headers['sec-websocket-key']))}\r\n\r\n`);
    const reason = Buffer.from(`bye ${key}`);
    socket.end(Buffer.concat([Buffer.from([0x88, 2 + reason.length, 0x0f, 0xa0]), reason]));
  });
  ctx.tg = await startTestGateway(pki.caPem, [
    { host: 'api.example.test', to: `https://localhost:${ctx.up.port}`, methods: ['GET', 'POST'], auth: { header: 'x-api-key', env: 'KEY' } },
    // A route that injects nothing: the bottle's own echo, say.
    { host: 'echo.example.test', to: `https://localhost:${ctx.up.port}`, methods: ['GET', 'POST'] },
  ], { secrets: { KEY: SECRET } });
});

test.after(async (ctx) => {
  await ctx.tg.close();
  await ctx.up.close();
});

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

/** Sends a raw request in a fresh tunnel and reads until the gateway closes or `ms` pass. */
async function raw(ctx: Ctx, host: string, request: string, ms = 3000): Promise<string> {
  const t = await tunnel(ctx, host);
  let text = '';
  t.on('data', (c: Buffer) => (text += c.toString('latin1')));
  t.on('error', () => undefined);
  t.write(request);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    t.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
    t.on('end', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  t.destroy();
  return text;
}

/** No part of the secret of 8 characters or more, in any of its encoded forms, is in `text`. */
function assertNoPart(text: string, what: string) {
  for (const form of [SECRET, ...encodedForms(SECRET)]) {
    for (let i = 0; i + 8 <= form.length; i += 4) {
      assert.not.ok(text.includes(form.slice(i, i + 8)), `${what} carries part of the secret (${form.slice(i, i + 8)}): ${text.slice(0, 300)}`);
    }
  }
}

// ---- the redactor is no oracle ------------------------------------------------------------------

test('redactor: how many bytes a chunk releases does not depend on whether its end begins the secret', () => {
  const redactor = new Redactor([SECRET, ...encodedForms(SECRET)]);
  const lengths = (input: string[]) => {
    const s = redactor.stream({ idleFlushMs: 0 });
    const out: number[] = [];
    s.on('data', (c: Buffer) => out.push(c.length));
    for (const chunk of input) {
      const before = out.length;
      s.write(Buffer.from(chunk));
      // What each write released, synchronously: the observable step of the oracle.
      out.splice(before, out.length - before, out.slice(before).reduce((a, b) => a + b, 0));
    }
    return out;
  };
  const filler = 'x'.repeat(300);
  for (const k of [1, 2, 8, 20, SECRET.length - 1]) {
    const guess = SECRET.slice(0, k);
    const control = (SECRET.slice(0, k - 1) + (SECRET[k - 1] === '#' ? '%' : '#')).replace(/^s/, k === 1 ? '#' : 's');
    assert.equal(lengths([filler + guess, filler]), lengths([filler + control, filler]), `a chunk ending in the secret's first ${k} characters is released like one that does not`);
    assert.equal(lengths([guess]), lengths([control]), `a short chunk of the secret's first ${k} characters`);
  }
});

test('redactor: the whole secret is still overwritten across chunks, at every split, and nothing else changes', async () => {
  const redactor = new Redactor([SECRET, ...encodedForms(SECRET)]);
  for (let split = 1; split < SECRET.length; split++) {
    const s = redactor.stream({ idleFlushMs: 0 });
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    const done = new Promise((r) => s.on('end', r));
    s.write(Buffer.from(`a=${SECRET.slice(0, split)}`));
    s.end(Buffer.from(`${SECRET.slice(split)};b=${SECRET.slice(0, 10)}`));
    await done;
    assert.is(Buffer.concat(chunks).toString(), `a=${'*'.repeat(SECRET.length)};b=${SECRET.slice(0, 10)}`);
  }
});

/**
 * One probe of the oracle: a chunk `lead + probe + pad` where the pad fills the request scanner's
 * window (held back until the body goes on), so the upstream echoes `lead + probe` and the end of
 * what it streams back is the probe. Returns the echoed body once it stops growing.
 */
async function echoProbe(ctx: Ctx, probe: string): Promise<string> {
  const window = new DlpScanner({ KEY: SECRET }).window;
  const t = await tunnel(ctx, 'echo.example.test');
  let received = '';
  t.on('data', (c: Buffer) => (received += c.toString('latin1')));
  t.on('error', () => undefined);
  t.write('POST /stream-echo HTTP/1.1\r\nhost: echo.example.test\r\ntransfer-encoding: chunked\r\n\r\n');
  const body = () => (received.includes('\r\n\r\n') ? received.slice(received.indexOf('\r\n\r\n') + 4) : '').replace(/(^|\r\n)[0-9a-f]+\r\n/g, '$1').replace(/\r\n/g, '');
  const lead = 'lead:';
  const piece = lead + probe + '.'.repeat(window);
  t.write(`${Buffer.byteLength(piece).toString(16)}\r\n${piece}\r\n`);
  // Everything the scanner let through comes back in the end, whatever it is: nothing is held
  // for its content. (A redactor that held a prefix of the secret never sends it.)
  await waitFor(() => body().length >= lead.length + probe.length, 4000).catch(() => undefined);
  const got = body();
  t.destroy();
  return got;
}

test('streaming echo on a route that injects nothing: a guessed prefix of the secret comes back exactly as a wrong guess does', async (ctx) => {
  for (const k of [4, 12, 30]) {
    const guess = SECRET.slice(0, k);
    const control = `${SECRET.slice(0, k - 1)}#`;
    const g = await echoProbe(ctx, guess);
    const c = await echoProbe(ctx, control);
    assert.is(c, `lead:${control}`, 'control: a wrong guess is echoed whole');
    assert.is(g, `lead:${guess}`, `the secret's first ${k} characters are echoed like any other bytes`);
  }
});

// ---- nothing of the secret in what the gateway relays or writes ------------------------------------

test('status lines: the reason phrase of a response is the standard one, never the upstream text quoting the key', async (ctx) => {
  const ok = await raw(ctx, 'api.example.test', 'GET /status HTTP/1.1\r\nhost: api.example.test\r\nconnection: close\r\n\r\n');
  assert.match(ok, /^HTTP\/1\.1 200 OK\r\n/, 'control: the response came back');
  assert.match(ok, /fine/);
  assertNoPart(ok, 'a 200 response');
  const bad = await raw(ctx, 'api.example.test', 'GET /status-error HTTP/1.1\r\nhost: api.example.test\r\nconnection: close\r\n\r\n');
  assert.match(bad, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assertNoPart(bad, 'a 400 response');
});

test('a 101 and a non-101 answer to an upgrade get the standard reason phrase; a close frame quoting the key is overwritten', async (ctx) => {
  const wsKey = Buffer.from('0123456789abcdef').toString('base64');
  const up = await raw(ctx, 'api.example.test', `GET /ws HTTP/1.1\r\nhost: api.example.test\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: ${wsKey}\r\n\r\n`);
  assert.match(up, /^HTTP\/1\.1 101 Switching Protocols\r\n/, `control: the upstream switched: ${up.slice(0, 80)}`);
  assert.ok(up.includes('bye '), 'control: the close frame came through');
  assertNoPart(up, 'the 101 and its close frame');
  const no = await raw(ctx, 'api.example.test', `GET /no-upgrade HTTP/1.1\r\nhost: api.example.test\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: ${wsKey}\r\n\r\n`);
  assert.match(no, /^HTTP\/1\.1 403 Forbidden\r\n/, `control: the refusal came back: ${no.slice(0, 80)}`);
  assertNoPart(no, 'the non-101 answer');
});

test('trailers and 1xx informational responses from the upstream do not reach the bottle', async (ctx) => {
  const tr = await raw(ctx, 'api.example.test', 'GET /trailer HTTP/1.1\r\nhost: api.example.test\r\nconnection: close\r\n\r\n');
  assert.match(tr, /body;/, 'control: the body came back');
  assertNoPart(tr, 'a response with a trailer');
  const hints = await raw(ctx, 'api.example.test', 'GET /early-hints HTTP/1.1\r\nhost: api.example.test\r\nconnection: close\r\n\r\n');
  assert.match(hints, /after hints/, 'control: the final response came back');
  assert.not.match(hints, /^HTTP\/1\.1 103/);
  assertNoPart(hints, 'a response after early hints');
});

test('an echo of a body holding the whole secret comes back overwritten (control: a prefix alone comes back as sent)', async (ctx) => {
  const body = `whole=${SECRET};prefix=${SECRET.slice(0, 12)}`;
  const res = await raw(ctx, 'api.example.test', `POST /echo-body HTTP/1.1\r\nhost: api.example.test\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
  // The bottle cannot send the secret itself (DLP refuses it), so the upstream's echo is refused first.
  assert.match(res, /^HTTP\/1\.1 403 /);
  assert.match(res, /dlp: the value of KEY/);
  const prefixOnly = `prefix=${SECRET.slice(0, 12)}`;
  const ok = await raw(ctx, 'api.example.test', `POST /echo-body HTTP/1.1\r\nhost: api.example.test\r\ncontent-length: ${prefixOnly.length}\r\nconnection: close\r\n\r\n${prefixOnly}`);
  assert.match(ok, /^HTTP\/1\.1 200 OK/);
  assert.ok(ok.endsWith(prefixOnly), 'a prefix the bottle itself sent is neither refused nor starred');
});

// ---- framing headers and values as credentials ------------------------------------------------------

test('a route may not inject a framing, routing or hop-by-hop header, in any case (control: authorization is fine)', async (ctx) => {
  for (const header of ['content-length', 'Content-Length', 'transfer-encoding', 'host', 'connection', 'keep-alive', 'te', 'trailer', 'upgrade', 'expect', 'proxy-authorization', 'Proxy-Foo']) {
    const err = await ctx.tg.gateway.setRoutes([{ host: 'x.example.test', auth: { header, env: 'SHLVL' } }], { SHLVL: '1' }).then(() => null, (e: Error) => e);
    assert.ok(err, `a route injecting ${header} was accepted`);
    assert.match(String((err as { details?: string[] }).details), /frames, routes or belongs to one hop/);
  }
  const kept = ctx.tg.gateway.routes();
  await ctx.tg.gateway.setRoutes([...kept, { host: 'x.example.test', auth: { header: 'authorization', env: 'KEY', format: 'Bearer {value}' } }]);
  await ctx.tg.gateway.setRoutes(kept);
});

test('a value with a line break, or one too short to be redacted, is never injected', async (ctx) => {
  const err = await ctx.tg.gateway.setRoutes([{ host: 'x.example.test', auth: { header: 'x-token', env: 'SPLIT' } }], { SPLIT: 'abc\r\ncontent-length: 0' }).then(() => null, (e: Error) => e);
  assert.ok(err);
  assert.match(err!.message, /not a usable secret/);
  const short = await ctx.tg.gateway.setRoutes([{ host: 'x.example.test', auth: { header: 'x-token', env: 'SHORT' } }], { SHORT: 'abc1234' }).then(() => null, (e: Error) => e);
  assert.ok(short, 'a value too short for DLP and the redactor to look for was accepted');
  const fmt = await ctx.tg.gateway.setRoutes([{ host: 'x.example.test', auth: { header: 'x-token', env: 'KEY', format: '{value}\r\nx-smuggled: 1' } }]).then(() => null, (e: Error) => e);
  assert.ok(fmt);
  assert.match(String((fmt as { details?: string[] }).details), /printable ASCII/);
});

test.run();
