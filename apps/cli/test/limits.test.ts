/**
 * A bottle's `limits` through the real CLI: a bad value is one clear line naming its JSON path and
 * the fix, for `validate` and before `run` creates anything; `plan` shows the resolved limits.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bottle, cleanupTempDirs, hasStack, isolatedXdg, run, tempDir, validManifest, writeJson } from './helpers.js';

const test = suite('limits');
test.after(cleanupTempDirs);

async function manifestWith(limits: unknown): Promise<string> {
  const m = validManifest();
  m.bottles.dev.limits = limits;
  return writeJson(path.join(await tempDir(), 'bottle.json'), m);
}

const BAD: [string, unknown, string][] = [
  ['memory without a unit', { memory: '4096' }, 'bottles.dev.limits.memory: memory must be like 512m or 4g (a number followed by m for MiB or g for GiB, in quotes), not "4096"'],
  ['memory in GB', { memory: '4GB' }, 'bottles.dev.limits.memory: memory must be like 512m or 4g (a number followed by m for MiB or g for GiB, in quotes), not "4GB"'],
  ['memory below the floor', { memory: '100m' }, 'bottles.dev.limits.memory: memory must be at least 256m (the bottle\'s own services and the agent need that much), not "100m"'],
  ['cpus in quotes', { cpus: '2' }, 'bottles.dev.limits.cpus: cpus must be a number of cores from 0.01 to 1024, such as 2 or 0.5, not the string "2"; write the number without quotes'],
  ['pids below the floor', { pids: 16 }, 'bottles.dev.limits.pids: pids must be a whole number from 256 to 65536 (the most processes and threads the bottle runs at once), not 16'],
  ['swap is not a key', { swap: '0' }, 'bottles.dev.limits.swap: unknown key "swap"; remove it or fix its spelling (allowed here: memory, cpus, pids)'],
];

for (const [name, limits, line] of BAD) {
  test(`validate: ${name} is one line with the path and the fix, exit 2, no stack`, async () => {
    const r = await bottle(['validate', '--manifest', await manifestWith(limits)], { env: await isolatedXdg() });
    assert.is(r.exitCode, 2, r.stderr);
    assert.is(r.stdout, '');
    assert.ok(r.stderr.startsWith('Error: '), r.stderr);
    assert.ok(r.stderr.split('\n').includes(`  ${line}`), r.stderr);
    assert.match(r.stderr, /\nFix: .+/);
    assert.not.ok(hasStack(r.stderr), r.stderr);
  });
}

test('run: a bad limits value stops the launch before anything is made', async () => {
  const xdg = await isolatedXdg();
  const r = await bottle(['run', 'demo', '--manifest', await manifestWith({ memory: 'lots' })], { env: xdg });
  assert.is(r.exitCode, 2, r.stderr);
  assert.ok(r.stderr.split('\n').includes('  bottles.dev.limits.memory: memory must be like 512m or 4g (a number followed by m for MiB or g for GiB, in quotes), not "lots"'), r.stderr);
  assert.not.ok(hasStack(r.stderr), r.stderr);
  assert.is(await readFile(path.join(xdg.XDG_STATE_HOME!, 'bot-bottle'), 'utf8').catch((e: NodeJS.ErrnoException) => e.code), 'ENOENT');
});

test('plan --json shows the bottle\'s limits as resolved and the bundle\'s fixed ones; plan says the same in words', async () => {
  const file = await manifestWith({ memory: '1536m', cpus: 1, pids: 512 });
  const j = await run(['plan', 'demo', '--manifest', file, '--json', '--seed', 'l']);
  assert.is(j.exitCode, 0, j.stderr);
  const limits = JSON.parse(j.stdout).limits;
  assert.equal(limits.bottle, { memory: '1536m', memoryBytes: 1536 * 2 ** 20, memorySwapBytes: 1536 * 2 ** 20, cpus: 1, cpuShares: 1024, pids: 512, oomScoreAdj: 1000 });
  assert.equal(limits.bundle, { memory: '1g', memoryBytes: 2 ** 30, memorySwapBytes: 2 ** 30, cpus: 1, cpuShares: 4096, pids: 1024, oomScoreAdj: 0 });
  assert.equal(limits.requested, { memory: '1536m', cpus: 1, pids: 512 });
  assert.equal(limits.notes, []);
  const t = await run(['plan', 'demo', '--manifest', file, '--seed', 'l']);
  assert.match(t.stdout, 'limits       bottle memory 1536m (no swap), cpus 1, pids 512; bundle memory 1g, cpus 1, pids 1024');
  // Without the key: the defaults, each with a line saying so.
  const d = await run(['plan', 'demo', '--manifest', await writeJson(path.join(await tempDir(), 'bottle.json'), validManifest())]);
  assert.match(d.stdout, /memory \S+: the default, half of the machine's \S+; set limits\.memory to change it/);
  assert.match(d.stdout, /pids 4096: the default; set limits\.pids to change it/);
});

test.run();
