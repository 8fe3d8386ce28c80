/** Backends by name: the registry the `bottle:backends` hook builds, and which name a launch uses. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { backendDefinition, buildBackendRegistry, chooseBackend, isBottleError, type Backend } from '@bot-bottle/core';

const test = suite('backends');
const fake = (name: string) => ({ name, description: `${name} backend`, create: () => ({ name }) as unknown as Backend });
const plugin = (name: string) => ({ name, version: '1.0.0' });

test('the registry holds each plugin\'s backend by name; a backend is made for the env it is given', () => {
  let seen: NodeJS.ProcessEnv | null = null;
  const reg = buildBackendRegistry([
    { plugin: plugin('@x/docker'), result: fake('docker') },
    { plugin: plugin('@x/vm'), result: { name: 'smolmachines', description: 'vm', create: (env: NodeJS.ProcessEnv) => ((seen = env), { name: 'smolmachines' } as unknown as Backend) } },
    { plugin: plugin('@x/none'), result: undefined },
  ], []);
  assert.equal([...reg.keys()].sort(), ['docker', 'smolmachines']);
  backendDefinition(reg, 'smolmachines').create({ A: '1' });
  assert.equal(seen, { A: '1' });
});

test('two plugins with one backend name, a broken hook, an invalid definition: one error naming the plugin', () => {
  const cases: [() => unknown, string, RegExp][] = [
    [() => buildBackendRegistry([{ plugin: plugin('@a/one'), result: fake('docker') }, { plugin: plugin('@b/two'), result: fake('docker') }], []), 'BACKEND_DUPLICATE', /two plugins provide a backend named "docker": @a\/one@1\.0\.0 and @b\/two@1\.0\.0/],
    [() => buildBackendRegistry([], [{ plugin: { name: '@c/bad' }, error: new Error('boom') }]), 'BACKEND_HOOK_FAILED', /plugin @c\/bad failed to register its backend: boom/],
    [() => buildBackendRegistry([{ plugin: plugin('@d/odd'), result: { name: 'Bad Name', create: () => null } }], []), 'BACKEND_HOOK_FAILED', /plugin @d\/odd registered an invalid backend: backend name "Bad Name"/],
    [() => buildBackendRegistry([{ plugin: plugin('@e/nofn'), result: { name: 'k8s' } }], []), 'BACKEND_HOOK_FAILED', /backend "k8s" has no create\(env\) function/],
  ];
  for (const [f, code, message] of cases) {
    try {
      f();
      assert.unreachable('no error');
    } catch (e) {
      assert.ok(isBottleError(e));
      assert.is(e.code, code);
      assert.match(e.message, message);
    }
  }
});

test('an unknown name lists the installed backends, exit 2, and says what chose it', () => {
  const reg = buildBackendRegistry([{ plugin: plugin('@x/docker'), result: fake('docker') }, { plugin: plugin('@x/vm'), result: fake('smolmachines') }], []);
  try {
    backendDefinition(reg, 'kubernetes', 'BOT_BOTTLE_BACKEND');
    assert.unreachable();
  } catch (e) {
    assert.ok(isBottleError(e));
    assert.is(e.code, 'BACKEND_UNKNOWN');
    assert.is(e.exit, 2);
    assert.is(e.message, 'no backend named "kubernetes" (from BOT_BOTTLE_BACKEND); installed: docker, smolmachines');
    assert.match(e.suggestions.join('\n'), 'bottle plugins install');
  }
});

test('choice: --backend, then BOT_BOTTLE_BACKEND, then CLAUDE_BOTTLE_BACKEND, then the bottle\'s key, then docker', () => {
  const env = { BOT_BOTTLE_BACKEND: 'b', CLAUDE_BOTTLE_BACKEND: 'c' };
  assert.equal(chooseBackend({ flag: 'a', env, manifest: 'm' }), { name: 'a', source: 'flag' });
  assert.equal(chooseBackend({ env, manifest: 'm' }), { name: 'b', source: 'BOT_BOTTLE_BACKEND' });
  assert.equal(chooseBackend({ env: { CLAUDE_BOTTLE_BACKEND: 'c' }, manifest: 'm' }), { name: 'c', source: 'CLAUDE_BOTTLE_BACKEND' });
  assert.equal(chooseBackend({ env: {}, manifest: 'm' }), { name: 'm', source: 'manifest' });
  assert.equal(chooseBackend({ env: { BOT_BOTTLE_BACKEND: '  ' } }), { name: 'docker', source: 'default' });
});

test.run();
