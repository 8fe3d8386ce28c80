/**
 * `bottle plugins install <path>`: a path to a packed plugin or its folder installs like `file:<path>`
 * instead of being read as a GitHub "owner/repo". The example plugin is packed with `npm pack` and
 * installed into temp XDG dirs; npm runs with `offline` so nothing leaves this machine.
 */
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { looksLikePath, toFileSpec } from '../src/hooks/plugin-paths.js';
import { EXAMPLE_PLUGIN, bottle, cleanupTempDirs, hasStack, isolatedXdg, tempDir } from './helpers.js';

const NAME = '@bot-bottle/provisioner-example';

/**
 * The example's own package.json names `catalog:`/`workspace:` versions and @bot-bottle/core, which
 * only the registry could resolve; the copy packed here keeps its name, version, oclif hook and dist
 * and drops the dependencies, so the install is npm's `file:` install and nothing else.
 */
async function packExample(): Promise<{ dir: string; folder: string; tarball: string }> {
  const dir = await tempDir('bottle-plugin-pack-');
  const folder = path.join(dir, 'provisioner-example');
  await cp(path.join(EXAMPLE_PLUGIN, 'dist'), path.join(folder, 'dist'), { recursive: true });
  const pkg = JSON.parse(await readFile(path.join(EXAMPLE_PLUGIN, 'package.json'), 'utf8'));
  for (const k of ['dependencies', 'peerDependencies', 'devDependencies', 'scripts']) delete pkg[k];
  await writeFile(path.join(folder, 'package.json'), JSON.stringify(pkg, null, 2));
  const r = await execa('npm', ['pack', '--pack-destination', dir, '--offline'], { cwd: folder, reject: false, timeout: 60_000 });
  assert.is(r.exitCode, 0, r.stderr);
  return { dir, folder, tarball: path.join(dir, 'bot-bottle-provisioner-example-0.1.0.tgz') };
}

async function offlineEnv(): Promise<Record<string, string>> {
  return { ...(await isolatedXdg()), npm_config_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
}

async function installedUrl(env: Record<string, string>): Promise<string | undefined> {
  const pjson = JSON.parse(await readFile(path.join(env.XDG_DATA_HOME!, 'bot-bottle', 'package.json'), 'utf8'));
  return pjson.oclif.plugins.find((p: { name: string }) => p.name === NAME)?.url;
}

const unit = suite('plugin install paths');

unit('paths are recognised; package names, GitHub slugs and specs with a scheme are not', () => {
  for (const p of ['/tmp/x.tgz', './x.tgz', '../x', '~/plugins/x', '.', '..', 'x-0.1.0.tgz', 'dir/x.tar.gz']) assert.ok(looksLikePath(p), p);
  for (const p of ['@scope/pkg', 'pkg', 'owner/repo', 'file:/tmp/x.tgz', 'https://github.com/o/r', 'git+ssh://git@h/r.git', '--force', 'https://h/x.tgz']) assert.not.ok(looksLikePath(p), p);
});

unit('a path becomes file:<absolute path>, ~ being the home folder', () => {
  assert.is(toFileSpec('./x.tgz', '/w', '/h'), 'file:/w/x.tgz');
  assert.is(toFileSpec('../p', '/w/a', '/h'), 'file:/w/p');
  assert.is(toFileSpec('/abs/x.tgz', '/w', '/h'), 'file:/abs/x.tgz');
  assert.is(toFileSpec('~/p/x.tgz', '/w', '/h'), 'file:/h/p/x.tgz');
});

unit.run();

const test = suite('plugins install <path>');
test.after(cleanupTempDirs);

test('an absolute path to an npm-packed tarball installs like file:, lists, and uninstalls', async () => {
  const { tarball } = await packExample();
  const env = await offlineEnv();
  const r = await bottle(['plugins', 'install', tarball], { env });
  assert.is(r.exitCode, 0, r.stderr);
  assert.is(await installedUrl(env), `file:${tarball}`);
  const ls = await bottle(['plugins', 'ls'], { env });
  assert.match(ls.stdout, /^@bot-bottle\/provisioner-example 0\.1\.0$/m);
  const un = await bottle(['plugins', 'uninstall', NAME], { env });
  assert.is(un.exitCode, 0, un.stderr);
  assert.match((await bottle(['plugins', 'ls'], { env })).stdout, 'No plugins installed.');
});

test('a relative tarball path and a folder path install too', async () => {
  const { dir, folder, tarball } = await packExample();
  const env = await offlineEnv();
  const rel = await bottle(['plugins', 'install', `./${path.basename(tarball)}`], { env, cwd: dir });
  assert.is(rel.exitCode, 0, rel.stderr);
  assert.is(await installedUrl(env), `file:${tarball}`);

  const env2 = await offlineEnv();
  const dirInstall = await bottle(['plugins', 'install', folder], { env: env2 });
  assert.is(dirInstall.exitCode, 0, dirInstall.stderr);
  assert.is(await installedUrl(env2), `file:${folder}`);
  assert.match((await bottle(['plugins', 'ls'], { env: env2 })).stdout, `${NAME} 0.1.0`);
});

test('a path that does not exist: one clear error, exit 2, nothing installed', async () => {
  const dir = await tempDir('bottle-plugin-missing-');
  const env = await offlineEnv();
  const missing = path.join(dir, 'nope-0.1.0.tgz');
  const r = await bottle(['plugins', 'install', missing], { env });
  assert.is(r.exitCode, 2);
  assert.match(r.stderr, `Error: no such file or folder: ${missing}\n`);
  assert.match(r.stderr, 'Fix: Give the path of a packed plugin');
  assert.not.match(r.stderr, 'github');
  assert.not.ok(hasStack(r.stderr), r.stderr);
});

test.run();
