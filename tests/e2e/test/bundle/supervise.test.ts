/**
 * supervise, for real: a bottle with `"supervise": {"credentials": [...]}` and its bundle; the MCP SDK's own client,
 * run by node inside the bottle, calls the tools at 127.0.0.1:9100 (the bottle's forwarder, the
 * bundle's supervise socket); a person answers with the real CLI (`apps/cli/bin/run.js`, the same
 * XDG_STATE_HOME); the next request through the running gateway shows the change. Test-made
 * upstreams on the test's internal network answer for the hosts asked for. A second bottle shows
 * that one bottle cannot see another's requests, and takes the flood.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { build } from 'esbuild';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import claude from '@bot-bottle/agent-claude';
import { agentEnv, configureAgent, runProvisioners } from '@bot-bottle/core';
import superviseProvisioner from '@bot-bottle/provisioner-supervise';
import { RUN_ID, docker, dockerOk, inBottle, launchBottle, startWorld, testImages, uniq, type TestBottle, type World } from './helpers.js';

const test = suite('supervise: the agent asks over MCP, a person decides, the running gateway changes');

const REPO = path.resolve(import.meta.dirname, '..', '..', '..', '..');
const CLI = path.join(REPO, 'apps', 'cli', 'bin', 'run.js');
const KEY = `bbcanary-supervise-${randomBytes(12).toString('hex')}`;
const LATE_KEY = `bbcanary-late-${randomBytes(12).toString('hex')}`;
/** The names the second upstream answers for on the test network (port 443, a cert for each). */
const NAMES = ['late.supervise.test', 'denied.supervise.test', 'persist.supervise.test', 'cred.supervise.test'];

// Laid out by hand: --persist must leave all of it as it is.
const manifestText = (upstreamUrl: string) => `{
  "$schema": "https://example.invalid/bottle.schema.json",
  "agents":  { "demo": { "bottle": "dev", "provisioners": [] } },
  "bottles": {
    "dev": {
      "supervise": { "credentials": ["SUPERVISE_LATE_KEY"] },
      "egress": {
        "routes": [
          { "host": "api.example.test", "to": "${upstreamUrl}", "auth": { "header": "x-api-key", "env": "SUPERVISE_TEST_KEY" } }
        ]
      }
    }
  }
}
`;

interface Ctx {
  world?: World;
  a?: TestBottle;
  b?: TestBottle;
  late?: string;
  manifest?: string;
  manifestBefore?: string;
}
const ctx: Ctx = {};

type ToolResult = { isError?: boolean; structuredContent?: Record<string, unknown>; content: { type: string; text?: string }[] };

/** Tool calls through the SDK's client inside the bottle, as the agent user with the bottle's own env. */
async function mcp(b: TestBottle, calls: { name: string; arguments?: Record<string, unknown> }[]): Promise<ToolResult[]> {
  const r = await b.bottle.target.exec(['node', '/tmp/mcp-client.mjs', JSON.stringify(calls)], { user: 'node', env: { HOME: '/home/node', USER: 'node' }, timeoutMs: 60_000 });
  assert.is(r.exitCode, 0, `mcp client failed:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout) as ToolResult[];
}
const tool = async (b: TestBottle, name: string, args: Record<string, unknown> = {}) => (await mcp(b, [{ name, arguments: args }]))[0]!;
const text = (r: ToolResult) => r.content.map((c) => c.text ?? '').join('\n');

/** The real CLI, as the person types it, with this world's state dir. */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, XDG_STATE_HOME: ctx.world!.stateHome, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** A request through the bottle's gateway: the HTTP status (the CONNECT's when the tunnel was refused) and body. */
async function through(b: TestBottle, url: string, extra = ''): Promise<{ status: string; body: string }> {
  const r = await inBottle(b, `rm -f /tmp/body; curl -sS -m 20 -o /tmp/body -w '%{http_code} %{http_connect}' ${extra} '${url}'; echo; cat /tmp/body 2>/dev/null`);
  const [codes = '', ...body] = r.stdout.split('\n');
  const [code = '', connect = ''] = codes.trim().split(' ');
  return { status: code === '000' ? connect : code, body: body.join('\n') };
}

const startedAt = async (b: TestBottle) => (await dockerOk(['inspect', '-f', '{{.State.StartedAt}} {{.State.Pid}}', `bot-bottle-${b.plan.slug}-bundle`], 'inspect')).trim();

async function listPending(): Promise<{ id: string; slug: string; host: string; reason: string; auth: unknown }[]> {
  const r = await cli(['supervise', 'list', '--json']);
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { id: string; slug: string; host: string; reason: string; auth: unknown }[];
}

test.before(async () => {
  try {
    await setUp();
  } catch (e) {
    process.stderr.write(`supervise set-up failed: ${(e as Error).stack ?? String(e)}\n`);
    throw e;
  }
});

async function setUp(): Promise<void> {
  const img = await testImages();
  const world = await startWorld();
  ctx.world = world;
  // The second upstream: HTTPS on 443 for each of NAMES (network aliases), a cert from the world's
  // test CA (the gateway trusts it); it logs each request's host, method, path and headers.
  const srv = path.join(world.dir, 'late');
  execFileSync('mkdir', ['-p', srv]);
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: srv, stdio: 'pipe' });
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=late.supervise.test');
  await writeFile(path.join(srv, 'ext.cnf'), `subjectAltName=${NAMES.map((n) => `DNS:${n}`).join(',')}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
  run('x509', '-req', '-in', 'server.csr', '-CA', path.join(world.dir, 'srv', 'ca.crt'), '-CAkey', path.join(world.dir, 'srv', 'ca.key'), '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'ext.cnf');
  await chmod(path.join(srv, 'server.key'), 0o644);
  await writeFile(
    path.join(srv, 'late.cjs'),
    `const fs = require('fs');
require('https').createServer({ key: fs.readFileSync('/srv/server.key'), cert: fs.readFileSync('/srv/server.crt') }, (q, s) => {
  process.stdout.write(JSON.stringify({ host: q.headers.host, method: q.method, url: q.url, headers: q.headers }) + '\\n');
  s.end('late ok ' + q.headers.host + ' ' + q.method + ' ' + q.url);
}).listen(443, () => process.stdout.write('{"listening":443}\\n'));
`,
  );
  ctx.late = uniq('bbtest-late');
  await dockerOk(['run', '-d', '--label', 'bot-bottle-test=1', '--label', `bot-bottle-test.run=${RUN_ID}`, '--name', ctx.late, '--network', world.network, ...NAMES.flatMap((n) => ['--network-alias', n]), '-v', `${srv}:/srv:ro`, img.runtime, 'node', '/srv/late.cjs'], 'starting the second upstream');
  for (let i = 0; i < 100 && !(await docker(['logs', ctx.late])).stdout.includes('listening'); i++) await new Promise((r) => setTimeout(r, 100));

  ctx.manifest = path.join(world.dir, 'bottle.json');
  ctx.manifestBefore = manifestText(world.upstream.url);
  await writeFile(ctx.manifest, ctx.manifestBefore);
  const other = path.join(world.dir, 'other.json');
  await writeFile(other, JSON.stringify({ bottles: { other: { supervise: true } }, agents: { demo: { bottle: 'other', provisioners: [] } } }));
  ctx.a = await launchBottle(world, ctx.manifest, { SUPERVISE_TEST_KEY: KEY });
  ctx.b = await launchBottle(world, other, {});

  // The SDK's client, bundled into one file the bottle's node runs.
  const client = path.join(world.dir, 'mcp-client.mjs');
  await build({ entryPoints: [path.join(import.meta.dirname, 'fixtures', 'mcp-client.mjs')], bundle: true, platform: 'node', format: 'esm', target: 'node22', outfile: client, logLevel: 'error', banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" } });
  await chmod(client, 0o644);
  for (const b of [ctx.a, ctx.b]) await b.bottle.target.copyIn(client, '/tmp/mcp-client.mjs');
}

test.after(async () => {
  await ctx.a?.bottle.destroy().catch(() => undefined);
  await ctx.b?.bottle.destroy().catch(() => undefined);
  await ctx.world?.cleanup();
});

test('claude mcp list in the bottle shows supervise connected (registered by the real provisioner and the Claude Code definition; loopback bypasses the proxy)', async () => {
  const a = ctx.a!;
  const outcome = await runProvisioners([{ definition: superviseProvisioner, options: {}, packageName: '@bot-bottle/provisioner-supervise' }], { plan: a.plan, target: a.bottle.target, endpoints: a.bottle.endpoints, hostEnv: process.env });
  // Claude Code's definition registers it (`claude mcp add`), as a session does after the provisioners.
  await configureAgent({ definition: claude, plan: a.plan, target: a.bottle.target, outcome, env: agentEnv(a.plan, a.bottle.endpoints), secrets: new Map(), signal: new AbortController().signal, log: () => undefined, warn: () => undefined });
  const r = await inBottle(a, 'cd /home/node && claude mcp list 2>&1', 120_000);
  assert.match(r.stdout, /supervise: http:\/\/127\.0\.0\.1:9100\/mcp \(HTTP\) - [✓✔] Connected/, r.stdout);
  // Control: with the empty NO_PROXY bottles used to have, Claude Code sends it to the gateway, which refuses.
  const control = await inBottle(a, 'cd /home/node && NO_PROXY= no_proxy= claude mcp list 2>&1', 120_000);
  assert.match(control.stdout, /supervise: http:\/\/127\.0\.0\.1:9100\/mcp \(HTTP\) - /, control.stdout);
  assert.not.match(control.stdout, /Connected/, control.stdout);
});

test('the server runs as its own user, with no capability, beside a supervisor that has some (the control)', async () => {
  const a = ctx.a!;
  const script = 'for p in /proc/[0-9]*; do c=$(tr "\\0" " " < $p/cmdline 2>/dev/null); case "$c" in *supervise-service*|*dist/main.js*) echo "== $c"; grep -E "^(Uid|CapEff|Groups)" $p/status;; esac; done';
  const r = await dockerOk(['exec', `bot-bottle-${a.plan.slug}-bundle`, 'sh', '-c', script], 'reading the bundle\'s processes');
  const blocks = r.split('== ').filter(Boolean);
  const server = blocks.find((x) => x.includes('supervise-service'));
  const supervisor = blocks.find((x) => x.includes('dist/main.js') && !x.includes('service'));
  assert.ok(server && supervisor, r);
  assert.match(server, /Uid:\s+64203\s+64203\s+64203\s+64203/);
  assert.match(server, /CapEff:\s+0000000000000000/);
  assert.match(server, /Groups:\s*\n/);
  assert.not.match(supervisor, /CapEff:\s+0000000000000000/, 'control: the supervisor keeps its capabilities');
});

test('a compromised supervise server can ask, never allow: as its user it reaches neither the admin socket nor the decisions (root in the bundle, the control, does)', async () => {
  const bundle = `bot-bottle-${ctx.a!.plan.slug}-bundle`;
  const as = (user: string, script: string) => docker(['exec', '-u', user, bundle, 'sh', '-c', script]);
  const connect = "node -e \"require('net').connect('/run/bot-bottle-control/egress-admin.sock').on('connect',()=>{console.log('connected');process.exit(0)}).on('error',e=>{console.log(e.code);process.exit(1)})\"";
  const asServer = await as('64203:64203', connect);
  assert.match(asServer.stdout, /EACCES/, asServer.stdout + asServer.stderr);
  const asRoot = await as('0:0', connect);
  assert.match(asRoot.stdout, /connected/, 'control: the socket is there and answers');
  const forge = await as('64203:64203', 'echo \'{"id":"req-forged0000","status":"approved"}\' > /run/bot-bottle-supervise/decisions/req-forged0000.json; echo rc=$?');
  assert.match(forge.stdout + forge.stderr, /Read-only file system|rc=[12]/);
  const queue = await as('64203:64203', 'touch /run/bot-bottle-supervise/queue/.probe && rm /run/bot-bottle-supervise/queue/.probe && echo ok');
  assert.match(queue.stdout, /ok/, 'control: it writes its queue');
  // The other service users cannot reach the queue at all.
  for (const user of ['64201:64201', '64202:64202']) {
    const r = await as(user, 'ls /run/bot-bottle-supervise/queue; echo rc=$?');
    assert.match(r.stdout + r.stderr, /Permission denied/, user);
  }
});

test('get_rules: the routes with the credential named by its env var, never its value; nothing pending', async () => {
  const [tools, rules] = await mcp(ctx.a!, [{ name: '(list)' }, { name: 'get_rules' }]);
  assert.equal(((tools as unknown as { tools: { name: string }[] }).tools).map((t) => t.name), ['get_rules', 'request_egress', 'get_request']);
  assert.not.ok(rules!.isError, text(rules!));
  assert.equal(rules!.structuredContent, {
    routes: [{ host: 'api.example.test', methods: 'any', paths: 'any', credential: { header: 'x-api-key', env: 'SUPERVISE_TEST_KEY' } }],
    git: [],
    askableCredentials: ['SUPERVISE_LATE_KEY'],
    pending: [],
  });
  assert.not.ok(JSON.stringify(rules).includes(KEY));
});

test('request -> pending; `bottle supervise approve` -> the next request to that host passes the running gateway (no restart), only as asked', async () => {
  const a = ctx.a!;
  const before = await through(a, 'https://late.supervise.test/first');
  assert.is(before.status, '403', 'control: refused before the approval');
  const asked = await tool(a, 'request_egress', { host: 'late.supervise.test', reason: 'fetch the release notes', methods: ['GET'] });
  assert.not.ok(asked.isError, text(asked));
  const id = asked.structuredContent!.id as string;
  assert.equal(asked.structuredContent, { id, status: 'pending' });
  const listed = (await listPending()).find((p) => p.id === id);
  assert.equal(listed && [listed.slug, listed.host, listed.reason], [a.plan.slug, 'late.supervise.test', 'fetch the release notes']);
  const human = await cli(['supervise', 'list']);
  assert.match(human.stdout, new RegExp(`${id}  ${a.plan.slug}  late\\.supervise\\.test  GET any path`));

  const bundleBefore = await startedAt(a);
  const approved = await cli(['supervise', 'approve', id]);
  assert.is(approved.code, 0, approved.stderr);
  assert.match(approved.stdout, new RegExp(`approved ${id}: ${a.plan.slug} may now reach late\\.supervise\\.test \\(GET any path\\), in force now`));

  const after = await through(a, 'https://late.supervise.test/second');
  assert.equal(after, { status: '200', body: 'late ok late.supervise.test GET /second' });
  assert.is(await startedAt(a), bundleBefore, 'the bundle was not restarted');
  const post = await through(a, 'https://late.supervise.test/third', '-X POST -d x');
  assert.is(post.status, '403', 'only the methods asked for');

  const got = await tool(a, 'get_request', { id });
  assert.equal(got.structuredContent, { id, host: 'late.supervise.test', status: 'approved', decidedBy: (await import('node:os')).userInfo().username });
  const rules = (await tool(a, 'get_rules')).structuredContent!;
  assert.ok((rules.routes as { host: string }[]).some((r) => r.host === 'late.supervise.test'));
  assert.equal(rules.pending, []);
  const again = await cli(['supervise', 'approve', id]);
  assert.is(again.code, 2);
  assert.match(again.stderr, /already approved/);

  const logs = await cli(['logs', a.plan.slug, '--json']);
  const lines = (JSON.parse(logs.stdout) as { source: string; id?: string; event?: string; decision: string }[]).filter((e) => e.source === 'supervise' && e.id === id);
  assert.equal(lines.map((e) => [e.event, e.decision]), [['request', 'pending'], ['decision', 'allow']]);
  const rendered = await cli(['logs', a.plan.slug]);
  assert.match(rendered.stdout, new RegExp(`PENDING  ASK      supervise:${id} late\\.supervise\\.test GET  +-  fetch the release notes`));
  assert.match(rendered.stdout, new RegExp(`ALLOW  DECIDE   supervise:${id} late\\.supervise\\.test GET  +-  by `));
});

test('a denied request stays 403, and get_request gives the agent the reason', async () => {
  const a = ctx.a!;
  const asked = await tool(a, 'request_egress', { host: 'denied.supervise.test', reason: 'upload a build log' });
  const id = asked.structuredContent!.id as string;
  const denied = await cli(['supervise', 'deny', id, '--reason', 'no uploads; keep the log in the workspace']);
  assert.is(denied.code, 0, denied.stderr);
  assert.is((await through(a, 'https://denied.supervise.test/up')).status, '403');
  const got = await tool(a, 'get_request', { id });
  assert.equal(got.structuredContent, { id, host: 'denied.supervise.test', status: 'denied', decidedBy: (await import('node:os')).userInfo().username, reason: 'no uploads; keep the log in the workspace' });
});

test('a credential route names only the env var: approval needs it in the host shell, and its value reaches the upstream, not the bottle', async () => {
  const a = ctx.a!;
  const asked = await tool(a, 'request_egress', { host: 'cred.supervise.test', reason: 'call the API', auth: { header: 'x-cred', env: 'SUPERVISE_LATE_KEY' } });
  const id = asked.structuredContent!.id as string;
  const listed = (await listPending()).find((p) => p.id === id);
  assert.equal(listed?.auth, { header: 'x-cred', env: 'SUPERVISE_LATE_KEY' });
  const human = await cli(['supervise', 'list']);
  assert.match(human.stdout, /credential: the gateway will set header x-cred from \$SUPERVISE_LATE_KEY of the host's environment on every request to cred\.supervise\.test/);
  assert.match(human.stdout, 'NEW: SUPERVISE_LATE_KEY would be sent to cred.supervise.test, which no current route sends it to (no route uses it today: its value would be read from your shell)');
  const unset = await cli(['supervise', 'approve', id]);
  assert.is(unset.code, 2);
  assert.match(unset.stderr, /asks the gateway to inject \$SUPERVISE_LATE_KEY, which is not set in this shell/);
  assert.is((await through(a, 'https://cred.supervise.test/x')).status, '403', 'nothing changed');
  const ok = await cli(['supervise', 'approve', id], { SUPERVISE_LATE_KEY: LATE_KEY });
  assert.is(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /the gateway will set header x-cred from \$SUPERVISE_LATE_KEY/);
  const r = await through(a, 'https://cred.supervise.test/with-key', "-H 'x-cred: forged'");
  assert.equal(r, { status: '200', body: 'late ok cred.supervise.test GET /with-key' });
  const seen = (await docker(['logs', ctx.late!])).stdout.split('\n').filter((l) => l.includes('/with-key'));
  assert.is((JSON.parse(seen[0]!) as { headers: Record<string, string> }).headers['x-cred'], LATE_KEY, 'the upstream got the host value');
  const leak = await inBottle(a, `env; cat /tmp/body; grep -rl '${LATE_KEY}' /home /tmp /etc 2>/dev/null; true`);
  assert.not.ok(leak.stdout.includes(LATE_KEY), 'the value is nowhere in the bottle');
  for (const f of ['bundle/bundle.json', 'plan.json', 'supervise/decisions/routes.json', 'log/audit.jsonl']) {
    assert.not.ok((await readFile(path.join(a.plan.stateDir, f), 'utf8')).includes(LATE_KEY), `${f} holds no value`);
  }
  const inspect = await docker(['inspect', `bot-bottle-${a.plan.slug}-bundle`, `bot-bottle-${a.plan.slug}`]);
  assert.not.ok(inspect.stdout.includes(LATE_KEY), 'docker inspect shows no value');
});

test('bad inputs are tool errors that say what to fix; nothing is queued', async () => {
  const a = ctx.a!;
  const before = (await listPending()).length;
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ host: '169.254.169.254', reason: 'metadata' }, /host: host must be a name, not an IP address/],
    [{ host: '*', reason: 'all' }, /would allow every host/],
    [{ host: '*.com', reason: 'all' }, /public suffix "com"/],
    [{ host: `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.example.com`, reason: 'long' }, /at most 253/],
    [{ host: 'x.example.com', reason: 'r'.repeat(1001) }, /keep it under 1000/],
    [{ host: 'x.example.com' }, /reason is required/],
    [{ host: 'x.example.com', reason: 'x', to: 'https://elsewhere.example' }, /there is no argument "to"/],
    // The gateway holds SUPERVISE_TEST_KEY for api.example.test; the manifest lets the bottle ask only for SUPERVISE_LATE_KEY.
    [{ host: 'x.example.com', reason: 'x', auth: { header: 'x-api-key', env: 'SUPERVISE_TEST_KEY' } }, /auth\.env: \$SUPERVISE_TEST_KEY is not a credential this bottle may ask for; .* allows only SUPERVISE_LATE_KEY/],
  ];
  const results = await mcp(a, cases.map(([args]) => ({ name: 'request_egress', arguments: args })));
  results.forEach((r, i) => {
    assert.ok(r.isError, JSON.stringify(cases[i]![0]).slice(0, 80));
    assert.match(text(r), cases[i]![1]);
    assert.not.match(text(r), /\n\s+at /);
  });
  const [missing] = await mcp(a, [{ name: 'get_request', arguments: { id: '../../../etc/passwd' } }]);
  assert.match(text(missing!), /id must be an id that request_egress returned/);
  assert.is((await listPending()).length, before);
});

test('another bottle cannot see or answer this bottle\'s requests, and its own stay its own', async () => {
  const a = ctx.a!;
  const b = ctx.b!;
  const mine = (await tool(a, 'request_egress', { host: 'mine.supervise.test', reason: 'a\'s own' })).structuredContent!.id as string;
  const fromB = await tool(b, 'get_request', { id: mine });
  assert.ok(fromB.isError);
  assert.match(text(fromB), new RegExp(`no request ${mine} in this bottle`));
  const rulesB = (await tool(b, 'get_rules')).structuredContent!;
  assert.equal([rulesB.routes, rulesB.pending], [[], []], 'b sees neither a\'s routes nor its requests');
  const theirs = (await tool(b, 'request_egress', { host: 'theirs.supervise.test', reason: 'b\'s own' })).structuredContent!.id as string;
  const pendingA = ((await tool(a, 'get_rules')).structuredContent!.pending as { id: string }[]).map((p) => p.id);
  assert.ok(pendingA.includes(mine) && !pendingA.includes(theirs));
  const listed = await listPending();
  assert.is(listed.find((p) => p.id === theirs)?.slug, b.plan.slug);
  assert.is(listed.find((p) => p.id === mine)?.slug, a.plan.slug);
  // a's approvals changed a's gateway only.
  assert.is((await through(b, 'https://late.supervise.test/from-b')).status, '403');
  // Nothing in b reaches a gateway's admin socket: b's socket folder holds its own services only.
  const ls = await inBottle(b, 'ls -A /run/bot-bottle');
  assert.equal(ls.stdout.trim().split('\n').sort(), ['egress.sock', 'ready', 'supervise.sock']);
});

test('a flood of requests is bounded: 20 wait at once, the rest are refused with why', async () => {
  const b = ctx.b!;
  const calls = Array.from({ length: 25 }, (_, i) => ({ name: 'request_egress', arguments: { host: `f${i}.flood.supervise.test`, reason: `flood ${i}` } }));
  const results = await mcp(b, calls);
  const pendingB = () => listPending().then((l) => l.filter((p) => p.slug === b.plan.slug));
  assert.is((await pendingB()).length, 20);
  const refused = results.filter((r) => r.isError);
  assert.is(refused.length, 25 - 19, 'b had one request waiting already');
  for (const r of refused) assert.match(text(r), /already waiting for a person \(at most 20\)/);
  assert.ok((await listPending()).some((p) => p.slug === ctx.a!.plan.slug), 'a can still ask: the bound is per bottle');
});

test('--persist: the route goes into the manifest it was launched from, every other byte kept, and the file still validates', async () => {
  const a = ctx.a!;
  const id = (await tool(a, 'request_egress', { host: 'persist.supervise.test', reason: 'keep this one', methods: ['GET'], paths: ['/api/'] })).structuredContent!.id as string;
  const r = await cli(['supervise', 'approve', id, '--persist']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /added to .*bottle\.json \(bottles\.dev\.egress\.routes\)/);
  const after = await readFile(ctx.manifest!, 'utf8');
  const added = '{ "host": "persist.supervise.test", "methods": ["GET"], "paths": ["/api/"] }';
  assert.ok(after.includes(added), after);
  assert.is(after.replace(`,\n          ${added}`, ''), ctx.manifestBefore, 'every other byte as it was');
  const validate = await cli(['validate', '--manifest', ctx.manifest!]);
  assert.is(validate.code, 0, validate.stderr + validate.stdout);
  assert.equal(await through(a, 'https://persist.supervise.test/api/x'), { status: '200', body: 'late ok persist.supervise.test GET /api/x' });
  assert.is((await through(a, 'https://persist.supervise.test/other')).status, '403', 'only the paths asked for');
});

test('`bottle supervise` on a real pseudo-terminal: the queue is shown, arrow keys pick a request, enter approves it, and it is in force', async () => {
  const a = ctx.a!;
  const id = (await tool(a, 'request_egress', { host: 'denied.supervise.test', reason: 'from the terminal', paths: ['/tty/'] })).structuredContent!.id as string;
  assert.is((await through(a, 'https://denied.supervise.test/tty/x')).status, '403', 'control: not yet');
  // util-linux `script` gives the CLI a real pty (stdin, stdout and stderr are its terminal); what
  // is written to script's stdin is typed into it, and script's stdout is the screen.
  const child = spawn('script', ['-qfec', `stty cols 200 rows 50; exec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} supervise`, '/dev/null'], {
    env: { ...process.env, XDG_STATE_HOME: ctx.world!.stateHome, TERM: 'xterm-256color' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let screen = '';
  child.stdout.on('data', (d: Buffer) => (screen += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const plain = () => screen.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
  const waitFor = async (re: RegExp, what: string) => {
    for (let i = 0; i < 300; i++) {
      if (re.test(plain())) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGKILL');
    throw new Error(`the terminal never showed ${what}:\n${plain().slice(-3000)}`);
  };
  try {
    await waitFor(/pending requests? \(arrow keys, enter\)[\s\S]*↑↓ navigate/, 'the queue');
    // The newest request is the last one: up from the first wraps to quit, then refresh, then it.
    child.stdin.write('\x1b[A');
    await new Promise((r) => setTimeout(r, 200));
    child.stdin.write('\x1b[A');
    await new Promise((r) => setTimeout(r, 200));
    child.stdin.write('\x1b[A');
    await waitFor(new RegExp(`❯ ${id}  ${a.plan.slug}  denied\\.supervise\\.test  any method /tty/[\\s\\S]*reason: from the terminal`), 'the new request selected, with its reason');
    child.stdin.write('\r');
    await waitFor(new RegExp(`${id}: ${a.plan.slug} asks for denied\\.supervise\\.test \\(any method /tty/\\)[\\s\\S]*approve \\(in force now`), 'the actions for it');
    child.stdin.write('\r');
    await waitFor(new RegExp(`approved ${id}: ${a.plan.slug} may now reach denied\\.supervise\\.test[\\s\\S]*pending requests? \\(arrow keys, enter\\)`), 'the approval, then the queue again');
    child.stdin.write('\x03'); // Ctrl-C at the prompt: leave
    assert.is(await exited, 0, plain().slice(-2000));
  } finally {
    child.kill('SIGKILL');
  }
  assert.equal(await through(a, 'https://denied.supervise.test/tty/x'), { status: '200', body: 'late ok denied.supervise.test GET /tty/x' });
  assert.is((await tool(a, 'get_request', { id })).structuredContent!.status, 'approved');
});

test.run();
