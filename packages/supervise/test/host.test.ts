/**
 * The host's side against a real egress gateway and its real admin socket (in this process): an
 * approval changes the running gateway's routes, a credential's value comes from the host env at
 * that moment, a denial keeps its reason, and --persist edits the manifest keeping its comments.
 */
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseAuditEntry, parseManifestText } from '@bot-bottle/core';
import { createBottleCa, startAdminServer, startGateway, type AdminServer, type Gateway } from '@bot-bottle/egress-gateway';
import type { BottleError } from '@bot-bottle/core';
import { addRouteToManifestText, approveRequest, assessCredential, bottleQueue, editManifestText, denyRequest, findRequest, hostCovers, readDecision, readRoutesFile, writeRequest, type BottleQueue } from '@bot-bottle/supervise';

interface Ctx {
  dir: string;
  bottle: BottleQueue;
  gateway: Gateway;
  admin: AdminServer;
}
const test = suite<Ctx>('supervise host');

// Strict JSON (the manifest format), laid out by hand: key order, spacing and a one-line route.
const MANIFEST = `{
  "$schema": "https://example.invalid/bottle.schema.json",
  "agents":   { "demo": { "bottle": "dev" } },
  "bottles": {
    "bare": {},
    "dev": {
      "egress": {
        "routes": [
          { "host": "api.anthropic.com" }
        ]
      },
      "supervise": true
    }
  }
}
`;

let n = 0;
async function request(ctx: Ctx, ask: Record<string, unknown>): Promise<string> {
  const id = `req-host${String(n++).padStart(6, '0')}`;
  await writeRequest(ctx.bottle.queueDir, { id, time: new Date().toISOString(), host: 'x.example.com', reason: 'test', ...ask } as never);
  return id;
}

test.before(async (ctx) => {
  ctx.dir = await mkdtemp(path.join(tmpdir(), 'supervise-host-'));
  const stateDir = path.join(ctx.dir, 'state', 'demo-abc12');
  const bottle: BottleQueue = {
    slug: 'demo-abc12',
    stateDir,
    queueDir: path.join(stateDir, 'supervise', 'queue'),
    decisionsDir: path.join(stateDir, 'supervise', 'decisions'),
    adminSocket: path.join(stateDir, 'control', 'egress-admin.sock'),
    auditLog: path.join(stateDir, 'log', 'audit.jsonl'),
    manifestPath: path.join(ctx.dir, 'bottle.json'),
    bottleName: 'dev',
    credentials: ['EXAMPLE_API_KEY', 'GITHUB_TOKEN'],
    launchRoutes: [LAUNCH_ROUTE],
  };
  for (const d of [bottle.queueDir, bottle.decisionsDir, path.dirname(bottle.adminSocket), path.dirname(bottle.auditLog)]) await mkdir(d, { recursive: true });
  await writeFile(bottle.manifestPath!, MANIFEST);
  ctx.bottle = bottle;
  const ca = await createBottleCa(path.join(ctx.dir, 'ca'));
  ctx.gateway = await startGateway({
    ca: { cert: ca.certPath, key: ca.keyPath },
    routes: [LAUNCH_ROUTE],
    secrets: { ANTHROPIC_API_KEY: ANTHROPIC_VALUE },
    listen: { port: 0 },
  });
  ctx.admin = await startAdminServer(ctx.gateway, bottle.adminSocket);
});

test.after(async (ctx) => {
  await ctx.admin.close();
  await ctx.gateway.close();
  await rm(ctx.dir, { recursive: true, force: true });
});

const ANTHROPIC_VALUE = 'sk-ant-launch-value-0123456789abcdef';
const LAUNCH_ROUTE = { host: 'api.anthropic.com', auth: { header: 'x-api-key', env: 'ANTHROPIC_API_KEY' } };

const auditLines = async (ctx: Ctx) => (await readFile(ctx.bottle.auditLog, 'utf8')).trim().split('\n').map((l) => parseAuditEntry(l));

test('approve: the running gateway gets the route, the agent reads the decision and the routes, the log has the line', async (ctx) => {
  const id = await request(ctx, { host: 'registry.npmjs.org', methods: ['GET'] });
  const r = await approveRequest({ bottle: ctx.bottle, id, decidedBy: 'alice', env: {}, persist: false });
  assert.equal(r.route, { host: 'registry.npmjs.org', methods: ['GET'] });
  assert.equal(ctx.gateway.routes(), [LAUNCH_ROUTE, { host: 'registry.npmjs.org', methods: ['GET'] }]);
  const d = await readDecision(ctx.bottle.decisionsDir, id);
  assert.equal([d?.status, d?.decidedBy], ['approved', 'alice']);
  assert.equal(await readRoutesFile(ctx.bottle.decisionsDir), ctx.gateway.routes());
  const line = (await auditLines(ctx)).at(-1)!;
  assert.equal(line, { ...line, source: 'supervise', event: 'decision', id, host: 'registry.npmjs.org', decision: 'allow', decidedBy: 'alice' });
  // Decided once only.
  try {
    await denyRequest({ bottle: ctx.bottle, id, decidedBy: 'bob' });
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /already approved by alice/);
  }
});

test('deny: the reason is kept for the agent and the log; the gateway does not change', async (ctx) => {
  const before = ctx.gateway.routes();
  const id = await request(ctx, { host: 'paste.example.com' });
  await denyRequest({ bottle: ctx.bottle, id, decidedBy: 'alice', reason: 'no paste sites' });
  assert.equal(ctx.gateway.routes(), before);
  assert.equal((await readDecision(ctx.bottle.decisionsDir, id))?.reason, 'no paste sites');
  const line = (await auditLines(ctx)).at(-1)!;
  assert.equal([line.source, line.decision, line.reason], ['supervise', 'deny', 'no paste sites']);
});

test('a credential route: refused while the env var is unset on the host (nothing changes), then its value goes to the gateway, never to a file', async (ctx) => {
  const VALUE = 'host-secret-value-0123456789abcdef';
  const id = await request(ctx, { host: 'api.example.com', auth: { header: 'x-api-key', env: 'EXAMPLE_API_KEY' } });
  const before = ctx.gateway.routes();
  try {
    await approveRequest({ bottle: ctx.bottle, id, decidedBy: 'alice', env: {}, persist: false });
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /asks the gateway to inject \$EXAMPLE_API_KEY, which is not set in this shell/);
  }
  assert.equal(ctx.gateway.routes(), before);
  assert.is(await readDecision(ctx.bottle.decisionsDir, id), null, 'still pending');
  await approveRequest({ bottle: ctx.bottle, id, decidedBy: 'alice', env: { EXAMPLE_API_KEY: VALUE }, persist: false });
  assert.ok(ctx.gateway.routes().some((r) => r.auth?.env === 'EXAMPLE_API_KEY'));
  for (const f of [ctx.bottle.auditLog, path.join(ctx.bottle.decisionsDir, 'routes.json'), path.join(ctx.bottle.decisionsDir, `${id}.json`)]) {
    assert.not.ok((await readFile(f, 'utf8')).includes(VALUE), f);
  }
});

test('approve refuses a credential the manifest does not name, also one the gateway already holds: nothing changes, no value moves', async (ctx) => {
  const before = ctx.gateway.routes();
  // Written straight into the queue, as a bundle that no longer refuses such requests could.
  const cases: [string, BottleQueue, RegExp][] = [
    // The gateway holds ANTHROPIC_API_KEY for api.anthropic.com: approving would send it elsewhere without asking the shell.
    ['ANTHROPIC_API_KEY', ctx.bottle, /allows only EXAMPLE_API_KEY, GITHUB_TOKEN/],
    ['AWS_SECRET_ACCESS_KEY', ctx.bottle, /allows only EXAMPLE_API_KEY, GITHUB_TOKEN/],
    // "supervise": true: no credential at all.
    ['GITHUB_TOKEN', { ...ctx.bottle, credentials: [] }, /this bottle may not ask for any credential/],
  ];
  for (const [env, bottle, detail] of cases) {
    const id = await request(ctx, { host: 'collect.evil.example', auth: { header: 'authorization', env } });
    try {
      await approveRequest({ bottle, id, decidedBy: 'alice', env: { [env]: 'value-in-the-shell-0123456789' }, persist: true });
      assert.unreachable(env);
    } catch (e) {
      const err = e as BottleError;
      assert.match(err.message, new RegExp(`request ${id} of demo-abc12 asks for \\$${env}, which this bottle may not ask for; nothing was changed`));
      assert.match(err.details.join('\n'), detail);
      assert.equal([err.code, err.exit], ['USAGE', 2]);
      assert.ok(err.suggestions.some((s) => s.includes(`bottle supervise deny ${id}`)));
    }
    assert.equal(ctx.gateway.routes(), before, `${env}: the gateway is unchanged`);
    assert.is(await readDecision(ctx.bottle.decisionsDir, id), null, `${env}: still pending`);
  }
  assert.is(await readFile(ctx.bottle.manifestPath!, 'utf8'), MANIFEST, '--persist wrote nothing');
  // Control: an allowed name is approved.
  const ok = await request(ctx, { host: 'api.github.com', auth: { header: 'authorization', env: 'GITHUB_TOKEN', format: 'Bearer {value}' } });
  const r = await approveRequest({ bottle: ctx.bottle, id: ok, decidedBy: 'alice', env: { GITHUB_TOKEN: 'ghp_value0123456789' }, persist: false });
  assert.equal(r.route.auth, { header: 'authorization', env: 'GITHUB_TOKEN', format: 'Bearer {value}' });
  assert.equal([r.credential?.allowed, r.credential?.newDestination, r.credential?.fromShell, r.credential?.sentTo], [true, true, true, []]);
});

test('an approval of what was shown: a request rewritten in the queue since is refused, nothing changes', async (ctx) => {
  const before = ctx.gateway.routes();
  const id = await request(ctx, { host: 'docs.example.com', methods: ['GET'] });
  const shown = (await findRequest(id, [ctx.bottle])).queued.request;
  // The bundle owns the queue: it renames another request over the same id.
  await writeRequest(ctx.bottle.queueDir, { ...shown, host: 'collect.evil.example', methods: ['GET', 'POST'] });
  try {
    await approveRequest({ bottle: ctx.bottle, id, decidedBy: 'alice', env: {}, persist: false, expect: shown });
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, `request ${id} of demo-abc12 changed since it was shown to you; nothing was changed`);
  }
  assert.equal(ctx.gateway.routes(), before);
  assert.is(await readDecision(ctx.bottle.decisionsDir, id), null);
  // Control: what is shown now is approved.
  const now = (await findRequest(id, [ctx.bottle])).queued.request;
  const r = await approveRequest({ bottle: ctx.bottle, id, decidedBy: 'alice', env: {}, persist: false, expect: now });
  assert.is(r.route.host, 'collect.evil.example');
});

test('bottleQueue reads the credentials a request may ask for from the plan; true, or a plan that says anything else, allows none', async (ctx) => {
  const stateDir = path.join(ctx.dir, 'state', 'plan-abc12');
  await mkdir(stateDir, { recursive: true });
  const plan = (credentials: unknown) => ({
    slug: 'plan-abc12',
    egress: { routes: [{ host: 'api.github.com', auth: { header: 'authorization', env: 'GITHUB_TOKEN' } }] },
    supervise: { queueDir: path.join(stateDir, 'q'), decisionsDir: path.join(stateDir, 'd'), ...(credentials === undefined ? {} : { credentials }) },
  });
  const cases: [unknown, string[]][] = [
    [['GITHUB_TOKEN', 'NPM_TOKEN'], ['GITHUB_TOKEN', 'NPM_TOKEN']],
    [[], []],
    [undefined, []],
    ['GITHUB_TOKEN', []],
    [['GITHUB_TOKEN', 'not a name'], []],
  ];
  for (const [given, expected] of cases) {
    await writeFile(path.join(stateDir, 'plan.json'), JSON.stringify(plan(given)));
    const q = await bottleQueue(stateDir);
    assert.equal(q?.credentials, expected, JSON.stringify(given));
    assert.equal(q?.launchRoutes, [{ host: 'api.github.com', auth: { header: 'authorization', env: 'GITHUB_TOKEN' } }]);
  }
});

test('a credential to a host no route in force sends it to is new; one a route (or a wider wildcard) sends there already is not', () => {
  const routes = [
    { host: 'api.github.com', auth: { header: 'authorization', env: 'GITHUB_TOKEN' } },
    { host: '*.corp.example', auth: { header: 'x-key', env: 'CORP_KEY' } },
    { host: 'registry.npmjs.org' },
  ];
  const allowed = ['GITHUB_TOKEN', 'CORP_KEY', 'NPM_TOKEN'];
  const cases: [string, string, boolean, string[]][] = [
    ['evil.example', 'GITHUB_TOKEN', true, ['api.github.com']],
    ['api.github.com', 'GITHUB_TOKEN', false, ['api.github.com']],
    ['uploads.github.com', 'GITHUB_TOKEN', true, ['api.github.com']],
    ['a.b.corp.example', 'CORP_KEY', false, ['*.corp.example']],
    ['*.x.corp.example', 'CORP_KEY', false, ['*.corp.example']],
    ['corp.example', 'CORP_KEY', true, ['*.corp.example']],
    ['*.example', 'CORP_KEY', true, ['*.corp.example']],
    ['registry.npmjs.org', 'NPM_TOKEN', true, []],
  ];
  for (const [host, env, isNew, sentTo] of cases) {
    const a = assessCredential({ host, auth: { header: 'authorization', env } }, allowed, routes)!;
    assert.equal([a.newDestination, a.sentTo, a.fromShell, a.allowed], [isNew, sentTo, sentTo.length === 0, true], `${env} to ${host}`);
  }
  assert.is(assessCredential({ host: 'a.example' }, allowed, routes), null);
  const refused = assessCredential({ host: 'a.example', auth: { header: 'x', env: 'OTHER' } }, allowed, routes)!;
  assert.equal([refused.allowed, refused.allowedNames], [false, allowed]);
  assert.match(refused.problem!, /allows only GITHUB_TOKEN, CORP_KEY, NPM_TOKEN/);
  assert.ok(hostCovers('*.corp.example', 'a.corp.example') && !hostCovers('*.corp.example', 'corp.example') && !hostCovers('a.corp.example', '*.corp.example'));
});

test('an unknown or malformed id, and a bottle whose gateway is gone, are clear errors', async (ctx) => {
  for (const [id, re] of [['req-nothere000', /no running bottle has a request req-nothere000/], ['../x', /is not a request id/]] as const) {
    try {
      await findRequest(id, [ctx.bottle]);
      assert.unreachable();
    } catch (e) {
      assert.match((e as Error).message, re);
    }
  }
  const id = await request(ctx, { host: 'gone.example.com' });
  try {
    await approveRequest({ bottle: { ...ctx.bottle, adminSocket: path.join(ctx.dir, 'nope.sock') }, id, decidedBy: 'alice', env: {}, persist: false });
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /cannot reach the egress gateway of demo-abc12/);
  }
});

test('--persist: the route is added to the bottle in the manifest, comments and layout kept, and it still validates', async (ctx) => {
  const id = await request(ctx, { host: 'docs.example.com', methods: ['GET'], paths: ['/api/'] });
  const r = await approveRequest({ bottle: ctx.bottle, id, decidedBy: 'alice', env: {}, persist: true });
  assert.is(r.persisted, true);
  const text = await readFile(ctx.bottle.manifestPath!, 'utf8');
  // Everything but the new route is byte for byte as it was.
  assert.is(text.replace(/,\s*\{[^{}]*"docs\.example\.com"[^{}]*\}/, ''), MANIFEST);
  assert.ok(text.includes('"agents":   { "demo"'), text);
  const loaded = await parseManifestText(text, ctx.bottle.manifestPath!, ctx.dir);
  assert.equal(loaded.manifest.bottles.dev!.egress!.routes, [{ host: 'api.anthropic.com' }, { host: 'docs.example.com', methods: ['GET'], paths: ['/api/'] }]);
  // The same route again is not added twice.
  assert.is(await addRouteToManifestText(text, 'dev', { host: 'docs.example.com', methods: ['GET'], paths: ['/api/'] }, 'bottle.json'), null);
});

test('the edit keeps comments where a file has them; --persist into a bottle with no egress yet, and into tab-indented CRLF files', () => {
  const jsonc = '{\n  // the team\'s sandbox\n  "bottles": { "dev": { "egress": { "routes": [ { "host": "a.example" } /* model */ ] } } },\n  "agents": {}\n}\n';
  const withComments = editManifestText(jsonc, 'dev', { host: 'b.example.com' }, 'bottle.jsonc')!;
  for (const kept of ["// the team's sandbox", '/* model */']) assert.ok(withComments.includes(kept), withComments);
  assert.match(withComments, /"b\.example\.com"/);
});

test('--persist into a bottle with no egress yet, and into tab-indented CRLF files', async () => {
  const bare = await addRouteToManifestText(MANIFEST, 'bare', { host: 'a.example.com' }, 'bottle.json');
  assert.equal((await parseManifestText(bare!, 'bottle.json', '/tmp')).manifest.bottles.bare!.egress!.routes, [{ host: 'a.example.com' }]);
  const tabs = '{\r\n\t"bottles": {\r\n\t\t"dev": { "egress": { "routes": [] } }\r\n\t},\r\n\t"agents": {}\r\n}\r\n';
  const out = (await addRouteToManifestText(tabs, 'dev', { host: 'b.example.com' }, 'bottle.json'))!;
  assert.ok(!/[^\r]\n/.test(out), JSON.stringify(out));
  try {
    await addRouteToManifestText(MANIFEST, 'gone', { host: 'a.example.com' }, 'bottle.json');
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /no longer defines bottle "gone"/);
  }
});

test('--persist that would make the manifest invalid stops before the gateway changes', async (ctx) => {
  const before = ctx.gateway.routes();
  await writeFile(ctx.bottle.manifestPath!, '{ "bottles": { "dev": { "egress": { "routes": [] } } }, "agents": { "demo": { "bottle": "missing" } } }');
  const id = await request(ctx, { host: 'late.example.com' });
  try {
    await approveRequest({ bottle: ctx.bottle, id, decidedBy: 'alice', env: {}, persist: true });
    assert.unreachable();
  } catch (e) {
    assert.ok((e as Error).message.length > 0);
  }
  assert.equal(ctx.gateway.routes(), before);
  assert.is(await readDecision(ctx.bottle.decisionsDir, id), null);
});

test.run();
