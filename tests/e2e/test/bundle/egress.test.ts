/**
 * The egress gateway as a bottle meets it: a real bottle (no network but its forwarder to the
 * bundle's socket), its real bundle, and a test-made HTTPS upstream standing in for public hosts
 * through routes' `to:`. Allowed traffic gets the injected credential; everything else is refused
 * with the right audit line; the secret and the CA key never enter the bottle.
 */
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SECRET_PLACEHOLDER } from '@bot-bottle/core';
import { auditEntry, docker, inBottle, inBottleAsRoot, launchBottle, startWorld, type TestBottle, type UpstreamRecord, type World } from './helpers.js';

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

test('allowed route through to: the upstream receives the injected header; the bottle holds only the placeholder', async () => {
  const env = await inBottle(b(), 'printf %s "$BBTEST_UPSTREAM_TOKEN"');
  assert.is(env.stdout, SECRET_PLACEHOLDER);
  const r = await inBottle(b(), 'curl -sS https://api.example.test/echo?case=allow');
  assert.is(r.exitCode, 0, r.stderr);
  assert.is(r.stdout, 'echo GET /echo\n');
  const [got] = await upstreamGot('case=allow');
  assert.ok(got, 'the upstream saw the request');
  assert.is(got!.headers.authorization, `Bearer ${CANARY}`);
  const e = await auditEntry(b(), (x) => x.path === '/echo?case=allow');
  assert.equal([e.decision, e.method, e.host, e.status, e.rule, e.reason, e.upstream], ['allow', 'GET', 'api.example.test', 200, 'routes[0] api.example.test', null, ctx.world!.upstream.url]);
});

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

test('refused: an unlisted host gets 403 at CONNECT (no certificate made for it) with how to allow it, and a deny line', async () => {
  const r = await inBottle(b(), 'curl -sS -w "\\n%{http_connect}" https://unlisted.example.invalid/x?case=unlisted; echo " exit=$?"');
  assert.match(r.stdout, /\n403 exit=56/, r.stdout + r.stderr);
  // The refusal's body, as a client that reads the CONNECT answer sees it.
  const raw = await b().bottle.target.exec(['node', '-e', `const s=require('net').connect(3128,'127.0.0.1',()=>s.write('CONNECT unlisted.example.invalid:443 HTTP/1.1\\r\\nHost: unlisted.example.invalid:443\\r\\n\\r\\n'));let t='';s.on('data',d=>t+=d);s.on('close',()=>console.log(t))`], { user: 'node' });
  assert.match(raw.stdout, /^HTTP\/1\.1 403/);
  assert.match(raw.stdout, 'no egress route allows host unlisted.example.invalid');
  assert.match(raw.stdout, '"egress": { "routes": [ { "host": "unlisted.example.invalid" } ] }');
  const e = await auditEntry(b(), (x) => x.host === 'unlisted.example.invalid');
  assert.equal([e.decision, e.method, e.path, e.status, e.rule], ['deny', 'CONNECT', 'unlisted.example.invalid:443', 403, null]);
  assert.match(e.reason!, 'no egress route allows host unlisted.example.invalid');
  // Plain http:// through the proxy is decided the same way.
  const plain = await inBottle(b(), 'curl -sS -o /dev/null -w "%{http_code}" http://unlisted-plain.example.invalid/y');
  assert.is(plain.stdout, '403');
  await auditEntry(b(), (x) => x.host === 'unlisted-plain.example.invalid' && x.decision === 'deny' && x.status === 403);
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

test('secret canary: the routed value is nowhere in the bottle (files, env, /proc, docker inspect); nor is the CA key', async () => {
  const plan = b().plan;
  // The canary did leave, through the gateway: the test below looks for something that exists.
  assert.ok((await ctx.world!.upstream.requests()).some((r) => r.headers.authorization === `Bearer ${CANARY}`));
  const keyPem = await readFile(plan.egress.caKeyPath, 'utf8');
  assert.is((await stat(plan.egress.caKeyPath)).mode & 0o777, 0o600);
  // Every base64 line of the key but the first (whose start is the same for every P-256 key).
  const keyLines = keyPem.split('\n').filter((l) => l && !l.startsWith('-----')).slice(1);
  assert.ok(keyLines.length >= 1);
  const patterns = [CANARY, ...keyLines].join('\n') + '\n';
  // Patterns go through stdin, so they are in no file, argv or environ of the bottle while it is searched.
  // Every top-level dir but /proc and /sys (an --exclude-dir would also skip any nested dir named so).
  const fsGrep = 'grep -rlsaF -D skip -f - $(ls -d /* | grep -vx -e /proc -e /sys) ; echo "exit=$?"';
  const procGrep = 'grep -lsaF -f - /proc/[0-9]*/environ /proc/[0-9]*/cmdline ; echo "exit=$?"';

  // The searches are real: they find a control value written to a file, and the placeholder in environ.
  await inBottle(b(), 'echo control-f00d > /home/node/.control');
  let r = await b().bottle.target.exec(['sh', '-c', fsGrep], { stdin: 'control-f00d\n', timeoutMs: 300_000 });
  assert.match(r.stdout, '/home/node/.control');
  r = await b().bottle.target.exec(['sh', '-c', procGrep], { stdin: `${SECRET_PLACEHOLDER}\n` });
  assert.match(r.stdout, /\/proc\/1\/environ/);

  r = await b().bottle.target.exec(['sh', '-c', fsGrep], { stdin: patterns, timeoutMs: 300_000 });
  assert.is(r.stdout, 'exit=1\n', `files in the bottle hold the secret or the CA key:\n${r.stdout}`);
  r = await b().bottle.target.exec(['sh', '-c', procGrep], { stdin: patterns });
  assert.is(r.stdout, 'exit=1\n', `processes in the bottle hold the secret:\n${r.stdout}`);
  for (const user of ['node', 'root']) {
    const env = await b().bottle.target.exec(['env'], { user });
    assert.is(env.exitCode, 0);
    assert.not.ok(env.stdout.includes(CANARY), `env as ${user}`);
    assert.match(env.stdout, `BBTEST_UPSTREAM_TOKEN=${SECRET_PLACEHOLDER}`);
  }
  const inspect = await docker(['inspect', `bot-bottle-${plan.slug}`]);
  assert.is(inspect.exitCode, 0);
  assert.not.ok(inspect.stdout.includes(CANARY), 'docker inspect of the bottle');
  assert.not.ok(keyLines.some((l) => inspect.stdout.includes(l)));
  // Only the certificate was installed.
  const certs = await inBottleAsRoot(b(), 'find /usr/local/share/ca-certificates -type f; grep -rl "PRIVATE KEY" /usr/local/share/ca-certificates /etc/ssl/certs; true');
  const files = certs.stdout.trim().split('\n');
  assert.ok(files.includes(plan.guest.caPath), certs.stdout);
  assert.ok(files.every((f) => f.endsWith('.crt')), `only certificates, no key: ${certs.stdout}`);
});

test.run();
