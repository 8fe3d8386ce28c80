/**
 * The base image and build CAs as the user's recorded choice (no docker): which source wins, how
 * the config file is written (whole, 0600, other keys kept) and what a broken one says.
 */
import { readFile, readdir, stat, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EXIT_USAGE } from '@bot-bottle/core';
import { cleanupTempDirs, rejects, tempDir } from '@bot-bottle/core/testing';
import { hostCaCerts, readImageConfig, statedImageChoice, userConfigDir, userConfigFile, writeImageConfig } from '../src/image-config.js';

const test = suite('image config');
test.after.each(cleanupTempDirs);

const CONFIG = { base: 'from-config:1', caCerts: ['/etc/config-ca.crt'] };

async function configDir(images?: unknown, other: Record<string, unknown> = {}): Promise<string> {
  const dir = path.join(await tempDir('bottle-imgcfg-'), 'bot-bottle');
  if (images !== undefined) {
    await mkdir(dir, { recursive: true });
    await writeFile(userConfigFile(dir), JSON.stringify({ ...other, images }));
  }
  return dir;
}

test('precedence: flag, then environment, then the recorded choice; nothing stated leaves it to detection', async () => {
  const dir = await configDir(CONFIG);
  const env = { BOT_BOTTLE_BASE_IMAGE: 'from-env:1', BOT_BOTTLE_BUILD_CA_CERTS: '/etc/env-a.crt:/etc/env-b.crt' };
  assert.equal(await statedImageChoice({ configDir: dir, env, base: 'from-flag:1', caCerts: ['/etc/flag.crt'] }), { base: ['from-flag:1', 'flag'], caCerts: [['/etc/flag.crt'], 'flag'] });
  assert.equal(await statedImageChoice({ configDir: dir, env }), { base: ['from-env:1', 'env'], caCerts: [['/etc/env-a.crt', '/etc/env-b.crt'], 'env'] });
  assert.equal(await statedImageChoice({ configDir: dir, env: {} }), { base: ['from-config:1', 'config'], caCerts: [['/etc/config-ca.crt'], 'config'] });
  assert.equal(await statedImageChoice({ configDir: await configDir(), env: {} }), {}, 'no config, no flags, no env: detection decides');
  // An empty BOT_BOTTLE_BASE_IMAGE is unset; an empty BOT_BOTTLE_BUILD_CA_CERTS says "no extra CAs".
  assert.equal(await statedImageChoice({ configDir: dir, env: { BOT_BOTTLE_BASE_IMAGE: '', BOT_BOTTLE_BUILD_CA_CERTS: '' } }), { base: ['from-config:1', 'config'], caCerts: [[], 'env'] });
});

test('--base auto forgets the recorded choice and the environment\'s base; a CA flag or variable still counts', async () => {
  const dir = await configDir(CONFIG);
  assert.equal(await statedImageChoice({ configDir: dir, env: { BOT_BOTTLE_BASE_IMAGE: 'from-env:1' }, base: 'auto' }), {});
  assert.equal(await statedImageChoice({ configDir: dir, env: { BOT_BOTTLE_BUILD_CA_CERTS: '/etc/env.crt' }, base: 'auto' }), { caCerts: [['/etc/env.crt'], 'env'] });
});

test('the default config dir is oclif\'s for bottle', () => {
  assert.is(userConfigDir({ BOTTLE_CONFIG_DIR: '/x/cfg', XDG_CONFIG_HOME: '/x/xdg', HOME: '/x/home' }), '/x/cfg');
  assert.is(userConfigDir({ XDG_CONFIG_HOME: '/x/xdg', HOME: '/x/home' }), '/x/xdg/bot-bottle');
  assert.is(userConfigDir({ HOME: '/x/home' }), '/x/home/.config/bot-bottle');
});

test('writing the choice: the whole file replaced, 0600, other keys kept, no temp file left', async () => {
  const dir = await configDir({ base: 'old:1' }, { theme: 'dark', nested: { a: 1 } });
  const file = await writeImageConfig(dir, { base: 'new:1', caCerts: ['/etc/a.crt'] });
  assert.is(file, userConfigFile(dir));
  assert.equal(JSON.parse(await readFile(file, 'utf8')), { theme: 'dark', nested: { a: 1 }, images: { base: 'new:1', caCerts: ['/etc/a.crt'] } });
  assert.is((await stat(file)).mode & 0o777, 0o600);
  assert.equal(await readdir(dir), ['config.json']);
  assert.equal(await readImageConfig(dir), { base: 'new:1', caCerts: ['/etc/a.crt'] });
  // A first write makes the folder, closed to others.
  const fresh = path.join(await tempDir('bottle-imgcfg-'), 'deep', 'bot-bottle');
  await writeImageConfig(fresh, { base: 'b:1', caCerts: [] });
  assert.is((await stat(fresh)).mode & 0o777, 0o700);
  assert.equal(await readImageConfig(fresh), { base: 'b:1', caCerts: [] });
});

test('a broken config is the user\'s input: USAGE, exit 2, naming the file and the fix', async () => {
  const cases: [string, RegExp][] = [
    ['{ not json', /is not a valid bot-bottle config: /],
    ['[]', /it is not a JSON object/],
    [JSON.stringify({ images: 'node' }), /"images" is not an object/],
    [JSON.stringify({ images: { base: 1 } }), /"images.base" is not an image reference/],
    [JSON.stringify({ images: { caCerts: ['relative.crt'] } }), /"images.caCerts" is not a list of absolute file paths/],
    [JSON.stringify({ images: { bse: 'typo' } }), /"images" has unknown keys: bse/],
  ];
  for (const [text, said] of cases) {
    const dir = await configDir();
    await mkdir(dir, { recursive: true });
    await writeFile(userConfigFile(dir), text);
    const err = await rejects(() => statedImageChoice({ configDir: dir, env: {} }));
    assert.is(err.code, 'USAGE', text);
    assert.is(err.exit, EXIT_USAGE);
    assert.match(err.message, said);
    assert.ok(err.message.startsWith(userConfigFile(dir)));
    assert.match(err.suggestions.join('\n'), /bottle image build/);
  }
  // Control: keys other than "images" are not ours to judge.
  const ok = await configDir({ base: 'x:1' }, { somethingElse: [1, 2] });
  assert.equal(await statedImageChoice({ configDir: ok, env: {} }), { base: ['x:1', 'config'] });
});

test('the host\'s extra CAs: the .crt files of the folder, sorted by name', async () => {
  const dir = await tempDir('bottle-cas-');
  for (const n of ['b.crt', 'a.crt', 'notes.txt', 'c.pem']) await writeFile(path.join(dir, n), '');
  assert.equal(await hostCaCerts(dir), [path.join(dir, 'a.crt'), path.join(dir, 'b.crt')]);
  assert.equal(await hostCaCerts(path.join(dir, 'missing')), []);
});

test.run();
