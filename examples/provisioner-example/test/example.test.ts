import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { defineProvisioner } from '@bot-bottle/core/provisioner';
import { cleanupTempDirs, definitionChecks, provisionForTest, RecordingTarget, rejects, runForTest } from '@bot-bottle/core/testing';
import example, { DEFAULT_MOTD, MOTD_FILE } from '../src/index.js';
import register from '../src/register.js';

/** A stand-in for the built-in ca provisioner: the example only needs something named "ca" to run after. */
const ca = defineProvisioner({ apiVersion: 1, name: 'ca', apply: async () => {} });

const ROUTES = [{ host: 'api.anthropic.com' }, { host: 'registry.npmjs.org' }];

const test = suite('provisioner-example');
test.after.each(cleanupTempDirs);

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

test('writes the motd as the guest user, via stdin, listing the allowed hosts', async () => {
  const { outcome, target } = await runForTest([ca, example], { routes: ROUTES, provisioners: ['ca', { name: 'example', options: { motd: 'Hello from the host' } }] });
  assert.equal(outcome.applied, ['ca', 'example']);
  assert.equal(outcome.env, { BOTTLE_MOTD: `/home/node/${MOTD_FILE}` });
  assert.is(target.execs.length, 1);
  const call = target.execs[0]!;
  assert.equal(call.argv, ['sh', '-c', 'umask 022 && cat > "$1"', 'sh', `/home/node/${MOTD_FILE}`]);
  assert.is(call.options.user, 'node');
  assert.is(call.options.stdin, 'Hello from the host\nallowed hosts: api.anthropic.com, registry.npmjs.org\n');
  assert.is(target.copies.length, 0);
});

test('without options the default message is written; without routes it says so', async () => {
  const { target, logs } = await provisionForTest(example);
  assert.is(target.execs[0]!.options.stdin, `${DEFAULT_MOTD}\nno outside hosts are allowed\n`);
  assert.equal(logs, [`wrote /home/node/${MOTD_FILE}`]);
});

test('an unknown or invalid option is refused before anything runs, naming its path', async () => {
  for (const [options, want] of [
    [{ mtod: 'x' }, 'agents.demo.provisioners[1].options.mtod'],
    [{ motd: '' }, 'motd must not be empty'],
    [{ motd: 42 }, 'agents.demo.provisioners[1].options.motd'],
  ] as const) {
    const target = new RecordingTarget();
    const e = await rejects(() => runForTest([ca, example], { provisioners: ['ca', { name: 'example', options }] }, { target }));
    assert.is(e.code, 'PROVISIONER_OPTIONS');
    assert.ok(e.details.join('\n').includes(want), e.details.join('\n'));
    assert.equal(target.calls, []);
  }
});

test('listed before ca, it is refused with the order that works', async () => {
  const e = await rejects(() => runForTest([ca, example], { provisioners: ['example', 'ca'] }));
  assert.is(e.code, 'PROVISIONER_ORDER');
  assert.match(e.message, 'must run after "ca"');
  assert.match(e.suggestions[0]!, '["ca", "example"]');
});

test('a failed write stops the launch with the guest error and a fix', async () => {
  const target = new RecordingTarget();
  target.respond = () => ({ exitCode: 1, stdout: '', stderr: 'sh: 1: cannot create /home/node/.bottle-motd: Permission denied' });
  const e = await rejects(() => runForTest([ca, example], { provisioners: ['ca', 'example'] }, { target }));
  assert.is(e.code, 'PROVISIONER_FAILED');
  assert.match(e.message, 'provisioner "example"');
  assert.match(e.details.join('\n'), 'Permission denied');
  assert.match(e.suggestions[0]!, 'belongs to node');
});

test.run();
