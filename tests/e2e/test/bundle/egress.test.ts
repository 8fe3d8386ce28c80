/**
 * The egress gateway as a bottle meets it: a real bottle (no network but its forwarder to the
 * bundle's socket), its real bundle, and a test-made HTTPS upstream standing in for public hosts
 * through routes' `to:`. Forged credentials are replaced; IP literals, fronting, other ports,
 * bypasses of the proxy and DLP hits are refused with the right audit line; streams arrive as sent.
 * An allowed route with its injected credential, an unlisted host's refusal and the secret canary
 * are core's backend checks, run for every backend (packages/backend-docker/test/integration/conformance.test.ts).
 */
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { auditEntry, inBottle, launchBottle, startWorld, type TestBottle, type UpstreamRecord, type World } from './helpers.js';

const test = suite('egress through a real bottle');

/** Unique per run, so a hit can only come from this launch. */
const CANARY = `bbcanary-${randomBytes(12).toString('hex')}`;
const ctx: { world?: World; b?: TestBottle } = {};

test.before(async () => {
  ctx.world = await startWorld();
  const to = ctx.world.upstream.url;
  const manifest = {
    bottles: {
      dev: {
        egress: {
          routes: [
            { host: 'api.example.test', auth: { header: 'authorization', env: 'BBTEST_UPSTREAM_TOKEN', format: 'Bearer {value}' }, to },
            { host: 'open.example.test', to },
          ],
        },
      },
    },
    agents: { demo: { bottle: 'dev', provisioners: [] } },
  };
  ctx.b = await launchBottle(ctx.world, manifest, { BBTEST_UPSTREAM_TOKEN: CANARY });
});

test.after(async () => {
  await ctx.b?.bottle.destroy().catch(() => undefined);
  await ctx.world?.cleanup();
});

const b = () => ctx.b!;
const upstreamGot = async (marker: string): Promise<UpstreamRecord[]> => (await ctx.world!.upstream.requests()).filter((r) => r.url.includes(marker));

test('a forged credential header from the bottle is replaced, every copy of it', async () => {
  const r = await inBottle(b(), 'curl -sS -H "Authorization: Bearer forged-by-the-bottle" -H "authorization: second-forgery" https://api.example.test/echo?case=forge');
  assert.is(r.exitCode, 0, r.stderr);
  const [got] = await upstreamGot('case=forge');
  assert.is(got!.headers.authorization, `Bearer ${CANARY}`);
  assert.not.ok(JSON.stringify(got!.headers).includes('forg'), JSON.stringify(got!.headers));
});

test('a route without auth passes no credential', async () => {
  const r = await inBottle(b(), 'curl -sS https://open.example.test/echo?case=open');
  assert.is(r.exitCode, 0, r.stderr);
  const [got] = await upstreamGot('case=open');
  assert.is(got!.headers.authorization, undefined);
});

test('refused: IP-literal destinations (the upstream is there, at that address, and gets nothing)', async () => {
  const ip = ctx.world!.upstream.ip;
  const before = (await ctx.world!.upstream.requests()).length;
  const tls = await inBottle(b(), `curl -sS https://${ip}:8443/echo?case=ip; echo " exit=$?"`);
  assert.match(tls.stdout + tls.stderr, /CONNECT tunnel failed, response 403|exit=56/);
  const e = await auditEntry(b(), (x) => x.method === 'CONNECT' && x.host === ip);
  assert.equal([e.decision, e.status], ['deny', 403]);
  assert.match(e.reason!, `IP-literal destination ${ip} is refused`);
  const plain = await inBottle(b(), `curl -sS -o /dev/null -w "%{http_code}" http://${ip}:8443/echo?case=ip-plain`);
  assert.is(plain.stdout, '403');
  const p = await auditEntry(b(), (x) => x.method === 'GET' && x.decision === 'deny' && x.reason?.includes(`IP-literal destination ${ip}`) === true);
  assert.is(p.status, 403);
  assert.is((await ctx.world!.upstream.requests()).length, before);
});

test('refused: domain fronting (SNI differs from CONNECT, either way round; Host header differs)', async () => {
  // CONNECT names one allowed host, the TLS SNI another (an unlisted CONNECT host is refused before TLS).
  const a = await inBottle(b(), 'openssl s_client -proxy 127.0.0.1:3128 -connect open.example.test:443 -servername api.example.test </dev/null 2>&1; echo "exit=$?"');
  // openssl prints "Verify return code: 0" even without a certificate; what matters is that none came.
  assert.match(a.stdout, 'no peer certificate available');
  assert.match(a.stdout, 'Cipher is (NONE)');
  const ea = await auditEntry(b(), (x) => x.host === 'open.example.test' && x.reason?.includes('SNI api.example.test') === true);
  assert.equal([ea.method, ea.decision, ea.status], ['CONNECT', 'deny', 0]);
  assert.match(ea.reason!, 'TLS SNI api.example.test does not match the CONNECT host open.example.test (domain fronting)');
  // curl --connect-to: the CONNECT goes to the allowed name while the URL (SNI, Host) names another.
  const c = await inBottle(b(), 'curl -sS --connect-to front-b.example.invalid:443:api.example.test:443 https://front-b.example.invalid/echo?case=front; echo " exit=$?"');
  assert.not.match(c.stdout, 'echo GET');
  const ec = await auditEntry(b(), (x) => x.method === 'CONNECT' && x.host === 'api.example.test' && x.reason?.includes('front-b.example.invalid') === true);
  assert.equal([ec.decision, ec.status], ['deny', 0]);
  assert.match(ec.reason!, 'TLS SNI front-b.example.invalid does not match the CONNECT host api.example.test (domain fronting)');
  // Same tunnel and SNI, but a Host header for another site.
  const h = await inBottle(b(), 'curl -sS -w "\\n%{http_code}" -H "Host: front-c.example.invalid" https://api.example.test/echo?case=host');
  assert.ok(h.stdout.endsWith('\n403'), h.stdout);
  const eh = await auditEntry(b(), (x) => x.decision === 'deny' && x.reason?.includes('front-c.example.invalid') === true);
  assert.is(eh.status, 403);
  assert.match(eh.reason!, 'Host header front-c.example.invalid does not match the CONNECT host api.example.test (domain fronting)');
  assert.is((await upstreamGot('case=front')).length + (await upstreamGot('case=host')).length, 0);
});

test('refused: a CONNECT to a port no route allows (22), and SSH bytes through an allowed tunnel', async () => {
  const port22 = await inBottle(b(), `node -e "const s=require('net').connect(3128,'127.0.0.1',()=>s.write('CONNECT api.example.test:22 HTTP/1.1\\r\\nHost: api.example.test:22\\r\\n\\r\\n'));let t='';s.on('data',d=>t+=d);s.on('close',()=>console.log(t))"`);
  assert.match(port22.stdout, /^HTTP\/1\.1 403/);
  assert.match(port22.stdout, /no egress route allows port 22 of api\.example\.test/);
  const script = `
const s = require('net').connect(3128, '127.0.0.1');
let got = '';
s.on('data', (d) => {
  got += d;
  if (got.includes('\\r\\n\\r\\n') && !s.sent) { s.sent = true; s.write('SSH-2.0-OpenSSH_9.2p1 Debian\\r\\n'); }
});
s.on('close', () => { console.log(JSON.stringify(got)); process.exit(0); });
s.on('error', () => {});
s.write('CONNECT api.example.test:443 HTTP/1.1\\r\\nHost: api.example.test:443\\r\\n\\r\\n');
setTimeout(() => { console.log('still open'); process.exit(1); }, 8000);
`;
  const r = await b().bottle.target.exec(['node', '-e', script], { user: 'node', timeoutMs: 20_000 });
  assert.is(r.exitCode, 0, r.stdout + r.stderr);
  const answer = JSON.parse(r.stdout) as string;
  assert.match(answer, /^HTTP\/1\.1 200/);
  assert.is(answer.slice(answer.indexOf('\r\n\r\n') + 4), '', 'nothing came back through the tunnel');
  const e = await auditEntry(b(), (x) => x.method === 'CONNECT' && x.path === 'api.example.test:443' && x.reason?.includes('non-HTTP') === true);
  assert.equal([e.decision, e.status], ['deny', 0]);
  assert.match(e.reason!, 'non-HTTP tunnel refused');
});

test('NO_PROXY tricks get nowhere: without the proxy there is no way out at all', async () => {
  const ip = ctx.world!.upstream.ip;
  const before = (await ctx.world!.upstream.requests()).length;
  const auditBefore = (await b().audit()).length;
  const tries = [
    `NO_PROXY='*' no_proxy='*' curl -sS -m 10 https://api.example.test/echo?case=noproxy`,
    `curl -sS -m 10 --noproxy '*' https://api.example.test/echo?case=noproxy`,
    `curl -sS -m 10 --noproxy '*' -k https://${ip}:8443/echo?case=noproxy`,
    `curl -sS -m 10 --noproxy '*' -k --resolve api.example.test:8443:${ip} https://api.example.test:8443/echo?case=noproxy`,
    `env -u HTTPS_PROXY -u https_proxy -u HTTP_PROXY -u http_proxy curl -sS -m 10 -k https://${ctx.world!.upstream.name}:8443/echo?case=noproxy`,
  ];
  for (const t of tries) {
    const r = await inBottle(b(), `${t}; echo "exit=$?"`);
    assert.not.match(r.stdout, 'echo GET', t);
    assert.match(r.stdout, /exit=(6|7)\b/, `${t}: ${r.stdout}${r.stderr}`);
  }
  // Node's own fetch, with the proxy env turned off (the bottle sets NODE_USE_ENV_PROXY=1), fails the same way.
  const node = await b().bottle.target.exec(['env', '-u', 'NODE_USE_ENV_PROXY', 'node', '-e', `fetch('https://${ip}:8443/echo?case=noproxy').then(() => console.log('reached'), (e) => console.log('failed', e.cause?.code))`], { user: 'node', env: { NODE_TLS_REJECT_UNAUTHORIZED: '0' } });
  assert.match(node.stdout, /^failed/);
  assert.is((await ctx.world!.upstream.requests()).length, before, 'the upstream saw none of them');
  assert.is((await b().audit()).length, auditBefore, 'and none reached the gateway either');
});

test('refused by DLP: a token in a header, a private key in a body (each with its audit line)', async () => {
  const token = `ghp_${'A1b2C3d4E5'.repeat(3)}abcdef`;
  const h = await inBottle(b(), `curl -sS -w "\\n%{http_code}" -H "x-note: ${token}" https://api.example.test/echo?case=dlp-header`);
  assert.ok(h.stdout.endsWith('\n403'), h.stdout);
  const eh = await auditEntry(b(), (x) => x.path === '/echo?case=dlp-header');
  assert.equal([eh.decision, eh.status], ['deny', 403]);
  assert.match(eh.reason!, /^dlp: GitHub token in the header x-note/);
  assert.not.ok(JSON.stringify(eh).includes(token), 'the audit line does not repeat the secret');

  const k = await inBottle(b(), `openssl genpkey -algorithm ed25519 -out /tmp/k.pem 2>/dev/null && curl -sS -w "\\n%{http_code}" --data-binary @/tmp/k.pem https://api.example.test/echo?case=dlp-body`);
  assert.ok(k.stdout.endsWith('\n403'), k.stdout + k.stderr);
  const ek = await auditEntry(b(), (x) => x.path === '/echo?case=dlp-body');
  assert.equal([ek.decision, ek.status, ek.bytesUp], ['deny', 403, 0]);
  assert.match(ek.reason!, /^dlp: private key block in the body/);
  assert.is((await upstreamGot('case=dlp')).length, 0, 'the upstream received neither');
});

test('SSE arrives in the bottle as it is sent: the first event long before the upstream finishes', async () => {
  const r = await inBottle(b(), `curl -sSN https://api.example.test/sse?hold=3000 | while IFS= read -r line; do if [ -n "$line" ]; then echo "$(date +%s%3N) $line"; fi; done`, 30_000);
  assert.is(r.exitCode, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => ({ at: Number(l.split(' ')[0]), text: l.slice(l.indexOf(' ') + 1) }));
  assert.equal(lines.map((l) => l.text), ['data: first', 'data: last']);
  const marks = await ctx.world!.upstream.lines();
  const lastSent = marks.filter((m) => m.sse === 'last-sent').map((m) => m.at as number).pop()!;
  assert.ok(lines[0]!.at < lastSent - 2000, `first event at ${lines[0]!.at}, upstream finished at ${lastSent}`);
  assert.ok(lines[1]!.at - lines[0]!.at >= 2500, 'the second event waited for the upstream');
  const e = await auditEntry(b(), (x) => x.path === '/sse?hold=3000');
  assert.equal([e.decision, e.status], ['allow', 200]);
});

test.run();
