import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildRegistry, defineProvisioner, resolveSteps, runProvisioners, RecordingTarget } from '@bot-bottle/core';
import definition from '../src/index.js';
import hook from '../src/register.js';
import { cleanupTempDirs, ENDPOINTS, planFor, rejects, world } from './helpers.js';

const NAME: string = 'git';
const PKG = '@bot-bottle/provisioner-git';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const test = suite('git definition');
test.after.each(cleanupTempDirs);

test('the definition passes defineProvisioner and is named for the manifest', () => {
  assert.is(definition.name, NAME);
  assert.is(definition.apiVersion, 1);
  assert.ok(Object.isFrozen(definition));
  assert.equal(defineProvisioner({ ...definition }).name, NAME);
  assert.is(definition.options, undefined, 'takes no options');
});

test('the oclif hook hands the definition to buildRegistry as a built-in', async () => {
  const result = await hook();
  assert.is(result, definition);
  const registry = buildRegistry([{ plugin: { name: PKG, version: '0.1.0', type: 'core' }, result }], [], new Set([PKG]));
  const reg = registry.get(NAME);
  assert.ok(reg);
  assert.is(reg!.definition.name, NAME);
  assert.is(reg!.packageName, PKG);
  assert.is(reg!.builtIn, true);
});

test('package.json declares the hook oclif loads, and the built file registers the same provisioner', async () => {
  const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'));
  assert.is(pkg.name, PKG);
  assert.ok(pkg.keywords.includes('bottle-provisioner'));
  const hookPath = path.join(root, pkg.oclif.hooks['bottle:provisioners']);
  assert.ok((await stat(hookPath)).isFile(), `${hookPath} is built`);
  const built = await import(pathToFileURL(hookPath).href);
  const registered = await built.default();
  assert.is(registered.name, NAME);
  assert.is(typeof registered.apply, 'function');
  assert.ok(pkg.peerDependencies['@bot-bottle/core']);
});

test('the runner resolves and applies it by name from the registry', async () => {
  const w = await world();
  const plan = await planFor(w, {});
  const registry = buildRegistry([{ plugin: { name: PKG, version: '0.1.0' }, result: await hook() }], []);
  const steps = resolveSteps([{ name: NAME, options: {} }], registry);
  const run = () => runProvisioners(steps, { plan, target: new RecordingTarget(), endpoints: ENDPOINTS });
  if (NAME === 'ca') {
    // Without the launch's CA on disk the runner reports the step by name (the CA is made in ca.test.ts).
    const err = await rejects(run);
    assert.is(err.code, 'PROVISIONER_FAILED');
    assert.ok(err.message.startsWith(`provisioner "ca" (${PKG}) failed: `), err.message);
    assert.ok(err.message.includes(plan.egress.caCertPath), err.message);
    return;
  }
  const outcome = await run();
  assert.equal(outcome.applied, [NAME]);
});

test.run();
