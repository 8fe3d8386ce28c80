/**
 * The smolmachines backend's lifecycle on its engine (the smolvm double by default; real smolvm
 * under scripts/verify-smolvm.sh): launch, attach, exec and its stdin, ls, stop, gc, a launcher
 * killed with SIGKILL, a bundle that dies while starting. Each check reads what the engines hold
 * (smolvm's `machine ls --json`, docker's containers, the host folders), not the calls that made it.
 * A launch returns once the bundle serves (see the backend), so a dying bundle fails the launch itself.
 */
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isBottleError, type BottlePlan } from '@bot-bottle/core';
import { docker } from '@bot-bottle/backend-kit';
import { listArgs, parseMachineList, smolvm } from '../../src/index.js';
import { ENGINE, HARDWARE_KVM_HOST, ON, launch, leftovers, planFor, removeTestResources, testEnv, testImages, type TestEnv } from './helpers.js';

const test = suite(`${ON}: launch, attach, exec, ls, stop, gc`);
const ctx: { t?: TestEnv } = {};
const PROCESS = fileURLToPath(new URL('./backend-process.ts', import.meta.url));

test.before(async () => {
  await testImages();
  ctx.t = await testEnv();
});

test.after(async () => {
  await removeTestResources();
  await ctx.t?.cleanup();
});

/** Runs backend-process.ts with `input`; its exit code and output. */
function inProcess(input: Record<string, unknown>, stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', PROCESS, JSON.stringify({ env: ctx.t!.env, ...(ENGINE === 'double' ? { probe: HARDWARE_KVM_HOST } : {}), ...input })], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.stdin.end(stdin);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function machineOf(slug: string) {
  const ls = await smolvm(listArgs({ stateDir: ctx.t!.env.BOT_BOTTLE_SMOLVM_STATE_DIR! }), {}, ctx.t!.backend.cli);
  return parseMachineList(ls.stdout).find((m) => m.labels['bot-bottle.slug'] === slug);
}

async function gone(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null)) === null;
}

test('launch: a machine with no network from the agent image, labelled; the bundle container beside it; only the sockets in the guest', async () => {
  const { bottle, plan } = await launch(ctx.t!);
  try {
    const m = await machineOf(plan.slug);
    assert.ok(m, 'smolvm lists the machine');
    assert.is(m!.name, `bot-bottle-${plan.slug}`);
    assert.is(m!.state, 'running');
    assert.is(m!.network, false, 'no network device');
    assert.match(m!.image ?? '', /^local:[0-9a-f]{64}$/, 'booted from a local archive (the docker save of the agent image)');
    assert.equal([m!.labels['bot-bottle.role'], m!.labels['bot-bottle.backend'], m!.labels['bot-bottle.agent']], ['bottle', 'smolmachines', 'demo']);
    assert.equal(m!.cmd, ['node', '/usr/local/lib/bot-bottle/forward.mjs', '3128=egress.sock', '9418=git.sock', '9100=supervise.sock']);
    const bundle = await docker(['inspect', '--format', '{{.State.Running}} {{index .Config.Labels "bot-bottle.role"}}', `bot-bottle-${plan.slug}-bundle`]);
    assert.is(bundle.stdout.trim(), 'true bundle');
    // The guest sees each bundle socket at the forwarder's path, and nothing else of the bundle's folder.
    const r = await bottle.target.exec(['sh', '-c', 'cd /run/bot-bottle && for f in *; do [ -S "$f" ] && echo "socket $f" || echo "other $f"; done']);
    assert.is(r.stdout, 'socket egress.sock\nsocket git.sock\nsocket supervise.sock\n', r.stderr);
    await bottle.ready;
  } finally {
    await bottle.destroy();
  }
});

test('attach: the command runs as node in the workspace with HOME set; its exit code comes back; destroy leaves nothing', async () => {
  const { bottle, plan } = await launch(ctx.t!);
  let folder: string | undefined;
  try {
    const rec = JSON.parse(await (await import('node:fs/promises')).readFile(path.join(plan.stateDir, 'smolvm.json'), 'utf8')) as { socketFolder: string };
    folder = rec.socketFolder;
    assert.ok(!(await gone(folder)), 'the socket folder is there while the bottle runs');
    const code = await bottle.attach(['sh', '-c', 'echo "$(id -un) $(pwd) $HOME $HTTPS_PROXY" > /tmp/who; exit 7'], { tty: false });
    assert.is(code, 7);
    const who = await bottle.target.exec(['cat', '/tmp/who']);
    assert.is(who.stdout, 'node /home/node/workspace /home/node http://127.0.0.1:3128\n');
  } finally {
    await bottle.destroy();
  }
  await bottle.destroy(); // twice is fine
  assert.equal(await leftovers(ctx.t!, plan.slug), []);
  assert.ok(await gone(plan.stateDir), 'state dir removed');
  assert.ok(folder && (await gone(folder)), 'socket folder removed');
});

test('--keep, ls, exec (stdin reaches the command; its exit code), gc keeps it, stop removes everything', async () => {
  const { bottle, plan } = await launch(ctx.t!, undefined, { keep: true });
  await bottle.ready;
  try {
    const list = (await ctx.t!.backend.list()).filter((b) => b.slug === plan.slug);
    assert.is(list.length, 1);
    assert.equal([list[0]!.state, list[0]!.backend, list[0]!.agent], ['running', 'smolmachines', 'demo']);
    assert.match(list[0]!.detail ?? '', /kept/);
    const ex = await inProcess({ op: 'exec', slug: plan.slug, argv: ['sh', '-c', 'id -un; tr a-z A-Z; exit 3'] }, 'hello bottle\n');
    assert.is(ex.code, 3, ex.stderr);
    assert.is(ex.stdout, 'node\nHELLO BOTTLE\n');
    const dry = await ctx.t!.backend.gc({ dryRun: true });
    assert.equal(dry.removed.filter((r) => r.includes(plan.slug)), [], 'a kept bottle is not garbage');
    await ctx.t!.backend.stop(plan.slug);
    assert.equal(await leftovers(ctx.t!, plan.slug), []);
    assert.equal((await ctx.t!.backend.list()).filter((b) => b.slug === plan.slug), []);
    const again = await ctx.t!.backend.stop(plan.slug).then(() => null, (e: unknown) => e);
    assert.ok(isBottleError(again) && again.code === 'BOTTLE_NOT_FOUND', String(again));
  } finally {
    await ctx.t!.backend.stop(plan.slug).catch(() => undefined);
  }
});

test('exec of a bottle that is not there: BOTTLE_NOT_FOUND', async () => {
  const e = await ctx.t!.backend.exec('nope-aaaaa', ['true'], { tty: false }).then(() => null, (x: unknown) => x);
  assert.ok(isBottleError(e) && e.code === 'BOTTLE_NOT_FOUND', String(e));
  assert.match((e as Error).message, /no bottle named nope-aaaaa/);
});

test('a launcher killed with SIGKILL: ls says orphaned, gc removes machine, bundle, sockets and state', async () => {
  const plan: BottlePlan = await planFor(ctx.t!);
  const r = await inProcess({ op: 'launch-and-die', plan });
  assert.match(r.stdout, `launched ${plan.slug}`, r.stderr);
  assert.ok((await leftovers(ctx.t!, plan.slug)).length >= 2, 'the launch left its machine and bundle');
  const listed = (await ctx.t!.backend.list()).find((b) => b.slug === plan.slug);
  assert.is(listed?.state, 'orphaned');
  const report = await ctx.t!.backend.gc({ dryRun: false });
  assert.ok(report.removed.some((x) => x === `machine bot-bottle-${plan.slug}`), report.removed.join('\n'));
  assert.ok(report.removed.some((x) => x.startsWith('container ')), report.removed.join('\n'));
  assert.ok(report.removed.some((x) => x.startsWith('folder ')), report.removed.join('\n'));
  assert.equal(await leftovers(ctx.t!, plan.slug), []);
  assert.ok(await gone(plan.stateDir));
  assert.equal((await ctx.t!.backend.list()).filter((b) => b.slug === plan.slug), [], 'ls tells the truth');
});

test('a bundle that dies while starting fails the launch, with its reason, and leaves nothing', async () => {
  const plan = await planFor(ctx.t!);
  const err = await ctx.t!.backend.launch(plan, { progress: () => undefined, prepareBundle: async () => ({ egress: 'not a config' }) }).then(() => null, (e: Error) => e);
  assert.ok(err, 'the launch failed');
  assert.match(err!.message, /the bundle stopped while starting/);
  assert.equal(await leftovers(ctx.t!, plan.slug), []);
  assert.ok(await gone(plan.stateDir));
});

test.run();
