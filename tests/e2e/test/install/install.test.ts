/**
 * bot-bottle installed like a user installs it: packed tarballs published to a loopback registry,
 * `npm install -g @bot-bottle/cli` into an empty prefix under a clean HOME, and the installed
 * `bottle` (no checkout on any path) driving a real engine.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, readdir, realpath, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO, packAll, startRegistry, tempRoot, userShell, type Packed, type Registry, type UserShell } from './registry.js';

const test = suite('install from packed tarballs (real registry, real engine)');

interface Ctx { root: { dir: string; remove(): Promise<void> }; packed: Packed[]; registry: Registry; user: UserShell }
const ctx = {} as Ctx;

const DEP_FIELDS = ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies'] as const;

test.before(async () => {
  ctx.root = await tempRoot('bottle-install-');
  ctx.packed = await packAll(path.join(ctx.root.dir, 'packed'));
  ctx.registry = await startRegistry(path.join(ctx.root.dir, 'registry'));
  ctx.user = await userShell(path.join(ctx.root.dir, 'user'), ctx.registry);
});

test.after(async () => {
  await ctx.registry?.stop();
  await ctx.root?.remove();
});

test('every package packs as publishable: metadata set, no workspace: or catalog: range left', () => {
  assert.ok(ctx.packed.length >= 10, `packed ${ctx.packed.map((p) => p.name).join(', ')}`);
  for (const p of ctx.packed) {
    const m = p.manifest;
    for (const key of ['files', 'exports', 'engines', 'license', 'repository', 'publishConfig']) {
      assert.ok(m[key] !== undefined, `${p.name}: ${key} is missing`);
    }
    assert.is((m.engines as { node?: string }).node, '>=22', `${p.name}: engines.node`);
    for (const field of DEP_FIELDS) {
      for (const [dep, range] of Object.entries((m[field] ?? {}) as Record<string, string>)) {
        assert.not.match(range, /^(workspace|catalog):/, `${p.name} ${field}.${dep} is "${range}" after packing`);
      }
    }
  }
});

test('release dry run: pnpm publish -r --dry-run against the registry names every package', () => {
  const r = spawnSync('pnpm', ['-r', 'publish', '--dry-run', '--no-git-checks', '--registry', ctx.registry.url], { cwd: REPO, encoding: 'utf8', timeout: 300_000 });
  assert.is(r.status, 0, r.stdout + r.stderr);
  const named = new Set([...`${r.stdout}\n${r.stderr}`.matchAll(/npm notice name:\s+(\S+)/g)].map((m) => m[1]));
  for (const p of ctx.packed) assert.ok(named.has(p.name), `${p.name} is in the dry run`);
});

test('npm publish of every tarball to the registry', () => {
  for (const p of ctx.packed) ctx.registry.publish(p.tarball);
});

test('npm install -g @bot-bottle/cli into an empty prefix; the installed bottle runs from there', async () => {
  const r = ctx.user.sh('npm', ['install', '-g', '@bot-bottle/cli'], { timeout: 600_000 });
  assert.is(r.code, 0, r.stderr);
  const bin = path.join(ctx.user.prefix, 'bin', 'bottle');
  assert.ok(existsSync(bin), 'bottle is on the prefix bin');
  const installed = await realpath(bin);
  assert.ok(installed.startsWith(ctx.user.prefix), `bottle resolves into the prefix (${installed})`);
  assert.not.ok(installed.startsWith(REPO), 'not into the checkout');
  const version = ctx.user.sh('bottle', ['--version']);
  assert.is(version.code, 0, version.stderr);
  const cli = JSON.parse(await readFile(path.join(ctx.user.prefix, 'lib/node_modules/@bot-bottle/cli/package.json'), 'utf8')) as { version: string };
  assert.match(version.stdout, `@bot-bottle/cli/${cli.version}`);
});

test('the installed CLI lists its built-in provisioners and the engine check passes', () => {
  const ls = ctx.user.sh('bottle', ['provisioners', '--json']);
  assert.is(ls.code, 0, ls.stderr);
  const names = (JSON.parse(ls.stdout) as { provisioners: { name: string }[] }).provisioners.map((p) => p.name);
  for (const n of ['ca', 'git', 'prompt', 'skills', 'supervise']) assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
  const doctor = ctx.user.sh('bottle', ['doctor']);
  assert.is(doctor.code, 0, doctor.stdout + doctor.stderr);
});

/** The user's project: a workspace folder holding a bottle.json. */
async function project(manifest: unknown): Promise<string> {
  const dir = path.join(ctx.user.home, 'project');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'bottle.json'), JSON.stringify(manifest, null, 2));
  return dir;
}

const AGENT = `inst-${process.pid.toString(36)}`;

test('the installed CLI builds its images without flags and runs a bottle: run -- CMD, ls, stop', async () => {
  const build = ctx.user.sh('bottle', ['image', 'build', '--json'], { timeout: 1_800_000 });
  assert.is(build.code, 0, build.stderr);
  const again = ctx.user.sh('bottle', ['image', 'build', '--json']);
  assert.is(again.code, 0, again.stderr);
  assert.equal((JSON.parse(again.stdout) as { built: string[] }).built, [], 'a second build finds every image');

  const cwd = await project({ bottles: { dev: {} }, agents: { [AGENT]: { bottle: 'dev', provisioners: ['ca'] } } });
  const once = ctx.user.sh('bottle', ['run', AGENT, '-q', '--', 'sh', '-c', 'echo "$(id -un) in $(pwd)"'], { cwd });
  assert.is(once.code, 0, once.stderr);
  assert.is(once.stdout, 'node in /home/node/workspace\n');

  const kept = ctx.user.sh('bottle', ['run', AGENT, '-q', '--keep', '--', 'true'], { cwd });
  assert.is(kept.code, 0, kept.stderr);
  const ls = ctx.user.sh('bottle', ['ls', '--json'], { cwd });
  assert.is(ls.code, 0, ls.stderr);
  const mine = (JSON.parse(ls.stdout) as { slug: string; agent: string }[]).filter((b) => b.agent === AGENT);
  assert.is(mine.length, 1, ls.stdout);
  const stop = ctx.user.sh('bottle', ['stop', mine[0]!.slug], { cwd });
  assert.is(stop.code, 0, stop.stderr);
  const after = JSON.parse(ctx.user.sh('bottle', ['ls', '--json'], { cwd }).stdout) as { agent: string }[];
  assert.equal(after.filter((b) => b.agent === AGENT), [], 'stopped and removed');
});

test('an outside plugin, built against the published contract, installs from its tarball, runs at its position, uninstalls', async () => {
  // The example, copied out of the repository as an author would start from it.
  const src = path.join(ctx.user.home, 'motd-plugin');
  await cp(path.join(REPO, 'examples/provisioner-example'), src, {
    recursive: true,
    filter: (f) => !/\/(node_modules|dist)(\/|$)/.test(f) && !f.endsWith('.tsbuildinfo'),
  });
  const pj = JSON.parse(await readFile(path.join(src, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
  for (const field of DEP_FIELDS) {
    for (const [dep, range] of Object.entries(pj[field] ?? {})) assert.not.match(range, /^(workspace|catalog):|\.\.\//, `the example's ${field}.${dep} is "${range}": not copyable`);
  }
  for (const [cmd, args] of [['npm', ['install']], ['npm', ['run', 'build']], ['npm', ['test']], ['npm', ['pack']]] as const) {
    const r = ctx.user.sh(cmd, [...args], { cwd: src, timeout: 600_000 });
    assert.is(r.code, 0, `${cmd} ${args.join(' ')}: ${r.stdout}\n${r.stderr}`);
  }
  const tgz = (await readdir(src)).find((f) => f.endsWith('.tgz'));
  assert.ok(tgz, 'npm pack made a tarball');

  const install = ctx.user.sh('bottle', ['plugins', 'install', `file:${path.join(src, tgz!)}`], { timeout: 600_000 });
  assert.is(install.code, 0, install.stdout + install.stderr);
  try {
    const list = JSON.parse(ctx.user.sh('bottle', ['provisioners', '--json']).stdout) as { provisioners: { name: string; builtIn: boolean; package: string }[] };
    const example = list.provisioners.find((p) => p.name === 'example');
    assert.ok(example, `listed: ${list.provisioners.map((p) => p.name).join(', ')}`);
    assert.is(example!.builtIn, false);

    const cwd = await project({
      bottles: { dev: {} },
      agents: { [AGENT]: { bottle: 'dev', provisioners: ['ca', { name: 'example', options: { motd: 'hello from an outside plugin' } }, 'prompt'] } },
    });
    const plan = ctx.user.sh('bottle', ['plan', AGENT, '--json'], { cwd });
    assert.is(plan.code, 0, plan.stderr);
    const steps = (JSON.parse(plan.stdout) as { provisioners: { name: string }[] }).provisioners.map((p) => p.name);
    assert.equal(steps, ['ca', 'example', 'prompt'], 'listed at its position');
    const run = ctx.user.sh('bottle', ['run', AGENT, '-q', '--', 'sh', '-c', 'cat ~/.bottle-motd; echo "env=$BOTTLE_MOTD"; stat -c %U ~/.bottle-motd'], { cwd });
    assert.is(run.code, 0, run.stderr);
    assert.match(run.stdout, /^hello from an outside plugin\n/);
    assert.match(run.stdout, 'env=/home/node/.bottle-motd\n');
    assert.match(run.stdout, /node\n$/);
  } finally {
    const un = ctx.user.sh('bottle', ['plugins', 'uninstall', '@bot-bottle/provisioner-example']);
    assert.is(un.code, 0, un.stdout + un.stderr);
  }
  const list = JSON.parse(ctx.user.sh('bottle', ['provisioners', '--json']).stdout) as { provisioners: { name: string }[] };
  assert.not.ok(list.provisioners.some((p) => p.name === 'example'), 'gone after uninstall');
});

test.run();
