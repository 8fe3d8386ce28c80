/**
 * Discovery and order with real plugins: the example plugin and broken test plugins are linked with
 * `bottle plugins link` into a temp oclif data dir (XDG_* point at temp dirs, so the user's own
 * plugins are never touched), then `bottle provisioners` and `bottle plan` see them.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EXAMPLE_PLUGIN, FIXTURES, bottle, cleanupTempDirs, hasStack, isolatedXdg, run, tempDir, validManifest, writeJson } from './helpers.js';

async function link(env: Record<string, string>, dir: string): Promise<void> {
  const r = await run(['plugins', 'link', dir, '--no-install'], { env });
  assert.is(r.exitCode, 0, `link ${dir}: ${r.stderr}`);
}

async function manifestWith(provisioners: unknown[]): Promise<string> {
  const m = validManifest();
  m.agents.demo.provisioners = provisioners;
  return writeJson(path.join(await tempDir(), 'bottle.json'), m);
}

const test = suite('plugins');
test.after(cleanupTempDirs);

test('a linked plugin shows in `bottle plugins` and `bottle provisioners`, marked as a plugin', async () => {
  const env = await isolatedXdg();
  await link(env, EXAMPLE_PLUGIN);
  // The link is recorded in the temp data dir only.
  const pjson = JSON.parse(await readFile(path.join(env.XDG_DATA_HOME!, 'bot-bottle', 'package.json'), 'utf8'));
  assert.equal(pjson.oclif.plugins.map((p: { name: string; type: string }) => [p.name, p.type]), [['@bot-bottle/provisioner-example', 'link']]);
  const list = await run(['plugins'], { env });
  assert.match(list.stdout, '@bot-bottle/provisioner-example 0.1.0 (link)');
  // `bottle plugins ls` is the same list, flags included.
  const [plain, ls] = await Promise.all([bottle(['plugins'], { env }), bottle(['plugins', 'ls'], { env })]);
  assert.is(ls.exitCode, 0, ls.stderr);
  assert.is(ls.stdout, plain.stdout);
  const [plainJson, lsJson] = await Promise.all([bottle(['plugins', '--json'], { env }), bottle(['plugins', 'ls', '--json'], { env })]);
  const names = (out: string) => JSON.parse(out).map((p: { name: string; type: string }) => `${p.name} ${p.type}`);
  assert.equal(names(lsJson.stdout).sort(), names(plainJson.stdout).sort());
  assert.ok(JSON.parse(lsJson.stdout).some((p: { name: string }) => p.name === '@bot-bottle/provisioner-example'));

  const r = await run(['provisioners', '--json'], { env });
  assert.is(r.exitCode, 0, r.stderr);
  const { provisioners } = JSON.parse(r.stdout);
  const example = provisioners.find((p: { name: string }) => p.name === 'example');
  assert.equal(example, {
    name: 'example',
    package: '@bot-bottle/provisioner-example',
    version: '0.1.0',
    builtIn: false,
    description: 'writes a message of the day to ~/.bottle-motd in the bottle',
    after: ['ca'],
    hostEnv: [],
  });
  assert.equal(provisioners.filter((p: { builtIn: boolean }) => p.builtIn).length, 5);
  const human = await bottle(['provisioners'], { env });
  assert.match(human.stdout, /^example\s+@bot-bottle\/provisioner-example@0\.1\.0\s+plugin\s+after: ca$/m);
  assert.is(human.stderr, '');
});

test('plan runs a plugin at the position the agent lists it, between built-ins, with its options', async () => {
  const env = await isolatedXdg();
  await link(env, EXAMPLE_PLUGIN);
  const file = await manifestWith(['ca', { name: 'example', options: { motd: 'hi' } }, 'git', 'prompt']);
  const r = await run(['plan', 'demo', '--manifest', file, '--json'], { env });
  assert.is(r.exitCode, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).provisioners, [
    { name: 'ca', options: {} },
    { name: 'example', options: { motd: 'hi' } },
    { name: 'git', options: {} },
    { name: 'prompt', options: {} },
  ]);
  const human = await run(['plan', 'demo', '--manifest', file], { env });
  assert.match(human.stdout, /1\. ca .*\(built-in\)\n\s+2\. example\s+@bot-bottle\/provisioner-example@0\.1\.0 \(plugin\) options \{"motd":"hi"\}\n\s+3\. git .*\(built-in\)\n\s+4\. prompt /);
});

test('without the plugin linked, the same agent fails at plan with the installed list and the install hint', async () => {
  const env = await isolatedXdg();
  const file = await manifestWith(['ca', 'example']);
  const r = await run(['plan', 'demo', '--manifest', file], { env });
  assert.is(r.exitCode, 2);
  assert.match(r.stderr, 'Error: agents.demo.provisioners[1]: no installed provisioner is named "example"\n  installed: ca, git, prompt, skills, supervise\n');
  assert.match(r.stderr, 'Fix: Fix the name, or install the plugin that provides it: bottle plugins install <package>');
});

test('an `after` violation: refused with the order that works', async () => {
  const env = await isolatedXdg();
  await link(env, EXAMPLE_PLUGIN);
  const file = await manifestWith(['example', 'git', 'ca']);
  const r = await run(['plan', 'demo', '--manifest', file], { env });
  assert.is(r.exitCode, 2);
  assert.is(
    r.stderr,
    'Error: agents.demo.provisioners[0]: provisioner "example" must run after "ca", but "ca" comes later (at agents.demo.provisioners[2])\n' +
      'Fix: List "ca" before "example" in agents.demo.provisioners: ["ca", "example", "git"]\n',
  );
  const missing = await run(['plan', 'demo', '--manifest', await manifestWith(['example', 'git']), '--json'], { env });
  assert.is(missing.exitCode, 2);
  const doc = JSON.parse(missing.stdout);
  assert.is(doc.error.code, 'PROVISIONER_ORDER');
  assert.match(doc.error.message, 'but "ca" is not in the list');
});

test('invalid plugin options: refused at plan, naming the option path', async () => {
  const env = await isolatedXdg();
  await link(env, EXAMPLE_PLUGIN);
  const r = await run(['plan', 'demo', '--manifest', await manifestWith(['ca', { name: 'example', options: { mtod: 'x' } }])], { env });
  assert.is(r.exitCode, 2);
  assert.match(r.stderr, 'Error: agents.demo.provisioners[1].options: invalid options for provisioner "example"\n  agents.demo.provisioners[1].options.mtod: ');
  assert.match(r.stderr, 'Fix: See the options @bot-bottle/provisioner-example documents.');
});

test('a second plugin registering "ca": an error naming both packages and which to remove', async () => {
  const env = await isolatedXdg();
  await link(env, path.join(FIXTURES, 'plugin-duplicate-ca'));
  for (const args of [['provisioners'], ['plan', 'demo', '--manifest', await manifestWith(['ca'])]]) {
    const r = await run(args, { env });
    assert.is(r.exitCode, 1, r.stderr);
    assert.match(r.stderr, /^Error: two plugins provide a provisioner named "ca": (@bot-bottle\/provisioner-ca@\S+ and bottle-test-plugin-duplicate-ca@1\.0\.0|bottle-test-plugin-duplicate-ca@1\.0\.0 and @bot-bottle\/provisioner-ca@\S+)\n/);
    assert.match(r.stderr, 'Fix: Uninstall one of them: bottle plugins uninstall bottle-test-plugin-duplicate-ca\n');
    assert.not.ok(hasStack(r.stderr));
  }
});

test('a plugin whose hook throws: an error naming the plugin and its message, with the uninstall fix', async () => {
  const env = await isolatedXdg();
  await link(env, path.join(FIXTURES, 'plugin-hook-throws'));
  const r = await bottle(['provisioners'], { env });
  assert.is(r.exitCode, 1);
  assert.is(
    r.stderr,
    'Error: plugin bottle-test-plugin-hook-throws failed to register its provisioners: the license file ~/.example-license is missing\n' +
      'Fix: Update or remove it: bottle plugins update, or bottle plugins uninstall bottle-test-plugin-hook-throws',
  );
  const j = await bottle(['provisioners', '--json'], { env });
  assert.is(j.exitCode, 1);
  assert.is(JSON.parse(j.stdout).error.code, 'PROVISIONER_HOOK_FAILED');
  const debug = await bottle(['provisioners'], { env: { ...env, BOTTLE_DEBUG: '1' } });
  assert.ok(hasStack(debug.stderr));
});

test('a plugin registering an invalid definition: names the plugin and each broken field', async () => {
  const env = await isolatedXdg();
  await link(env, path.join(FIXTURES, 'plugin-invalid-definition'));
  const r = await run(['provisioners'], { env });
  assert.is(r.exitCode, 1);
  assert.match(r.stderr, /^Error: plugin bottle-test-plugin-invalid-definition registered an invalid provisioner: invalid provisioner definition: name: name must be 1-40 characters[^\n]*; apply: missing; apply must be a function\n/);
  assert.match(r.stderr, 'Fix: Update the plugin, or remove it: bottle plugins uninstall bottle-test-plugin-invalid-definition');
});

test('a plugin for another provisioner API version: names the plugin, both versions and the upgrade', async () => {
  const env = await isolatedXdg();
  await link(env, path.join(FIXTURES, 'plugin-future-api'));
  const r = await run(['provisioners'], { env });
  assert.is(r.exitCode, 1);
  assert.is(
    r.stderr.trimEnd(),
    'Error: plugin bottle-test-plugin-future-api@3.0.0 provides the provisioner "future" for provisioner API version 2, but this bottle CLI speaks version 1\n' +
      'Fix: Upgrade the CLI (npm install -g @bot-bottle/cli@latest), or install a version of the plugin made for this one\n' +
      'Fix: To run without it: bottle plugins uninstall bottle-test-plugin-future-api',
  );
  const j = await bottle(['provisioners', '--json'], { env });
  assert.is(JSON.parse(j.stdout).error.code, 'PROVISIONER_API_VERSION');
});

test('unlinking restores the built-in set', async () => {
  const env = await isolatedXdg();
  await link(env, path.join(FIXTURES, 'plugin-duplicate-ca'));
  const un = await run(['plugins', 'unlink', 'bottle-test-plugin-duplicate-ca'], { env });
  assert.is(un.exitCode, 0, un.stderr);
  const r = await run(['provisioners', '--json'], { env });
  assert.is(r.exitCode, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).provisioners.map((p: { name: string }) => p.name), ['ca', 'git', 'prompt', 'skills', 'supervise']);
});

test.run();
