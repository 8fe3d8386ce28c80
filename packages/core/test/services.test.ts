import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AUDIT_LOG_NAME, BUNDLE_SERVICES, agentEnv, guestEndpoints } from '../src/index.js';
import { planFor, world } from '../src/testing/index.js';
import { cleanupTempDirs } from './helpers.js';

const test = suite('services');
test.after.each(cleanupTempDirs);

test('the table: one port and one socket name per service, none shared', () => {
  const rows = Object.values(BUNDLE_SERVICES);
  assert.equal(Object.keys(BUNDLE_SERVICES), ['egress', 'git', 'supervise']);
  assert.is(new Set(rows.map((r) => r.port)).size, rows.length);
  assert.is(new Set(rows.map((r) => r.socket)).size, rows.length);
  for (const r of rows) {
    assert.ok(Number.isInteger(r.port) && r.port > 0 && r.port < 65536, String(r.port));
    // A plain name in the socket folder: the forwarder and the bundle join it to their folder.
    assert.match(r.socket, /^[a-z-]+\.sock$/);
  }
});

test('the guest endpoints are built from the table', () => {
  assert.equal(guestEndpoints(), {
    proxyUrl: `http://127.0.0.1:${BUNDLE_SERVICES.egress.port}`,
    gitGateHost: `127.0.0.1:${BUNDLE_SERVICES.git.port}`,
    superviseUrl: `http://127.0.0.1:${BUNDLE_SERVICES.supervise.port}/mcp`,
  });
  assert.is(guestEndpoints('bundle').gitGateHost, `bundle:${BUNDLE_SERVICES.git.port}`);
});

test("the plan's ports, audit log and agent env come from the table", async () => {
  const plan = await planFor(await world(), { routes: [{ host: 'api.example.com' }], supervise: true });
  assert.is(plan.egress.port, BUNDLE_SERVICES.egress.port);
  assert.is(plan.gitGate.port, BUNDLE_SERVICES.git.port);
  assert.is(plan.supervise?.port, BUNDLE_SERVICES.supervise.port);
  assert.ok(plan.egress.auditLogPath.endsWith(`/log/${AUDIT_LOG_NAME}`));
  const env = agentEnv(plan, guestEndpoints());
  assert.is(env.HTTPS_PROXY, `http://127.0.0.1:${BUNDLE_SERVICES.egress.port}`);
});

test.run();
