import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EXIT_USAGE, MANIFEST_ENV, MANIFEST_FILE_NAME, discoverManifest, loadManifest, userManifestPath } from '../src/index.js';
import { cleanupTempDirs, rejects, tempDir } from './helpers.js';

interface World {
  root: string;
  home: string;
  deep: string;
}

const MINIMAL = '{"bottles": {}, "agents": {}}';

const test = suite<World>('discover');
test.before.each(async (ctx) => {
  const root = await tempDir('bottle-discover-');
  const home = await tempDir('bottle-discover-home-');
  const deep = path.join(root, 'a', 'b', 'c');
  await mkdir(deep, { recursive: true });
  Object.assign(ctx, { root, home, deep });
});
test.after(cleanupTempDirs);

test('--manifest wins over everything, resolved against the cwd', async ({ root, home, deep }) => {
  await writeFile(path.join(deep, MANIFEST_FILE_NAME), MINIMAL);
  const env = { [MANIFEST_ENV]: path.join(root, 'env.json') };
  const found = await discoverManifest({ flag: '../other.json', env, cwd: deep, home });
  assert.equal(found, { path: path.join(root, 'a', 'b', 'other.json'), via: 'flag' });
  const abs = await discoverManifest({ flag: '/x/y.json', env, cwd: deep, home });
  assert.equal(abs, { path: '/x/y.json', via: 'flag' });
});

test('--manifest that does not exist is still returned; loading it names the file', async ({ deep, home }) => {
  const found = await discoverManifest({ flag: 'missing.json', env: {}, cwd: deep, home });
  assert.equal(found, { path: path.join(deep, 'missing.json'), via: 'flag' });
  const err = await rejects(() => loadManifest(found.path, home));
  assert.is(err.code, 'MANIFEST_NOT_FOUND');
  assert.is(err.message, `manifest ${path.join(deep, 'missing.json')} does not exist`);
});

test('--manifest and the env var expand ~', async ({ deep, home }) => {
  assert.equal(await discoverManifest({ flag: '~/m/bottle.json', env: {}, cwd: deep, home }), { path: path.join(home, 'm', 'bottle.json'), via: 'flag' });
  assert.equal(await discoverManifest({ env: { [MANIFEST_ENV]: '~/e.json' }, cwd: deep, home }), { path: path.join(home, 'e.json'), via: 'env' });
});

test('BOT_BOTTLE_MANIFEST comes after the flag and before the cwd', async ({ root, home, deep }) => {
  await writeFile(path.join(deep, MANIFEST_FILE_NAME), MINIMAL);
  const found = await discoverManifest({ env: { [MANIFEST_ENV]: 'rel/env.json' }, cwd: deep, home });
  assert.equal(found, { path: path.join(deep, 'rel', 'env.json'), via: 'env' });
  const abs = await discoverManifest({ env: { [MANIFEST_ENV]: path.join(root, 'env.json') }, cwd: deep, home });
  assert.equal(abs, { path: path.join(root, 'env.json'), via: 'env' });
});

test('an empty flag or env var counts as not given', async ({ home, deep }) => {
  await writeFile(path.join(deep, MANIFEST_FILE_NAME), MINIMAL);
  const found = await discoverManifest({ flag: '', env: { [MANIFEST_ENV]: '' }, cwd: deep, home });
  assert.equal(found, { path: path.join(deep, MANIFEST_FILE_NAME), via: 'cwd' });
});

test('bottle.json in the cwd', async ({ home, deep }) => {
  await writeFile(path.join(deep, MANIFEST_FILE_NAME), MINIMAL);
  assert.equal(await discoverManifest({ env: {}, cwd: deep, home }), { path: path.join(deep, MANIFEST_FILE_NAME), via: 'cwd' });
});

test('bottle.json in the nearest parent', async ({ root, home, deep }) => {
  await writeFile(path.join(root, MANIFEST_FILE_NAME), MINIMAL);
  await writeFile(path.join(root, 'a', MANIFEST_FILE_NAME), MINIMAL);
  assert.equal(await discoverManifest({ env: {}, cwd: deep, home }), { path: path.join(root, 'a', MANIFEST_FILE_NAME), via: 'cwd' });
});

test('a relative cwd is resolved against the process cwd', async ({ root, home }) => {
  await writeFile(path.join(root, MANIFEST_FILE_NAME), MINIMAL);
  const rel = path.relative(process.cwd(), path.join(root, 'a', 'b'));
  assert.equal(await discoverManifest({ env: {}, cwd: rel, home }), { path: path.join(root, MANIFEST_FILE_NAME), via: 'cwd' });
});

test('a bottle.json in the cwd beats the user manifest', async ({ root, home, deep }) => {
  await mkdir(path.join(home, '.config', 'bot-bottle'), { recursive: true });
  await writeFile(path.join(home, '.config', 'bot-bottle', MANIFEST_FILE_NAME), MINIMAL);
  await writeFile(path.join(root, MANIFEST_FILE_NAME), MINIMAL);
  assert.equal((await discoverManifest({ env: {}, cwd: deep, home })).via, 'cwd');
});

test('~/.config/bot-bottle/bottle.json when no folder up the tree has one', async ({ home, deep }) => {
  const user = path.join(home, '.config', 'bot-bottle', MANIFEST_FILE_NAME);
  await mkdir(path.dirname(user), { recursive: true });
  await writeFile(user, MINIMAL);
  assert.is(userManifestPath({}, home), user);
  assert.equal(await discoverManifest({ env: {}, cwd: deep, home }), { path: user, via: 'user' });
});

test('XDG_CONFIG_HOME moves the user manifest; a relative one is ignored', async ({ root, home, deep }) => {
  const xdg = path.join(root, 'xdg');
  const user = path.join(xdg, 'bot-bottle', MANIFEST_FILE_NAME);
  await mkdir(path.dirname(user), { recursive: true });
  await writeFile(user, MINIMAL);
  assert.is(userManifestPath({ XDG_CONFIG_HOME: xdg }, home), user);
  assert.equal(await discoverManifest({ env: { XDG_CONFIG_HOME: xdg }, cwd: deep, home }), { path: user, via: 'user' });
  assert.is(userManifestPath({ XDG_CONFIG_HOME: 'relative/xdg' }, home), path.join(home, '.config', 'bot-bottle', MANIFEST_FILE_NAME));
});

test('not found: an error listing every file tried, in order', async ({ root, home, deep }) => {
  const xdg = path.join(root, 'xdg');
  const err = await rejects(() => discoverManifest({ env: { XDG_CONFIG_HOME: xdg }, cwd: deep, home }));
  assert.is(err.code, 'MANIFEST_NOT_FOUND');
  assert.is(err.exit, EXIT_USAGE);
  assert.is(err.message, 'no manifest found');
  const upTheTree: string[] = [];
  for (let dir = deep; ; dir = path.dirname(dir)) {
    upTheTree.push(`tried ${path.join(dir, MANIFEST_FILE_NAME)}`);
    if (path.dirname(dir) === dir) break;
  }
  assert.equal(err.details, ['--manifest: not given', `${MANIFEST_ENV}: not set`, ...upTheTree, `tried ${path.join(xdg, 'bot-bottle', MANIFEST_FILE_NAME)}`]);
  assert.ok(err.details.includes(`tried ${path.join(root, MANIFEST_FILE_NAME)}`));
  assert.ok(err.details.includes('tried /bottle.json'));
  assert.match(err.suggestions.join('\n'), /bottle init/);
  assert.match(err.suggestions.join('\n'), /--manifest PATH/);
});

test('process.env and the real cwd are the defaults', async ({ root, home }) => {
  await writeFile(path.join(root, MANIFEST_FILE_NAME), MINIMAL);
  const saved = process.env[MANIFEST_ENV];
  process.env[MANIFEST_ENV] = path.join(root, MANIFEST_FILE_NAME);
  try {
    assert.equal(await discoverManifest({ home }), { path: path.join(root, MANIFEST_FILE_NAME), via: 'env' });
  } finally {
    if (saved === undefined) delete process.env[MANIFEST_ENV];
    else process.env[MANIFEST_ENV] = saved;
  }
});

test.run();
