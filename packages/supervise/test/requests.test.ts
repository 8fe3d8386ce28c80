import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as v from 'valibot';
import { GetRequestInput, RequestEgressInput, inputProblems, requestHostProblem, routeFor, sameAsk } from '@bot-bottle/supervise';

const test = suite('requests');

const problems = (input: unknown) => {
  const r = v.safeParse(RequestEgressInput, input);
  return r.success ? [] : inputProblems(r.issues);
};

test('hosts an agent may ask for: an exact name, or the names under one registrable domain', () => {
  for (const h of ['api.example.com', '*.example.com', '*.api.example.co.uk', 'registry.npmjs.org', 'gateway.internal', 'x.y.z.example.org']) {
    assert.is(requestHostProblem(h), null, h);
  }
});

test('refused hosts: IP literals, "*", wildcards over a public suffix, names over 253 characters', () => {
  const cases: [string, RegExp][] = [
    ['10.0.0.1', /IP address/],
    ['169.254.169.254', /IP address/],
    ['[::1]', /IP address/],
    ['::1', /IP address/],
    ['2130706433', /IP address/],
    ['0x7f.1', /IP address/],
    ['*', /every host/],
    ['*.com', /public suffix "com"/],
    ['*.co.uk', /public suffix "co\.uk"/],
    ['*.github.io', /public suffix "github\.io"/],
    ['*.internal', /public suffix/],
    ['*.*.example.com', /not a valid DNS name/],
    ['api.example.com/v1', /path/],
    ['https://api.example.com', /scheme/],
    ['api.example.com:8443', /port/],
    [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.com`, /at most 253/],
  ];
  for (const [h, re] of cases) assert.match(requestHostProblem(h) ?? '(allowed)', re, h);
});

test('request_egress input: every problem is a line naming the argument and what to write instead', () => {
  assert.equal(problems({ host: 'api.example.com', reason: 'fetch the docs' }), []);
  assert.equal(problems({ host: ' API.Example.COM ', reason: 'x', methods: ['GET'], paths: ['/v1/'], auth: { header: 'x-api-key', env: 'EXAMPLE_KEY' } }), []);
  assert.match(problems({ reason: 'x' }).join('\n'), /^host: host is required; request_egress takes/);
  assert.match(problems({ host: 'a.example.com' }).join('\n'), /^reason: reason is required/);
  assert.match(problems({ host: 42, reason: 'x' }).join('\n'), /^host: host must be a string/);
  assert.match(problems({ host: 'a.example.com', reason: '   ' }).join('\n'), /reason: reason must say why/);
  assert.match(problems({ host: 'a.example.com', reason: 'x'.repeat(1001) }).join('\n'), /reason is 1001 characters long; keep it under 1000/);
  assert.is(problems({ host: 'a.example.com', reason: 'x'.repeat(1000) }).length, 0);
  assert.match(problems({ host: 'a'.repeat(300), reason: 'x' }).join('\n'), /host is 300 characters long/);
  assert.match(problems({ host: 'a.example.com', reason: 'x', methods: ['FETCH'] }).join('\n'), /^methods\[0\]: methods may contain GET/);
  assert.match(problems({ host: 'a.example.com', reason: 'x', methods: [] }).join('\n'), /methods must name at least one/);
  assert.match(problems({ host: 'a.example.com', reason: 'x', paths: ['v1'] }).join('\n'), /^paths\[0\]: each path prefix must start with "\/"/);
  assert.match(problems({ host: 'a.example.com', reason: 'x', auth: { header: 'x-k', env: 'sk-ant-123 value' } }).join('\n'), /^auth\.env: env must be the name of an environment variable/);
  assert.match(problems({ host: 'a.example.com', reason: 'x', auth: { header: 'x-k', env: 'K', cleartext: true } }).join('\n'), /^auth\.cleartext: there is no argument "cleartext"; auth is \{"header"/);
  assert.match(problems({ host: 'a.example.com', reason: 'x', to: 'https://evil.example' }).join('\n'), /^to: there is no argument "to"; request_egress takes an object with host and reason/);
  assert.match(problems('api.example.com').join('\n'), /^arguments: request_egress takes an object/);
  assert.ok(problems(['a']).length > 0);
});

test('get_request takes a request id and nothing else', () => {
  assert.ok(v.safeParse(GetRequestInput, { id: 'req-0123456789' }).success);
  for (const bad of [{ id: '../../etc/passwd' }, { id: 'req-0123456789.json' }, { id: 'REQ-0123456789' }, {}, { id: 'req-0123456789', x: 1 }]) {
    assert.not.ok(v.safeParse(GetRequestInput, bad).success, JSON.stringify(bad));
  }
});

test('the route an approval adds is what was asked, nothing more', () => {
  assert.equal(routeFor({ host: 'api.example.com' }), { host: 'api.example.com' });
  assert.equal(routeFor({ host: '*.example.com', methods: ['GET'], paths: ['/v1/'], auth: { header: 'x-api-key', env: 'K' } }), { host: '*.example.com', methods: ['GET'], paths: ['/v1/'], auth: { header: 'x-api-key', env: 'K' } });
});

test('the same ask: order of methods and paths and the header case do not matter; the host, env and format do', () => {
  const a = { host: 'a.example.com', methods: ['GET', 'POST'] as ('GET' | 'POST')[], paths: ['/a/', '/b/'] };
  assert.ok(sameAsk(a, { host: 'a.example.com', methods: ['POST', 'GET'], paths: ['/b/', '/a/'] }));
  assert.not.ok(sameAsk(a, { host: 'b.example.com', methods: ['GET', 'POST'], paths: ['/a/', '/b/'] }));
  assert.not.ok(sameAsk(a, { host: 'a.example.com' }));
  assert.ok(sameAsk({ host: 'a.example.com', auth: { header: 'X-Key', env: 'K' } }, { host: 'a.example.com', auth: { header: 'x-key', env: 'K' } }));
  assert.not.ok(sameAsk({ host: 'a.example.com', auth: { header: 'x-key', env: 'K' } }, { host: 'a.example.com', auth: { header: 'x-key', env: 'L' } }));
});

test.run();
