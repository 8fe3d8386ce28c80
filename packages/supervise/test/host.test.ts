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
import { addRouteToManifestText, approveRequest, editManifestText, denyRequest, findRequest, readDecision, readRoutesFile, writeRequest, type BottleQueue } from '@bot-bottle/supervise';

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
  };
  for (const d of [bottle.queueDir, bottle.decisionsDir, path.dirname(bottle.adminSocket), path.dirname(bottle.auditLog)]) await mkdir(d, { recursive: true });
  await writeFile(bottle.manifestPath!, MANIFEST);
  ctx.bottle = bottle;
  const ca = await createBottleCa(path.join(ctx.dir, 'ca'));
  ctx.gateway = await startGateway({ ca: { cert: ca.certPath, key: ca.keyPath }, routes: [{ host: 'api.anthropic.com' }], listen: { port: 0 } });
  ctx.admin = await startAdminServer(ctx.gateway, bottle.adminSocket);
});

test.after(async (ctx) => {
  await ctx.admin.close();
  await ctx.gateway.close();
  await rm(ctx.dir, { recursive: true, force: true });
});

const auditLines = async (ctx: Ctx) => (await readFile(ctx.bottle.auditLog, 'utf8')).trim().split('\n').map((l) => parseAuditEntry(l));

test('approve: the running gateway gets the route, the agent reads the decision and the routes, the log has the line', async (ctx) => {
  const id = await request(ctx, { host: 'registry.npmjs.org', methods: ['GET'] });
  const r = await approveRequest({ bottle: ctx.bottle, id, decidedBy: 'alice', env: {}, persist: false });
  assert.equal(r.route, { host: 'registry.npmjs.org', methods: ['GET'] });
  assert.equal(ctx.gateway.routes(), [{ host: 'api.anthropic.com' }, { host: 'registry.npmjs.org', methods: ['GET'] }]);
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
