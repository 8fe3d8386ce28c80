/**
 * bot-bottle installed like a user installs it: packed tarballs published to a loopback registry,
 * `npm install -g @bot-bottle/cli` into an empty prefix under a clean HOME, and the installed
 * `bottle` (no checkout on any path) driving a real engine.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
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

test.run();
