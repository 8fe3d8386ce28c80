import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as v from 'valibot';
import { PROVISIONER_API_VERSION, buildRegistry, defineProvisioner, type HookFailure, type HookSuccess, type ProvisionerDefinition } from '../src/index.js';
import { rejects } from './helpers.js';

const def = (name: string, extra: Record<string, unknown> = {}): ProvisionerDefinition<any> =>
  ({ apiVersion: 1, name, async apply() {}, ...extra }) as ProvisionerDefinition<any>;
const ok = (plugin: string, result: unknown, version = '1.0.0'): HookSuccess => ({ plugin: { name: plugin, version }, result });
const failed = (plugin: string, error: unknown): HookFailure => ({ plugin: { name: plugin }, error });

const test = suite('registry');

test('definitions from every plugin, single or in an array, with their package', () => {
  const reg = buildRegistry(
    [ok('@bot-bottle/provisioner-ca', def('ca'), '0.1.0'), ok('bottle-provisioner-extra', [def('lint'), def('fmt')], '2.0.0'), ok('@oclif/plugin-plugins', undefined), ok('other', null)],
    [],
    new Set(['@bot-bottle/provisioner-ca']),
  );
  assert.equal([...reg.keys()].sort(), ['ca', 'fmt', 'lint']);
  const ca = reg.get('ca')!;
  assert.is(ca.packageName, '@bot-bottle/provisioner-ca');
  assert.is(ca.packageVersion, '0.1.0');
  assert.is(ca.builtIn, true);
  const lint = reg.get('lint')!;
  assert.is(lint.packageName, 'bottle-provisioner-extra');
  assert.is(lint.builtIn, false);
  assert.ok(Object.isFrozen(lint.definition), 'registered definitions cannot be changed afterwards');
});

test('a duplicate name across packages names both packages', async () => {
  const err = await rejects(() => buildRegistry([ok('pkg-b', def('git'), '2.0.0'), ok('pkg-a', def('git'), '1.0.0')], []));
  assert.is(err.code, 'PROVISIONER_DUPLICATE');
  assert.is(err.message, 'two plugins provide a provisioner named "git": pkg-a@1.0.0 and pkg-b@2.0.0');
  assert.equal(err.suggestions, ['Uninstall one of them: bottle plugins uninstall pkg-b']);
});

test('a duplicate of a built-in suggests removing the other package', async () => {
  const core = new Set(['@bot-bottle/provisioner-git']);
  for (const order of [
    [ok('@bot-bottle/provisioner-git', def('git')), ok('aaa-git', def('git'))],
    [ok('aaa-git', def('git')), ok('@bot-bottle/provisioner-git', def('git'))],
    [ok('zzz-git', def('git')), ok('@bot-bottle/provisioner-git', def('git'))],
  ]) {
    const err = await rejects(() => buildRegistry(order, [], core));
    assert.is(err.code, 'PROVISIONER_DUPLICATE');
    assert.match(err.message, /@bot-bottle\/provisioner-git@1\.0\.0/);
    assert.match(err.message, /(aaa|zzz)-git@1\.0\.0/);
    assert.match(err.suggestions[0]!, /^Uninstall one of them: bottle plugins uninstall (aaa|zzz)-git$/);
  }
});

test('one package registering a name twice says so', async () => {
  const err = await rejects(() => buildRegistry([ok('pkg', [def('x'), def('x')], '3.1.0')], []));
  assert.is(err.code, 'PROVISIONER_DUPLICATE');
  assert.is(err.message, 'plugin pkg@3.1.0 registers the provisioner "x" twice');
});

test('a hook failure names the plugin and the cause', async () => {
  const err = await rejects(() => buildRegistry([ok('fine', def('ca'))], [failed('bottle-provisioner-broken', new Error('Cannot find module ./dist/register.js'))]));
  assert.is(err.code, 'PROVISIONER_HOOK_FAILED');
  assert.is(err.message, 'plugin bottle-provisioner-broken failed to register its provisioners: Cannot find module ./dist/register.js');
  assert.equal(err.details, []);
  assert.match(err.suggestions[0]!, /bottle plugins uninstall bottle-provisioner-broken/);
});

test('several hook failures: the first by name in the message, the rest in details, whatever the order', async () => {
  const a = failed('plugin-a', new Error('boom a'));
  const b = failed('plugin-b', 'boom b');
  const c = failed('plugin-c', new TypeError('boom c'));
  const messages = new Set<string>();
  for (const order of [[a, b, c], [c, b, a], [b, a, c]]) {
    const err = await rejects(() => buildRegistry([], order));
    assert.is(err.message, 'plugin plugin-a failed to register its provisioners: boom a');
    assert.equal(err.details, ['also failed: plugin-b: boom b', 'also failed: plugin-c: boom c']);
    messages.add(JSON.stringify(err.toJSON()));
  }
  assert.is(messages.size, 1);
});

const INVALID: [string, unknown, RegExp][] = [
  ['no apiVersion', { name: 'x', async apply() {} }, /apiVersion: missing; apiVersion must be 1/],
  ['a name with capitals', def('Bad'), /name: name must be 1-40 characters/],
  ['a name with a space', def('a b'), /name: name must be 1-40 characters/],
  ['an empty name', def(''), /name: name must be 1-40 characters/],
  ['no apply', { apiVersion: 1, name: 'x' }, /apply: missing; apply must be a function/],
  ['apply that is not a function', def('x', { apply: 'run' }), /apply: apply must be a function/],
  ['options that are not a schema', def('x', { options: { type: 'object' } }), /options: options must be a valibot schema/],
  ['after that is not a list', def('x', { after: 'ca' }), /after: /],
  ['after naming itself', def('x', { after: ['x'] }), /after must not name the provisioner itself/],
  ['null in a list', [null], /invalid provisioner definition: definition: /],
  ['a string', 'ca', /invalid provisioner definition/],
];

for (const [what, item, why] of INVALID) {
  test(`an invalid definition is refused: ${what}`, async () => {
    const err = await rejects(() => buildRegistry([ok('bottle-provisioner-odd', item)], []));
    assert.is(err.code, 'PROVISIONER_HOOK_FAILED');
    assert.match(err.message, /^plugin bottle-provisioner-odd registered an invalid provisioner: invalid provisioner definition: /);
    assert.match(err.message, why);
    assert.match(err.suggestions[0]!, /bottle plugins uninstall bottle-provisioner-odd/);
    for (const one of Array.isArray(item) ? item : [item]) assert.throws(() => defineProvisioner(one as ProvisionerDefinition), why);
  });
}

test('defineProvisioner in the plugin refuses another apiVersion at load time', () => {
  assert.throws(() => defineProvisioner(def('x', { apiVersion: 2 })), /apiVersion: apiVersion must be 1/);
});

test('a valid definition with every field is accepted', () => {
  const full = defineProvisioner({
    apiVersion: PROVISIONER_API_VERSION,
    name: 'full_1-x',
    description: 'does everything',
    after: ['ca', 'git'],
    options: v.strictObject({ level: v.number() }),
    async apply() {
      return { env: { A: '1' } };
    },
  });
  const reg = buildRegistry([ok('pkg', full)], []);
  const got = reg.get('full_1-x')!.definition;
  assert.equal({ ...got }, { ...full });
  assert.is(got.options, full.options);
});

test('the order of hook results does not change the outcome', () => {
  const results = [
    ok('@bot-bottle/provisioner-ca', def('ca')),
    ok('@bot-bottle/provisioner-git', def('git', { after: ['ca'] })),
    ok('third-party', [def('lint'), def('fmt')]),
    ok('@oclif/plugin-help', undefined),
  ];
  const snapshot = (r: ReturnType<typeof buildRegistry>) =>
    JSON.stringify([...r.entries()].map(([k, x]) => [k, x.packageName, x.packageVersion, x.builtIn, x.definition.after ?? []]));
  const core = new Set(['@bot-bottle/provisioner-ca', '@bot-bottle/provisioner-git']);
  const first = snapshot(buildRegistry(results, [], core));
  for (const order of [[3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]]) {
    assert.is(snapshot(buildRegistry(order.map((i) => results[i]!), [], core)), first);
  }
});

test('the order of hook results does not change which error is reported', async () => {
  const results = [ok('zeta', def('bad', { apiVersion: 9 })), ok('alpha', def('Nope')), ok('mid', def('ok'))];
  const seen = new Set<string>();
  for (const order of [[0, 1, 2], [2, 1, 0], [1, 2, 0]]) {
    const err = await rejects(() => buildRegistry(order.map((i) => results[i]!), []));
    seen.add(err.message);
  }
  assert.is(seen.size, 1);
  assert.match([...seen][0]!, /^plugin alpha registered an invalid provisioner/);
});

test.run();
