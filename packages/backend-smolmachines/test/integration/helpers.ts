/**
 * Set-up for the smolmachines backend's integration suites. By default they run on the smolvm
 * TEST DOUBLE (test/smolvm-double: the `smolvm machine` verbs on top of a docker container), with a
 * host probe that says "hardware KVM", since no guest boots on these machines. With
 * BOT_BOTTLE_SMOLVM_ENGINE=real (scripts/verify-smolvm.sh, on a host with hardware KVM) the same
 * suites run on real smolvm microVMs, with the host probed for real. Every suite title starts with
 * `ON`, which names the engine. Everything made here carries this run's test label and is removed.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makePlan, validateManifest, type BottlePlan, type LaunchedBottle } from '@bot-bottle/core';
import { docker } from '@bot-bottle/backend-kit';
import { ensureImages, type ImageRefs } from '@bot-bottle/images';
import { SmolmachinesBackend, listArgs, parseMachineList, smolvm, type HostProbe } from '../../src/index.js';

export const ENGINE: 'double' | 'real' = process.env.BOT_BOTTLE_SMOLVM_ENGINE === 'real' ? 'real' : 'double';
/** Every suite title starts with this: which engine the bottles ran on. */
export const ON = ENGINE === 'double' ? 'smolmachines backend on the smolvm double' : 'smolmachines backend on real smolvm';
export const DOUBLE = fileURLToPath(new URL('../smolvm-double/smolvm-double.mjs', import.meta.url));

export const TEST_LABEL_KEY = 'bot-bottle-test';
export const RUN_LABEL_KEY = 'bot-bottle-test.run';
export const RUN_ID = randomBytes(4).toString('hex');
export const RUN_LABEL = `${RUN_LABEL_KEY}=${RUN_ID}`;

/** A host with hardware KVM, as the probe would read it (what the backend is told on the double). */
export const HARDWARE_KVM_HOST: HostProbe = {
  platform: 'linux',
  arch: 'x64',
  kvm: { present: true, openable: true },
  modules: { kvm: true, kvmIntel: true, kvmAmd: false, kvmPvm: false },
  cpuFlags: { vmx: true, svm: false, hypervisor: false },
};
/** A host whose /dev/kvm is PVM only (these machines). */
export const PVM_ONLY_HOST: HostProbe = {
  platform: 'linux',
  arch: 'x64',
  kvm: { present: true, openable: true },
  modules: { kvm: true, kvmIntel: false, kvmAmd: false, kvmPvm: true },
  cpuFlags: { vmx: false, svm: false, hypervisor: true },
};

export function uniq(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

let images: Promise<ImageRefs> | undefined;
export function testImages(): Promise<ImageRefs> {
  images ??= ensureImages({ progress: (m) => process.stderr.write(`  ${m}\n`) });
  return images;
}

// One archive cache per test process: the agent image is saved once (seconds) for all suites here.
const archiveCache = path.join(tmpdir(), `bbtest-smolvm-images-${process.pid}`);
process.once('exit', () => rmSync(archiveCache, { recursive: true, force: true }));

export interface TestEnv {
  dir: string;
  env: NodeJS.ProcessEnv;
  backend: SmolmachinesBackend;
  cleanup(): Promise<void>;
}

/** A private state home and smolvm state dir, so tests never see the user's bottles or machines (nor each other's). */
export async function testEnv(extra: NodeJS.ProcessEnv = {}, hostProbe?: HostProbe): Promise<TestEnv> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bbtest-smolvm-'));
  // Run as root, smolvm drops each VM's process to a uid of its own, which must get through to the
  // machine's data under the private --state-dir (traversal only; nothing here is listable to it).
  if (ENGINE === 'real') await chmod(dir, 0o711);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    XDG_STATE_HOME: path.join(dir, 'state'),
    BOT_BOTTLE_SMOLVM_STATE_DIR: path.join(dir, 'smolvm'),
    BOT_BOTTLE_SMOLVM_IMAGE_CACHE: archiveCache,
    ...extra,
  };
  if (ENGINE === 'double') env.BOT_BOTTLE_SMOLVM = DOUBLE;
  else delete env.BOT_BOTTLE_SMOLVM;
  const probe = hostProbe ?? (ENGINE === 'double' ? HARDWARE_KVM_HOST : undefined);
  const backend = new SmolmachinesBackend({ env, ...(probe ? { hostProbe: probe } : {}) });
  return {
    dir,
    env,
    backend,
    async cleanup() {
      // Whatever a failed test left: its machines (and, through the double, their containers).
      const ls = await smolvm(listArgs({ stateDir: env.BOT_BOTTLE_SMOLVM_STATE_DIR! }), {}, backend.cli).catch(() => null);
      const machines = ls?.exitCode === 0 ? parseMachineList(ls.stdout) : [];
      for (const m of machines) await smolvm(['machine', 'delete', '--name', m.name, '--force', '--state-dir', env.BOT_BOTTLE_SMOLVM_STATE_DIR!], { timeoutMs: 120_000 }, backend.cli);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const MINIMAL = { bottles: { dev: {} }, agents: { demo: { bottle: 'dev', provisioners: [] } } };

/** A plan for agent "demo" of `manifest` (its skills beside `baseDir`), labelled with this run's test label. */
export async function planFor(t: TestEnv, manifest: object = MINIMAL, o: { baseDir?: string; copyCwd?: boolean; userCwd?: string } = {}): Promise<BottlePlan> {
  const baseDir = o.baseDir ?? t.dir;
  const loaded = await validateManifest(manifest, '<test>', baseDir);
  const plan = makePlan({ manifest: loaded, agentName: 'demo', copyCwd: o.copyCwd ?? false, userCwd: o.userCwd ?? baseDir }, { env: t.env, backend: 'smolmachines' });
  if (plan.launchProblems.length) throw new Error(`launch problems: ${plan.launchProblems.join('; ')}`);
  plan.labels[TEST_LABEL_KEY] = '1';
  plan.labels[RUN_LABEL_KEY] = RUN_ID;
  return plan;
}

export async function launch(t: TestEnv, manifest: object = MINIMAL, o: { keep?: boolean } = {}): Promise<{ bottle: LaunchedBottle; plan: BottlePlan }> {
  await testImages();
  const plan = await planFor(t, manifest);
  const bottle = await t.backend.launch(plan, { progress: () => undefined, ...(o.keep ? { keep: true } : {}) });
  return { bottle, plan };
}

/** Runs a shell snippet in the bottle as the agent user. */
export function inBottle(bottle: LaunchedBottle, script: string, timeoutMs = 60_000, env: Record<string, string> = {}) {
  return bottle.target.exec(['sh', '-c', script], { user: 'node', env: { HOME: '/home/node', USER: 'node', ...env }, timeoutMs });
}

/** Everything of a slug the engines hold: docker containers (bundle; the double's machine container) and smolvm machines. */
export async function leftovers(t: TestEnv, slug: string): Promise<string[]> {
  const c = await docker(['ps', '-aq', '--filter', `label=bot-bottle.slug=${slug}`]);
  const ls = await smolvm(listArgs({ stateDir: t.env.BOT_BOTTLE_SMOLVM_STATE_DIR! }), {}, t.backend.cli);
  const machines = parseMachineList(ls.stdout).filter((m) => m.labels['bot-bottle.slug'] === slug).map((m) => `machine ${m.name}`);
  const doubles = ENGINE === 'double' ? (await docker(['ps', '-aq', '--filter', 'label=smolvm-double=1', '--filter', `label=smolvm-double.machine=bot-bottle-${slug}`])).stdout.split('\n') : [];
  return [...c.stdout.split('\n'), ...doubles, ...machines].filter(Boolean);
}

/** Removes every container and network this run labelled. */
export async function removeTestResources(): Promise<void> {
  const c = await docker(['ps', '-aq', '--filter', `label=${RUN_LABEL}`]);
  const ids = c.stdout.split('\n').filter(Boolean);
  if (ids.length) await docker(['rm', '-f', '-v', ...ids], { timeoutMs: 60_000 });
  const n = await docker(['network', 'ls', '-q', '--filter', `label=${RUN_LABEL}`]);
  const nets = n.stdout.split('\n').filter(Boolean);
  if (nets.length) await docker(['network', 'rm', ...nets]);
}
