/**
 * The base image as bottle's recorded decision, through the real `bottle` process and engine:
 * `bottle image build` records what it built from in the user's config, and a later `bottle run`
 * from a shell without any BOT_BOTTLE_* variable finds those images (nothing built, nothing
 * pulled). Uses the images the other suites use, so nothing but possibly the bundle is built.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_BASE_IMAGE, debianBase, ensureImages, hostCaCerts, localDebianBase, type EnsuredImages } from '@bot-bottle/images';
import { BIN, cleanupTempDirs, tempDir } from '../helpers.js';

const test = suite('image choice (real engine)');

const AGENT = `img-${process.pid.toString(36)}`;

interface Ctx { images: EnsuredImages; manifest: string }
const ctx = {} as Ctx;

/** A shell that never saw the scripts' settings: no BOT_BOTTLE_* or BOTTLE_* variable, its own config and state dirs. */
async function freshShell(): Promise<NodeJS.ProcessEnv> {
  const dir = await tempDir('bottle-imgchoice-');
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(BOT_BOTTLE_|BOTTLE_)/.test(k)) env[k] = v;
  return { ...env, XDG_CONFIG_HOME: path.join(dir, 'config'), XDG_STATE_HOME: path.join(dir, 'state'), NO_COLOR: '1' };
}

function bottle(args: string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', input: '', timeout: 600_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface BuildJson { runtime: string; agent: string; bundle: string; built: string[]; base: string; caCerts: string[]; from: { base: string; caCerts: string }; recorded?: string }

test.before(async () => {
  // The suites' images (scripts/test.sh built them with `bottle image build`): the same choice, read the same way.
  ctx.images = await ensureImages({ progress: (m) => process.stderr.write(`  ${m}\n`) });
  const dir = await tempDir('bottle-imgchoice-');
  ctx.manifest = path.join(dir, 'bottle.json');
  await writeFile(ctx.manifest, JSON.stringify({ bottles: { dev: {} }, agents: { [AGENT]: { bottle: 'dev', provisioners: [] } } }));
});

test.after(cleanupTempDirs);

test('image build records its choice; a later run and build from a shell without BOT_BOTTLE_* variables use it, building nothing', async () => {
  const env = await freshShell();
  const config = path.join(env.XDG_CONFIG_HOME!, 'bot-bottle', 'config.json');
  const { base, caCerts } = ctx.images.choice;

  // The scripts' old way: the choice in the environment of one shell. Flag-free, it is recorded.
  const first = bottle(['image', 'build', '--json'], { ...env, BOT_BOTTLE_BASE_IMAGE: base, BOT_BOTTLE_BUILD_CA_CERTS: caCerts.join(':') });
  assert.is(first.code, 0, first.stderr);
  const built = JSON.parse(first.stdout) as BuildJson;
  assert.equal({ base: built.base, caCerts: built.caCerts, from: built.from, recorded: built.recorded }, { base, caCerts, from: { base: 'env', caCerts: 'env' }, recorded: config });
  assert.equal([built.runtime, built.agent, built.bundle], [ctx.images.runtime, ctx.images.agent, ctx.images.bundle]);
  assert.equal(JSON.parse(await readFile(config, 'utf8')), { images: { base, caCerts } });
  assert.is((await stat(config)).mode & 0o777, 0o600);

  // A new shell: nothing in its environment, the choice comes from the config; nothing is built.
  const again = bottle(['image', 'build', '--json'], env);
  assert.is(again.code, 0, again.stderr);
  const reused = JSON.parse(again.stdout) as BuildJson;
  assert.equal(reused.built, []);
  assert.equal(reused.from, { base: 'config', caCerts: 'config' });
  assert.equal([reused.runtime, reused.agent, reused.bundle], [ctx.images.runtime, ctx.images.agent, ctx.images.bundle]);

  // And `bottle run` there: the same images, no build and no pull on the way.
  const run = bottle(['run', AGENT, '--manifest', ctx.manifest, '--', 'sh', '-c', 'echo in-bottle'], env);
  assert.is(run.code, 0, run.stderr);
  assert.is(run.stdout, 'in-bottle\n');
  assert.match(run.stderr, /images/, 'progress names the image step');
  assert.not.match(run.stderr, /building|pulling|debootstrap/);

  const plan = bottle(['plan', AGENT, '--manifest', ctx.manifest], env);
  assert.is(plan.code, 0, plan.stderr);
  assert.match(plan.stdout, `  base image   ${base} (recorded)\n`);

  const doctor = bottle(['doctor', '--json'], env);
  const check = (JSON.parse(doctor.stdout) as { checks: { name: string; ok: boolean; detail: string }[] }).checks.find((c) => c.name === 'base image');
  assert.ok(check?.ok, doctor.stdout);
  assert.ok(check!.detail.startsWith(`${base} (from ${config}`), check!.detail);
});

test('a config with no choice in it: doctor says so and names the fix; a broken one is reported with the file', async () => {
  const env = await freshShell();
  const none = bottle(['doctor', '--json'], env);
  const check = (JSON.parse(none.stdout) as { checks: { name: string; ok: boolean; detail: string; fix?: string }[] }).checks.find((c) => c.name === 'base image');
  assert.is(check?.ok, false);
  assert.match(check!.fix ?? '', /bottle image build/);
  const config = path.join(env.XDG_CONFIG_HOME!, 'bot-bottle', 'config.json');
  await mkdir(path.dirname(config), { recursive: true });
  await writeFile(config, '{ "images": { "base": 7 } }');
  const broken = bottle(['image', 'build'], env);
  assert.is(broken.code, 2, broken.stderr);
  assert.match(broken.stderr, `Error: ${config} is not a valid bot-bottle config: "images.base" is not an image reference`);
  assert.match(broken.stderr, /Fix: .*bottle image build/);
  assert.not.match(broken.stderr, /^\s+at /m);
});

/**
 * Detection itself, where it needs nothing off this machine: the default base already in the
 * engine, or a base the Debian recipe made here before; and only when that is the suites' own
 * choice (else the runtime and agent images would be built again).
 */
test('image build with nothing stated detects the base on this engine without reaching a registry, and records it', async () => {
  const present = spawnSync('docker', ['image', 'inspect', DEFAULT_BASE_IMAGE], { encoding: 'utf8' }).status === 0;
  const expected = present ? DEFAULT_BASE_IMAGE : await localDebianBase();
  const same = expected === ctx.images.choice.base && JSON.stringify(ctx.images.choice.caCerts) === JSON.stringify(await hostCaCerts());
  if (!expected || !same) {
    process.stderr.write(`  (detection not run: ${expected ? 'the suites\' images are not what detection picks here' : 'no base on this engine, and detecting would reach a registry'})\n`);
    return;
  }
  const env = await freshShell();
  const r = bottle(['image', 'build', '--json'], env);
  assert.is(r.code, 0, r.stderr);
  const built = JSON.parse(r.stdout) as BuildJson;
  assert.equal({ base: built.base, from: built.from, built: built.built }, { base: expected, from: { base: 'detected', caCerts: 'detected' }, built: [] });
  assert.not.match(r.stderr, /pulling|debootstrap|making a base/);
  assert.equal(JSON.parse(await readFile(built.recorded!, 'utf8')).images, { base: expected, caCerts: ctx.images.choice.caCerts });
});

/**
 * What a user without a registry, root or debootstrap gets. Run as nobody (who cannot reach the
 * engine either, so nothing is pulled) with an exact Node version no base was made for, so that
 * the recipe asks no registry: it stops at the root check.
 */
test('no base to be had and not root: one error naming what is missing and the fixes, exit 1, no stack', async () => {
  if (process.getuid?.() !== 0 || spawnSync('setpriv', ['--version']).status !== 0) {
    process.stderr.write('  (not run: needs root and setpriv to run bottle as another user)\n');
    return;
  }
  // The CLI and its Node must be readable by that user: a checkout under a folder only root may
  // enter (mktemp -d makes 0700 ones) cannot be run as another user at all.
  const reach = spawnSync('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(BIN)}, require('fs').constants.R_OK)`], { encoding: 'utf8' });
  if (reach.status !== 0) {
    process.stderr.write('  (not run: this checkout or its Node cannot be read by another user)\n');
    return;
  }
  const home = await tempDir('bottle-imgchoice-nobody-');
  await chmod(home, 0o777);
  const env = { HOME: home, XDG_CONFIG_HOME: path.join(home, 'config'), PATH: process.env.PATH, BOTTLE_BASE_NODE_VERSION: '24.99.99', NO_COLOR: '1' };
  const r = spawnSync('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', process.execPath, BIN, 'image', 'build', '--base', 'auto'], { env, encoding: 'utf8', timeout: 300_000 });
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, 'Error: no base image: node:24-bookworm-slim is not available, and building one from Debian needs root (debootstrap and chroot need it)\n');
  assert.match(r.stderr, /^Fix: Make node:24-bookworm-slim available to docker/m);
  assert.match(r.stderr, /^Fix: Or build the base from Debian: install debootstrap \(sudo apt-get install debootstrap\), then run `sudo bottle image build --base auto`\.$/m);
  assert.match(r.stderr, /^Fix: Or name a base of your own/m);
  assert.is(r.stderr.match(/^Error:/gm)?.length, 1, r.stderr);
  assert.not.match(r.stderr, /^\s+at /m);
  assert.not.ok(existsSync(path.join(home, 'config/bot-bottle/config.json')), 'nothing recorded');

  // Control: as root, the same recipe with the version of the base it made here answers at once.
  const made = await localDebianBase();
  const version = made ? /^bot-bottle-base:bookworm-node(\d+\.\d+\.\d+)-/.exec(made)?.[1] : undefined;
  if (!made || !version) return;
  assert.is(await debianBase({ env: { ...process.env, BOTTLE_BASE_NODE_VERSION: version } }), made);
});

test.run();
