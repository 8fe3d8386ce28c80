/**
 * @bot-bottle/core/testing: provisionForTest runs a definition as a launch would (options checked
 * by its schema, a plan from a manifest), and the definition checks fail on each thing they check.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as v from 'valibot';
import { defineProvisioner, type ProvisionerDefinition } from '../src/index.js';
import { checkDefinition, cleanupTempDirs, definitionChecks, provisionForTest, RecordingTarget, rejects, tempDir, type DefinitionCheckOptions } from '../src/testing/index.js';

const test = suite('testing');
test.after.each(cleanupTempDirs);

const motd = defineProvisioner({
  apiVersion: 1,
  name: 'motd',
  after: ['ca'],
  options: v.strictObject({ text: v.optional(v.pipe(v.string(), v.minLength(1)), 'hi') }),
  async apply(ctx) {
    ctx.log(`for ${ctx.plan.agentName}`);
    const r = await ctx.target.exec(['sh', '-c', 'cat > /etc/motd'], { stdin: ctx.options.text });
    if (r.exitCode !== 0) ctx.warn(`exit ${r.exitCode}`);
    return { env: { MOTD: '/etc/motd' } };
  },
});

test('provisionForTest: options through the schema (defaults applied), the plan, the calls and the result', async () => {
  const done = await provisionForTest(motd, { prompt: 'x' });
  assert.equal(done.result, { env: { MOTD: '/etc/motd' } });
  assert.equal(done.target.execs.map((c) => [c.argv, c.options.stdin]), [[['sh', '-c', 'cat > /etc/motd'], 'hi']]);
  assert.equal(done.logs, ['for demo']);
  assert.is(done.plan.agentName, 'demo');
  assert.ok(done.plan.stateDir.startsWith(done.world.stateHome), done.plan.stateDir);
  const given = await provisionForTest(motd, {}, { options: { text: 'hello' }, respond: () => ({ exitCode: 3, stdout: '', stderr: '' }) });
  assert.is(given.target.execs[0]!.options.stdin, 'hello');
  assert.equal(given.warnings, ['exit 3']);
});

test('provisionForTest: invalid options are refused as the runner refuses them, before apply', async () => {
  const target = new RecordingTarget();
  const err = await rejects(() => provisionForTest(motd, {}, { target, options: { text: '' } }));
  assert.is(err.code, 'PROVISIONER_OPTIONS');
  assert.match(err.details.join('\n'), 'provisioners[1].options.text');
  assert.equal(target.calls, []);
  const unknown = await rejects(() => provisionForTest(motd, {}, { options: { txet: 'x' } }));
  assert.is(unknown.code, 'PROVISIONER_OPTIONS');
});

test('provisionForTest: what apply throws is thrown as it is', async () => {
  const boom = defineProvisioner({ apiVersion: 1, name: 'boom', apply: async () => Promise.reject(new TypeError('boom')) });
  const e = await provisionForTest(boom).then(() => null, (x: unknown) => x);
  assert.instance(e, TypeError);
});

test('rejects: fails when fn resolves or throws something other than a BottleError', async () => {
  const resolved = await rejects(async () => 42).then(() => null, (e: Error) => e);
  assert.match(String(resolved?.message), 'but it returned 42');
  const other = await rejects(() => {
    throw new Error('plain');
  }).then(() => null, (e: Error) => e);
  assert.match(String(other?.message), 'expected a BottleError, got Error: plain');
});

/** A package folder as a provisioner plugin ships it: package.json and a built hook file. */
async function pluginPackage(pkg: Record<string, unknown>, hookSource = "export default async () => ({ apiVersion: 1, name: 'motd', apply: async () => {} });\n"): Promise<string> {
  const root = await tempDir('bottle-testing-pkg-');
  await mkdir(path.join(root, 'dist'));
  await writeFile(path.join(root, 'dist', 'register.js'), hookSource);
  await writeFile(path.join(root, 'package.json'), JSON.stringify(pkg));
  return root;
}

const GOOD_PKG = {
  name: 'bottle-provisioner-motd',
  keywords: ['bottle-provisioner'],
  oclif: { hooks: { 'bottle:provisioners': './dist/register.js' } },
  dependencies: { '@bot-bottle/core': '^0.1.0' },
};
const ca: ProvisionerDefinition = defineProvisioner({ apiVersion: 1, name: 'ca', apply: async () => {} });

async function options(more: Partial<DefinitionCheckOptions> = {}, pkg: Record<string, unknown> = GOOD_PKG): Promise<DefinitionCheckOptions> {
  return { definition: motd, hook: async () => motd, name: 'motd', packageName: GOOD_PKG.name, packageRoot: await pluginPackage(pkg), takesOptions: true, before: [ca], ...more };
}

/** The message of the check that fails, by check index; null when every check passes. */
async function failures(o: DefinitionCheckOptions): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (const c of definitionChecks(o)) out.push(await c.run().then(() => null, (e: Error) => e.message));
  return out;
}

test('definition checks: a well-made third-party plugin passes all four', async () => {
  const o = await options();
  assert.equal(await failures(o), [null, null, null, null]);
  await checkDefinition(o);
  assert.equal(definitionChecks(o).map((c) => c.name), [
    'the definition passes defineProvisioner and is named for the manifest',
    'the oclif hook hands the definition to buildRegistry',
    'package.json declares the hook oclif loads, and the built file registers the same provisioner',
    'the runner resolves and applies it by name from the registry',
  ]);
});

test('definition checks: each fails on what it checks', async () => {
  const unfrozen = { ...motd };
  const cases: [string, Partial<DefinitionCheckOptions>, Record<string, unknown>, number[], RegExp][] = [
    ['another name (every check looks for it)', { name: 'mtod' }, GOOD_PKG, [0, 1, 2, 3], /mtod/],
    ['not frozen', { definition: unfrozen, hook: async () => unfrozen }, GOOD_PKG, [0], /frozen/],
    ['options undeclared', { takesOptions: false }, GOOD_PKG, [0], /takes no options/],
    ['a hook that hands over another object', { hook: async () => defineProvisioner({ ...motd }) }, GOOD_PKG, [1], /returns the default export/],
    ['a built-in passes too', { builtIn: true }, GOOD_PKG, [], /./],
    ['another package name', {}, { ...GOOD_PKG, name: 'other' }, [2], /other/],
    ['no keyword', {}, { ...GOOD_PKG, keywords: [] }, [2], /bottle-provisioner/],
    ['no hook declared', {}, { ...GOOD_PKG, oclif: {} }, [2], /bottle:provisioners/],
    ['no dependency on core', {}, { ...GOOD_PKG, dependencies: {} }, [2], /depends on @bot-bottle\/core/],
    ['a peer dependency on core passes (a plugin shipped inside the CLI)', {}, { ...GOOD_PKG, dependencies: {}, peerDependencies: { '@bot-bottle/core': '^0.1.0' } }, [], /./],
    ['its "after" missing from the run', { before: [] }, GOOD_PKG, [3], /must run after "ca"/],
  ];
  for (const [what, more, pkg, failing, message] of cases) {
    const got = await failures(await options(more, pkg));
    // With none failing (the control: the same package, registered as one the CLI ships) all pass.
    assert.equal(got.map((m) => m !== null), [0, 1, 2, 3].map((i) => failing.includes(i)), `${what}: ${JSON.stringify(got)}`);
    for (const i of failing) assert.match(got[i]!, message, what);
  }
});

test('definition checks: a built hook file that registers another name fails; checkDefinition names the check', async () => {
  const root = await pluginPackage(GOOD_PKG, "export default async () => ({ apiVersion: 1, name: 'other', apply: async () => {} });\n");
  const err = await checkDefinition({ ...(await options()), packageRoot: root }).then(() => null, (e: Error) => e);
  assert.match(String(err?.message), /^package\.json declares the hook oclif loads.*: the built hook registers "motd"/s);
});

test.run();
