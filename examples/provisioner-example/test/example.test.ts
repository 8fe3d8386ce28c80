import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  buildRegistry,
  makePlan,
  parseManifestText,
  resolveSteps,
  runProvisioners,
  type BottlePlan,
  type ProvisionerDefinition,
} from '@bot-bottle/core';
import { definitionChecks, RecordingTarget, rejects } from '@bot-bottle/core/testing';
import example, { DEFAULT_MOTD, MOTD_FILE } from '../src/index.js';
import register from '../src/register.js';

const endpoints = { proxyUrl: 'http://bundle:3128', gitGateHost: 'bundle:9418', superviseUrl: 'http://bundle:9100/mcp' };

/** A stand-in for the built-in ca provisioner: the example only needs something named "ca" to run after. */
const ca: ProvisionerDefinition = { apiVersion: 1, name: 'ca', apply: async () => {} };

async function planFor(provisioners: unknown[]): Promise<BottlePlan> {
  const manifest = await parseManifestText(
    JSON.stringify({
      bottles: { dev: { egress: { routes: [{ host: 'api.anthropic.com' }, { host: 'registry.npmjs.org' }] } } },
      agents: { demo: { bottle: 'dev', provisioners } },
    }),
    '/virtual/bottle.json',
    '/virtual',
  );
  return makePlan({ manifest, agentName: 'demo', copyCwd: false, userCwd: '/virtual' }, { seed: 'example', env: {}, home: '/virtual-home' });
}

function registry() {
  return buildRegistry(
    [
      { plugin: { name: '@bot-bottle/provisioner-ca', version: '0.1.0' }, result: ca },
      { plugin: { name: '@bot-bottle/provisioner-example', version: '0.1.0' }, result: example },
    ],
    [],
    new Set(['@bot-bottle/provisioner-ca']),
  );
}

const test = suite('provisioner-example');

// What every provisioner package must pass: a valid definition, a hook that hands it over,
// package.json declaring the built hook, and the runner applying it by name (after a "ca").
for (const check of definitionChecks({
  definition: example,
  hook: register,
  name: 'example',
  packageName: '@bot-bottle/provisioner-example',
  packageRoot: fileURLToPath(new URL('..', import.meta.url)),
  takesOptions: true,
  before: [ca],
})) test(check.name, check.run);

test('the hook hands over the definition, and the registry accepts it', async () => {
  assert.is(await register(), example);
  const reg = registry().get('example');
  assert.ok(reg);
  assert.is(reg.builtIn, false);
  assert.equal(reg.definition.after, ['ca']);
});

test('writes the motd as the guest user, via stdin, listing the allowed hosts', async () => {
  const plan = await planFor(['ca', { name: 'example', options: { motd: 'Hello from the host' } }]);
  const target = new RecordingTarget();
  const outcome = await runProvisioners(resolveSteps(plan.provisioners, registry()), { plan, target, endpoints });
  assert.equal(outcome.applied, ['ca', 'example']);
  assert.equal(outcome.env, { BOTTLE_MOTD: `/home/node/${MOTD_FILE}` });
  assert.is(target.execs.length, 1);
  const call = target.execs[0]!;
  assert.equal(call.argv, ['sh', '-c', 'umask 022 && cat > "$1"', 'sh', `/home/node/${MOTD_FILE}`]);
  assert.is(call.options.user, 'node');
  assert.is(call.options.stdin, 'Hello from the host\nallowed hosts: api.anthropic.com, registry.npmjs.org\n');
  assert.is(target.copies.length, 0);
});

test('without options the default message is written', async () => {
  const plan = await planFor(['ca', 'example']);
  const target = new RecordingTarget();
  await runProvisioners(resolveSteps(plan.provisioners, registry()), { plan, target, endpoints });
  assert.ok(String(target.execs[0]!.options.stdin).startsWith(`${DEFAULT_MOTD}\n`));
});

test('an unknown or invalid option is refused before anything runs, naming its path', async () => {
  for (const [options, want] of [
    [{ mtod: 'x' }, 'agents.demo.provisioners[1].options.mtod'],
    [{ motd: '' }, 'motd must not be empty'],
    [{ motd: 42 }, 'agents.demo.provisioners[1].options.motd'],
  ] as const) {
    const plan = await planFor(['ca', { name: 'example', options }]);
    const e = await rejects(() => resolveSteps(plan.provisioners, registry(), 'agents.demo.provisioners'));
    assert.is(e.code, 'PROVISIONER_OPTIONS');
    assert.ok(e.details.join('\n').includes(want), e.details.join('\n'));
  }
});

test('listed before ca, it is refused with the order that works', async () => {
  const plan = await planFor(['example', 'ca']);
  const e = await rejects(() => resolveSteps(plan.provisioners, registry()));
  assert.is(e.code, 'PROVISIONER_ORDER');
  assert.match(e.message, 'must run after "ca"');
  assert.match(e.suggestions[0]!, '["ca", "example"]');
});

test('a failed write stops the launch with the guest error and a fix', async () => {
  const plan = await planFor(['ca', 'example']);
  const target = new RecordingTarget();
  target.respond = () => ({ exitCode: 1, stdout: '', stderr: 'sh: 1: cannot create /home/node/.bottle-motd: Permission denied' });
  const e = await rejects(() => runProvisioners(resolveSteps(plan.provisioners, registry()), { plan, target, endpoints }));
  assert.is(e.code, 'PROVISIONER_FAILED');
  assert.match(e.message, 'provisioner "example"');
  assert.match(e.details.join('\n'), 'Permission denied');
  assert.match(e.suggestions[0]!, 'belongs to node');
});

test.run();
