/**
 * The gateway's decisions as pure functions (no sockets): every class of request the outside
 * attack found forwarded, and the controls that must still pass.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DlpScanner, RuleSet, decideRequest, destinationOf, parseRoutes, pathAmbiguity, type Allowed, type Destination, type Refusal } from '@bot-bottle/egress-gateway';

const SECRET = 'sk-test-Zq8w3Xk2Lm9Pv4Rt0123';
const routes = parseRoutes([
  { host: 'api.example.test', paths: ['/v1/'], auth: { header: 'x-api-key', env: 'KEY' } },
  { host: 'open.example.test' },
  { host: '*.wild.example.test' },
  { host: 'echo.example.test', methods: ['GET', 'TRACE'] },
  { host: 'plain.example.test', schemes: ['http'] },
  { host: 'both.example.test', schemes: ['https', 'http'], ports: [443, 8443, 8080] },
  { host: 'to.example.test', to: 'https://internal.example.test:9443' },
  { host: 'clear.example.test', schemes: ['http'], auth: { header: 'x-api-key', env: 'KEY', cleartext: true } },
]);
const ctx = { rules: new RuleSet(routes), dlp: new DlpScanner({ KEY: SECRET }), secrets: { KEY: SECRET } };

function dest(url: string, tunnel?: { host: string; port: number; tls: boolean }, hostHeader?: string): Destination {
  const d = destinationOf(url, tunnel, hostHeader ?? tunnel?.host);
  if ('reason' in d) throw new Error(`destination refused: ${d.reason}`);
  return d;
}
const https = (host: string, target: string, port = 443) => dest(target, { host, port, tls: true });
const decide = (d: Destination, method = 'GET', headers: string[] = []) => decideRequest(ctx, d, method, headers);
const refused = (r: Allowed | Refusal): r is Refusal => 'reason' in r;
/** The one-line details of parseRoutes' error. */
function routeProblems(input: unknown): string {
  try {
    parseRoutes(input);
  } catch (e) {
    return ((e as { details?: string[] }).details ?? []).join('\n');
  }
  return '';
}

const test = suite('decide');

test('paths: every traversal form the attack used is refused under a paths prefix, before anything is sent', () => {
  const attacks = ['/v1/..;/admin', '/v1/%2e%2e;/admin', '/v1/%252e%252e/admin', '/v1/%c0%ae%c0%ae/admin', '/v1/%u002e%u002e/admin', '/v1/..%00/admin', '/v1/../admin', '/v1/./x', '/v1/%2e/x', '/v1/%2fadmin', '/v1/%5cadmin', '/v1\\..\\admin', '/v1/.;/x', '/v1/%ef%bc%8e%ef%bc%8e/admin', '/v1/%e2%80%a4%e2%80%a4/admin'];
  for (const a of attacks) {
    const r = decide(https('api.example.test', a));
    assert.ok(refused(r), `${a} was allowed`);
    assert.is((r as Refusal).status, 403, a);
  }
  // A fragment never belongs in a request target: refused for every route.
  const frag = destinationOf('/v1/x#/../../admin', { host: 'api.example.test', port: 443, tls: true }, 'api.example.test');
  assert.ok('reason' in frag && frag.status === 400, JSON.stringify(frag));
  const fragOpen = destinationOf('http://open.example.test/x#/../admin', undefined, undefined);
  assert.ok('reason' in fragOpen);
});

test('paths: ordinary paths under the prefix pass, and the forwarded target is the checked one', () => {
  for (const p of ['/v1/messages', '/v1/messages?beta=true', '/v1/a%20b', '/v1/caf%C3%A9', '/v1/x..y', '/v1/.well-known-ish', '/v1//x']) {
    const r = decide(https('api.example.test', p));
    assert.not.ok(refused(r), `${p}: ${(r as Refusal).reason}`);
    assert.is((r as Allowed).dest.target, p);
  }
  assert.ok(refused(decide(https('api.example.test', '/v2/x'))));
  assert.ok(refused(decide(https('api.example.test', '/V1/x'))), 'prefixes are case-sensitive: /V1/ is not /v1/');
  assert.is(pathAmbiguity('/v1/ok'), null);
});

test('cleartext: a route is https on 443 unless it says otherwise; plain http and other ports are refused', () => {
  // Plain HTTP inside a tunnel to 80, absolute-form http://, other ports.
  assert.ok(refused(decide(dest('/x', { host: 'open.example.test', port: 80, tls: false }))));
  assert.ok(refused(decide(dest('http://open.example.test/x'))));
  assert.ok(refused(decide(dest('http://api.example.test/v1/x'))), 'never inject over cleartext');
  assert.ok(refused(decide(https('open.example.test', '/x', 8081))));
  assert.ok(refused(decide(dest('http://open.example.test:8081/x'))));
  assert.ok(refused(decide(https('to.example.test', '/x', 8081))), 'a to route still checks the port the bottle used');
  assert.not.ok(refused(decide(https('open.example.test', '/x'))));
  // Plain HTTP in a tunnel to 443 is still plain HTTP.
  assert.ok(refused(decide(dest('/x', { host: 'open.example.test', port: 443, tls: false }))));
  // Opted in: schemes and ports.
  assert.not.ok(refused(decide(dest('http://plain.example.test/x'))));
  assert.ok(refused(decide(https('plain.example.test', '/x'))), 'an http-only route refuses https');
  for (const [u, tls, port] of [['/x', true, 8443], ['/x', false, 8080], ['/x', true, 443]] as const) {
    assert.not.ok(refused(decide(dest(u, { host: 'both.example.test', port, tls }))), `${tls} ${port}`);
  }
  assert.ok(refused(decide(dest('/x', { host: 'both.example.test', port: 80, tls: false }))), 'ports replaces the defaults');
  // Injection over cleartext only where the route says "cleartext": true.
  const clear = decide(dest('http://clear.example.test/x'));
  assert.not.ok(refused(clear));
  assert.ok((clear as Allowed).headers.includes(SECRET));
});

test('cleartext: the manifest refuses a route that would inject over http without saying so', () => {
  assert.match(routeProblems([{ host: 'a.example.test', to: 'http://internal:8080', auth: { header: 'x-k', env: 'KEY' } }]), /^routes\[0\]\.auth: this route would send its credential over plain http/);
  assert.match(routeProblems([{ host: 'a.example.test', schemes: ['http'], auth: { header: 'x-k', env: 'KEY' } }]), /"cleartext": true/);
  assert.is(routeProblems([{ host: 'a.example.test', to: 'https://internal:8443', schemes: ['http'], auth: { header: 'x-k', env: 'KEY' } }]), '', 'the bottle leg never carries the credential');
  assert.is(routeProblems([{ host: 'a.example.test', to: 'http://internal:8080', auth: { header: 'x-k', env: 'KEY', cleartext: true } }]), '');
  assert.match(routeProblems([{ host: 'a.example.test', ports: [0] }]), /1-65535/);
  assert.match(routeProblems([{ host: 'a.example.test', schemes: ['ftp'] }]), /schemes may contain/);
});

test('TRACE and TRACK echo the request: refused unless a route names them', () => {
  for (const m of ['TRACE', 'TRACK', 'trace']) {
    const r = decide(https('open.example.test', '/x'), m);
    assert.ok(refused(r), m);
    assert.match((r as Refusal).reason, /echoes the request/);
  }
  assert.not.ok(refused(decide(https('echo.example.test', '/x'), 'TRACE')));
});

test('hosts: every host is checked as a DNS name before anything else, absolute-form included', () => {
  for (const url of ['http://..x.wild.example.test/', 'http://a..wild.example.test/', 'http://-a.wild.example.test/', 'http://a_b..example.test/', `http://${'a'.repeat(64)}.wild.example.test/`, 'http://127.0.0.1/', 'http://[::1]/', 'http://0x7f.1/', 'http://2130706433/', 'http://user@open.example.test/', 'http://open.example.test:99999/', 'http://%6fpen.example.test/']) {
    const d = destinationOf(url, undefined, undefined);
    assert.ok('reason' in d, `${url} was accepted`);
  }
  const d = destinationOf('http://a.wild.example.test./x', undefined, undefined);
  assert.ok(!('reason' in d) && d.host === 'a.wild.example.test');
});

test('wildcards: *.x matches one or more labels under x, never the empty label', () => {
  const rules = new RuleSet(routes);
  assert.ok(rules.decideConnect('a.wild.example.test', 443).allowed);
  assert.ok(rules.decideConnect('a.b.wild.example.test', 443).allowed);
  assert.not.ok(rules.decideConnect('wild.example.test', 443).allowed);
  assert.not.ok(rules.decideConnect('a.wild.example.test', 8443).allowed);
  assert.not.ok(rules.decideConnect('nope.example.test', 443).allowed);
});

test('DLP: the injected value in every common encoding, in the URL, header names and values', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const forms = [
    SECRET,
    encodeURIComponent(SECRET),
    b64(SECRET),
    b64(`x${SECRET}`),
    b64(`xy${SECRET}`),
    b64(`xy${SECRET}`).replace(/\+/g, '-').replace(/\//g, '_'),
    Buffer.from(SECRET).toString('hex'),
    Buffer.from(SECRET).toString('hex').toUpperCase(),
    [...SECRET].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''),
    [...Buffer.from(SECRET)].map((b) => `%${b.toString(16)}`).join(''),
    [...Buffer.from(SECRET)].map((b) => `%25${b.toString(16)}`).join(''),
  ];
  for (const f of forms) {
    assert.ok(ctx.dlp.scanText(`{"data":"${f}"}`, 'body', { routed: true }), `body: ${f}`);
    const inUrl = decide(https('open.example.test', `/x?q=${encodeURIComponent(f)}`));
    assert.ok(refused(inUrl), `url: ${f}`);
    const inName = decide(https('open.example.test', '/x'), 'GET', [`x-${f.replace(/[^A-Za-z0-9-]/g, '')}`, '1']);
    if (/^[A-Za-z0-9-]+$/.test(f)) assert.ok(refused(inName), `header name: ${f}`);
    assert.ok(refused(decide(https('open.example.test', '/x'), 'GET', ['x-note', f])), `header value: ${f}`);
  }
});

test('DLP: token formats behind encodings, and private keys without their armour', () => {
  const token = ['sk', 'ant', 'api03', 'AbCdEfGhIjKlMnOpQrStUvWxYz012345'].join('-');
  const gh = 'gh' + 'p_' + 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789';
  const scan = (t: string) => ctx.dlp.scanText(t, 'body', { routed: true });
  assert.ok(scan(Buffer.from(token).toString('base64')), 'base64 of an Anthropic key');
  assert.ok(scan(Buffer.from(`a${token}`).toString('base64')), 'base64, other alignment');
  assert.ok(scan(Buffer.from(token).toString('hex')), 'hex of an Anthropic key');
  assert.ok(scan([...gh].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')), 'JSON \\u escapes of a GitHub token');
  assert.ok(scan(encodeURIComponent(encodeURIComponent(`"${gh}"`)).replace(/g/g, '%2567')), 'double URL-encoding');
  assert.ok(scan('---- begin rsa private key ----\nMIIEow...'), 'an altered PEM armour');
  assert.ok(scan('MC4CAQAwBQYDK2VwBCIEIAbCdEf'), 'an ed25519 PKCS#8 key body without armour');
  assert.ok(scan('MIIEpAIBAAKCAQEAx'), 'an RSA key body without armour');
  // Controls: ordinary text and data.
  for (const t of ['ask-anything about AKIA and ghp_ prefixes', Buffer.from('hello world, nothing here').toString('base64'), 'deadbeef'.repeat(20), '{"private":"key"}']) {
    assert.is(scan(t), null, t);
  }
});

test('DLP: a secret carried in the labels of a wildcard host is refused', () => {
  const hex = Buffer.from(SECRET).toString('hex');
  const r = decide(https(`${hex.slice(0, 60)}.${hex.slice(60)}.wild.example.test`, '/x'));
  assert.ok(refused(r));
  assert.match((r as Refusal).reason, /in the host name/);
  const gh = 'gh' + 'p_' + 'abcdefghijklmnopqrstuvwxyz0123456789';
  assert.ok(refused(decide(https(`${gh.toLowerCase()}.wild.example.test`, '/x'))));
});

test('framing: only plain chunked and identity bodies pass', () => {
  assert.ok(refused(decide(https('open.example.test', '/x'), 'POST', ['Transfer-Encoding', 'gzip, chunked'])));
  assert.ok(refused(decide(https('open.example.test', '/x'), 'POST', ['Content-Encoding', 'br'])));
  assert.not.ok(refused(decide(https('open.example.test', '/x'), 'POST', ['Transfer-Encoding', 'chunked'])));
});

test('an allowed request: the Host is the upstream, the bottle copy of the credential header is replaced, identity responses are asked for', () => {
  const r = decide(https('api.example.test', '/v1/x'), 'GET', ['Host', 'api.example.test', 'X-Api-Key', 'placeholder', 'Accept-Encoding', 'gzip', 'Connection', 'x-drop', 'x-drop', '1']) as Allowed;
  assert.not.ok(refused(r));
  assert.equal(r.headers, ['Host', 'api.example.test', 'Accept-Encoding', 'identity', 'x-api-key', SECRET]);
  const to = decide(https('to.example.test', '/x')) as Allowed;
  assert.equal(to.upstream, { scheme: 'https', host: 'internal.example.test', port: 9443, servername: 'internal.example.test', guardAddresses: false });
  assert.is((decide(https('open.example.test', '/x')) as Allowed).upstream.guardAddresses, true, 'a name without to has its DNS answers checked');
});

test.run();
