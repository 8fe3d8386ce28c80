/**
 * A host where no smolvm guest can boot (a PVM-only /dev/kvm, as on the machines this project is
 * built on): `launch` fails before it creates anything — no state record, no bundle container, no
 * machine, no socket folder, no image archive — with one BottleError saying why and what to do.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isBottleError } from '@bot-bottle/core';
import { docker, stateRoot } from '@bot-bottle/backend-kit';
import { SmolmachinesBackend, guestSupport, listArgs, listSocketFolders, parseMachineList, probeHost, smolvm, socketFolderPlace } from '../../src/index.js';
import { ON, PVM_ONLY_HOST, planFor, testEnv, type TestEnv } from './helpers.js';

const test = suite(`${ON}: a host where no guest boots (PVM-only /dev/kvm)`);
const ctx: { t?: TestEnv } = {};

test.before(async () => {
  ctx.t = await testEnv({}, PVM_ONLY_HOST);
  archivesBefore = await archives(ctx.t);
});

test.after(async () => {
  await ctx.t?.cleanup();
});

let archivesBefore: string[] = [];
const archives = (t: TestEnv) => readdir(t.env.BOT_BOTTLE_SMOLVM_IMAGE_CACHE!).catch(() => [] as string[]);

async function nothingOf(t: TestEnv, slug: string): Promise<void> {
  assert.equal(await readdir(path.join(t.env.XDG_STATE_HOME!, 'bot-bottle', 'bottles')).catch(() => []), [], 'no state dir, no record');
  assert.is((await docker(['ps', '-aq', '--filter', `label=bot-bottle.slug=${slug}`])).stdout.trim(), '', 'no container');
  const ls = await smolvm(listArgs({ stateDir: t.env.BOT_BOTTLE_SMOLVM_STATE_DIR! }), {}, t.backend.cli);
  assert.equal(ls.exitCode === 0 ? parseMachineList(ls.stdout) : [], [], 'no machine');
  assert.equal(await archives(t), archivesBefore, 'no image archive saved');
  const place = socketFolderPlace(stateRoot(t.env), t.env, process.geteuid?.() ?? 1000);
  assert.equal(await listSocketFolders(place), [], 'no socket folder');
  assert.equal(await t.backend.list(), [], 'ls shows nothing');
}

test('launch fails with BACKEND_UNAVAILABLE, the reason and the fix, and leaves nothing behind', async () => {
  const plan = await planFor(ctx.t!);
  const err = await ctx.t!.backend.launch(plan, { progress: () => undefined }).then(() => null, (e: unknown) => e);
  assert.ok(isBottleError(err), String(err));
  assert.is(err.code, 'BACKEND_UNAVAILABLE');
  assert.match(err.message, 'no smolvm guest can boot on this machine');
  assert.match(err.message, 'PVM only');
  assert.match(err.suggestions.join('\n'), 'a host with hardware virtualization (bare metal, or a cloud VM with nested virtualization)');
  assert.match(err.suggestions.join('\n'), '--backend docker');
  await nothingOf(ctx.t!, plan.slug);
  // gc has nothing to do either.
  assert.equal(await ctx.t!.backend.gc({ dryRun: false }), { removed: [], kept: [] });
});

test('doctor says the same: /dev/kvm there, but no guest can boot, with the fix', async () => {
  const checks = await ctx.t!.backend.doctor();
  const boot = checks.find((c) => c.name === 'a guest can boot here');
  assert.ok(boot && !boot.ok, JSON.stringify(checks));
  assert.match(boot!.detail, /PVM only/);
  assert.match(boot!.fix ?? '', /hardware virtualization/);
  assert.ok(checks.find((c) => c.name === '/dev/kvm')?.ok);
});

test('this host, probed for real: when its /dev/kvm is PVM only, a backend told nothing refuses the same way', async () => {
  const verdict = guestSupport(await probeHost()).verdict;
  if (verdict !== 'pvm-only') {
    process.stderr.write(`  (this host is "${verdict}", not PVM-only: nothing to check here)\n`);
    return;
  }
  const backend = new SmolmachinesBackend({ env: ctx.t!.env });
  const plan = await planFor(ctx.t!);
  const err = await backend.launch(plan, { progress: () => undefined }).then(() => null, (e: unknown) => e);
  assert.ok(isBottleError(err) && err.code === 'BACKEND_UNAVAILABLE', String(err));
  await nothingOf(ctx.t!, plan.slug);
});

test.run();
