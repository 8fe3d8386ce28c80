/**
 * The MCP server with the SDK's own client over Streamable HTTP (loopback TCP here; the bundle
 * listens on a unix socket), and the host's side reading what it wrote.
 */
import { mkdtemp, mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { SuperviseAuditEntry } from '@bot-bottle/core';
import { listQueue, writeDecision, writeRoutesFile, pendingRequests, type BottleQueue } from '@bot-bottle/supervise';
import { startSuperviseServer, type SuperviseServer } from '@bot-bottle/supervise/server';

interface Ctx {
  dir: string;
  queueDir: string;
  decisionsDir: string;
  server: SuperviseServer;
  client: Client;
  audit: SuperviseAuditEntry[];
}
const test = suite<Ctx>('supervise server');

async function connect(port: number): Promise<Client> {
  const client = new Client({ name: 'test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
  return client;
}

type ToolResult = { isError?: boolean; structuredContent?: Record<string, unknown>; content: { type: string; text?: string }[] };
const call = async (ctx: Ctx, name: string, args: Record<string, unknown> = {}) => (await ctx.client.callTool({ name, arguments: args })) as ToolResult;
const text = (r: ToolResult) => r.content.map((c) => c.text ?? '').join('\n');

test.before(async (ctx) => {
  ctx.dir = await mkdtemp(path.join(tmpdir(), 'supervise-test-'));
  ctx.queueDir = path.join(ctx.dir, 'queue');
  ctx.decisionsDir = path.join(ctx.dir, 'decisions');
  await mkdir(ctx.queueDir);
  await mkdir(ctx.decisionsDir);
  ctx.audit = [];
  ctx.server = await startSuperviseServer({
    listen: { port: 0 },
    queueDir: ctx.queueDir,
    decisionsDir: ctx.decisionsDir,
    routes: [{ host: 'api.anthropic.com', auth: { header: 'x-api-key', env: 'ANTHROPIC_API_KEY' } }, { host: '*.example.org', methods: ['GET'], paths: ['/v1/'] }],
    repos: [{ name: 'app', push: true, protect: ['main'] }],
    credentials: ['GITHUB_TOKEN'],
    onAudit: (e) => ctx.audit.push(e),
  });
  ctx.client = await connect(ctx.server.port!);
});

test.after(async (ctx) => {
  await ctx.client.close();
  await ctx.server.close();
  await rm(ctx.dir, { recursive: true, force: true });
});

test('the three tools, with input schemas', async (ctx) => {
  const { tools } = await ctx.client.listTools();
  assert.equal(tools.map((t) => t.name), ['get_rules', 'request_egress', 'get_request']);
  const req = tools.find((t) => t.name === 'request_egress')!;
  assert.equal(req.inputSchema.required, ['host', 'reason']);
  assert.equal(Object.keys(req.inputSchema.properties ?? {}).sort(), ['auth', 'host', 'methods', 'paths', 'reason']);
});

test('get_rules: routes with the credential by env name only, git repos, no pending requests yet', async (ctx) => {
  const r = await call(ctx, 'get_rules');
  assert.not.ok(r.isError, text(r));
  assert.equal(r.structuredContent, {
    routes: [
      { host: 'api.anthropic.com', methods: 'any', paths: 'any', credential: { header: 'x-api-key', env: 'ANTHROPIC_API_KEY' } },
      { host: '*.example.org', methods: ['GET'], paths: ['/v1/'], credential: null },
    ],
    git: [{ name: 'app', push: true, protect: ['main'] }],
    askableCredentials: ['GITHUB_TOKEN'],
    pending: [],
  });
});

test('request_egress -> pending, in the queue folder, audited; the same ask again returns the same id', async (ctx) => {
  const r = await call(ctx, 'request_egress', { host: 'Registry.NPMJS.org', reason: 'install the test dependencies', methods: ['GET'] });
  assert.not.ok(r.isError, text(r));
  const id = r.structuredContent!.id as string;
  assert.match(id, /^req-[a-z0-9]{10}$/);
  assert.is(r.structuredContent!.status, 'pending');
  const again = await call(ctx, 'request_egress', { host: 'registry.npmjs.org', reason: 'again', methods: ['GET'] });
  assert.is(again.structuredContent!.id, id);
  const listing = await listQueue(ctx.queueDir, ctx.decisionsDir);
  assert.is(listing.requests.length, 1);
  assert.equal([listing.requests[0]!.request.host, listing.requests[0]!.status, listing.requests[0]!.request.reason], ['registry.npmjs.org', 'pending', 'install the test dependencies']);
  const line = ctx.audit.at(-1)!;
  assert.equal([line.source, line.event, line.id, line.host, line.decision, line.reason, line.methods], ['supervise', 'request', id, 'registry.npmjs.org', 'pending', 'install the test dependencies', ['GET']]);
  const rules = await call(ctx, 'get_rules');
  assert.equal((rules.structuredContent!.pending as { id: string }[]).map((p) => p.id), [id]);
  const got = await call(ctx, 'get_request', { id });
  assert.equal(got.structuredContent, { id, host: 'registry.npmjs.org', status: 'pending' });
});

test('get_request reads the decision the host wrote, with the reason of a denial; get_rules reads the routes the host wrote', async (ctx) => {
  const r = await call(ctx, 'request_egress', { host: 'pastebin.example.com', reason: 'share a log' });
  const id = r.structuredContent!.id as string;
  await writeDecision(ctx.decisionsDir, { id, status: 'denied', time: new Date().toISOString(), decidedBy: 'alice', reason: 'no paste sites; write the log to the workspace' });
  assert.equal((await call(ctx, 'get_request', { id })).structuredContent, { id, host: 'pastebin.example.com', status: 'denied', decidedBy: 'alice', reason: 'no paste sites; write the log to the workspace' });
  await writeRoutesFile(ctx.decisionsDir, [{ host: 'registry.npmjs.org', methods: ['GET'] }]);
  const rules = await call(ctx, 'get_rules');
  assert.equal(rules.structuredContent!.routes, [{ host: 'registry.npmjs.org', methods: ['GET'], paths: 'any', credential: null }]);
  assert.ok(!(rules.structuredContent!.pending as { id: string }[]).some((p) => p.id === id), 'a denied request is no longer pending');
});

test('bad inputs are tool errors that say what to fix, never a stack; none is queued', async (ctx) => {
  const before = (await readdir(ctx.queueDir)).length;
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['request_egress', { host: '169.254.169.254', reason: 'metadata' }, /host: host must be a name, not an IP address/],
    ['request_egress', { host: '*', reason: 'everything' }, /host "\*" would allow every host/],
    ['request_egress', { host: '*.com', reason: 'x' }, /public suffix "com"/],
    ['request_egress', { host: `${'a'.repeat(250)}.com`, reason: 'x' }, /at most 253/],
    ['request_egress', { host: 'a.example.com', reason: 'x'.repeat(1001) }, /keep it under 1000/],
    ['request_egress', { host: 'a.example.com' }, /reason is required/],
    ['request_egress', { host: 'a.example.com', reason: 'x', to: 'https://evil.example' }, /there is no argument "to"/],
    ['request_egress', { host: 'a.example.com', reason: 'x', auth: { header: 'x-k', env: 'sk-ant-0123456789' } }, /auth\.env: env must be the name of an environment variable/],
    ['get_request', { id: '../../etc/passwd' }, /id must be an id that request_egress returned/],
    ['get_request', { id: 'req-zzzzzzzzzz' }, /no request req-zzzzzzzzzz in this bottle/],
    ['get_rules', { verbose: true }, /there is no argument "verbose"; get_rules takes no arguments/],
    ['set_routes', {}, /there is no tool "set_routes"/],
  ];
  for (const [name, args, re] of cases) {
    const r = await call(ctx, name, args);
    assert.ok(r.isError, `${name} ${JSON.stringify(args).slice(0, 80)} should be an error`);
    assert.match(text(r), re);
    assert.not.match(text(r), /\n\s+at /, 'no stack');
  }
  assert.is((await readdir(ctx.queueDir)).length, before);
  assert.ok(ctx.audit.some((e) => e.decision === 'deny' && e.id === null && e.host === '169.254.169.254'), 'a refused request is audited');
});

test('a credential the manifest does not name is refused before it is queued, with the names allowed; an allowed one is queued', async (ctx) => {
  const before = (await readdir(ctx.queueDir)).length;
  // ANTHROPIC_API_KEY is one a route of this bottle already injects: the gateway holds its value,
  // so an approval would send it to the new host without the person's shell being asked for it.
  for (const env of ['ANTHROPIC_API_KEY', 'AWS_SECRET_ACCESS_KEY']) {
    const r = await call(ctx, 'request_egress', { host: 'collect.evil.example', reason: 'sync', auth: { header: 'authorization', env } });
    assert.ok(r.isError, env);
    assert.match(text(r), new RegExp(`auth\\.env: \\$${env} is not a credential this bottle may ask for; its manifest's "supervise": \\{"credentials": \\[\\.\\.\\.\\]\\} allows only GITHUB_TOKEN`));
    const line = ctx.audit.at(-1)!;
    assert.equal([line.decision, line.id, line.host, line.auth], ['deny', null, 'collect.evil.example', { header: 'authorization', env }]);
  }
  assert.is((await readdir(ctx.queueDir)).length, before, 'nothing queued');
  const ok = await call(ctx, 'request_egress', { host: 'api.github.com', reason: 'open a pull request', auth: { header: 'authorization', env: 'GITHUB_TOKEN', format: 'Bearer {value}' } });
  assert.not.ok(ok.isError, text(ok));
  assert.is((await readdir(ctx.queueDir)).length, before + 1, 'control: an allowed credential is queued');
  const { tools } = await ctx.client.listTools();
  assert.match(tools.find((t) => t.name === 'request_egress')!.description ?? '', /only these host env vars may be named: GITHUB_TOKEN/);
});

test('"supervise": true names no credential: any request for one is refused, one without auth is queued', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'supervise-none-'));
  const queueDir = path.join(dir, 'queue');
  const decisionsDir = path.join(dir, 'decisions');
  await mkdir(queueDir);
  await mkdir(decisionsDir);
  const server = await startSuperviseServer({ listen: { port: 0 }, queueDir, decisionsDir, routes: [], repos: [], credentials: [] });
  const client = await connect(server.port!);
  try {
    const asked = (await client.callTool({ name: 'request_egress', arguments: { host: 'api.github.com', reason: 'x', auth: { header: 'authorization', env: 'GITHUB_TOKEN' } } })) as ToolResult;
    assert.ok(asked.isError);
    assert.match(text(asked), /this bottle may not ask for any credential \(its manifest's "supervise" names none\), so not for \$GITHUB_TOKEN/);
    assert.equal(await readdir(queueDir), []);
    const plain = (await client.callTool({ name: 'request_egress', arguments: { host: 'api.github.com', reason: 'x' } })) as ToolResult;
    assert.not.ok(plain.isError, text(plain));
    const rules = (await client.callTool({ name: 'get_rules', arguments: {} })) as ToolResult;
    assert.equal(rules.structuredContent!.askableCredentials, []);
    const { tools } = await client.listTools();
    assert.match(tools.find((t) => t.name === 'request_egress')!.description ?? '', /this bottle may ask for no credential/);
  } finally {
    await client.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a flood is bounded: at most 20 requests wait at once, the 21st is refused, and a decision makes room', async (ctx) => {
  const pending = async () => (await listQueue(ctx.queueDir, ctx.decisionsDir)).requests.filter((q) => q.status === 'pending');
  const start = (await pending()).length;
  const results = await Promise.all(Array.from({ length: 30 }, (_, i) => call(ctx, 'request_egress', { host: `h${i}.flood.example.com`, reason: `flood ${i}` })));
  const accepted = results.filter((r) => !r.isError);
  assert.is(accepted.length, 20 - start, 'exactly up to the bound, even when the calls race');
  for (const r of results.filter((r) => r.isError)) assert.match(text(r), /already waiting for a person \(at most 20\)/);
  assert.is((await pending()).length, 20);
  const first = (await pending())[0]!.request.id;
  await writeDecision(ctx.decisionsDir, { id: first, status: 'denied', time: new Date().toISOString(), decidedBy: 'alice' });
  assert.not.ok((await call(ctx, 'request_egress', { host: 'room.flood.example.com', reason: 'room' })).isError);
});

test('the host lists pending requests and skips files that are not valid requests (planted, linked, oversized)', async (ctx) => {
  await writeFile(path.join(ctx.queueDir, 'req-aaaaaaaaaa.json'), JSON.stringify({ id: 'req-aaaaaaaaaa', time: new Date().toISOString(), host: '10.0.0.1', reason: 'x' }));
  await symlink('/etc/passwd', path.join(ctx.queueDir, 'req-bbbbbbbbbb.json'));
  await writeFile(path.join(ctx.queueDir, 'req-cccccccccc.json'), 'x'.repeat(100_000));
  await writeFile(path.join(ctx.queueDir, 'req-dddddddddd.json'), JSON.stringify({ id: 'req-eeeeeeeeee', time: new Date().toISOString(), host: 'a.example.com', reason: 'x' }));
  const bottle: BottleQueue = { slug: 'demo-abc12', stateDir: ctx.dir, queueDir: ctx.queueDir, decisionsDir: ctx.decisionsDir, adminSocket: '/nonexistent', auditLog: path.join(ctx.dir, 'audit.jsonl'), manifestPath: null, bottleName: null, credentials: [], launchRoutes: [] };
  const { pending, skipped } = await pendingRequests([bottle]);
  assert.is(pending.length, 20);
  assert.ok(pending.every((p) => p.slug === 'demo-abc12'));
  assert.equal(skipped.map((s) => s.replace(/ \(.*$/, '')).sort(), [
    'demo-abc12: req-aaaaaaaaaa.json: not a valid request',
    'demo-abc12: req-bbbbbbbbbb.json: a symbolic link',
    'demo-abc12: req-cccccccccc.json: 100000 bytes, more than 16384',
    'demo-abc12: req-dddddddddd.json: its id req-eeeeeeeeee is not its file\'s name',
  ]);
});

test('the endpoint: only POST to /mcp, bodies capped', async (ctx) => {
  const base = `http://127.0.0.1:${ctx.server.port}`;
  assert.is((await fetch(`${base}/other`, { method: 'POST', body: '{}' })).status, 404);
  assert.is((await fetch(`${base}/mcp`)).status, 405);
  assert.is((await fetch(`${base}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(300_000) }).catch(() => ({ status: 413 }))).status, 413);
  assert.is((await fetch(`${base}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' })).status, 400);
});

test.run();
