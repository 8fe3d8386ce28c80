/** Shared set-up for tests against the real docker engine. Everything made here is labelled and removed. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { makePlan, validateManifest, type BottlePlan, type LaunchedBottle } from '@bot-bottle/core';
import { DockerBackend, docker, ensureImages, type ImageRefs } from '../src/index.js';

/** Labels what this run makes; the value is per run, so a cleanup never touches another run's resources. */
export const TEST_LABEL = `bot-bottle-test=${randomBytes(4).toString('hex')}`;

let images: Promise<ImageRefs> | undefined;
/** Builds (once per process) or finds the images, with the base and CAs from the environment. */
export function testImages(): Promise<ImageRefs> {
  images ??= ensureImages({ progress: (m) => process.stderr.write(`  ${m}\n`) });
  return images;
}

export interface TestEnv {
  stateHome: string;
  env: NodeJS.ProcessEnv;
  backend: DockerBackend;
  cleanup(): Promise<void>;
}

/** A private XDG state home, so tests never see the user's bottles (nor each other's). */
export async function testEnv(extra: NodeJS.ProcessEnv = {}): Promise<TestEnv> {
  const stateHome = await mkdtemp(path.join(tmpdir(), 'bbtest-state-'));
  const env = { ...process.env, XDG_STATE_HOME: stateHome, ...extra };
  const backend = new DockerBackend(env);
  return {
    stateHome,
    env,
    backend,
    async cleanup() {
      await rm(stateHome, { recursive: true, force: true });
    },
  };
}

export async function planFor(t: TestEnv, manifest: object, agentName = 'demo', baseDir = tmpdir()): Promise<BottlePlan> {
  const loaded = await validateManifest(manifest, '<test>', baseDir);
  return makePlan({ manifest: loaded, agentName, copyCwd: false, userCwd: baseDir }, { env: t.env, backend: 'docker' });
}

export const MINIMAL = { bottles: { dev: {} }, agents: { demo: { bottle: 'dev', provisioners: [] } } };

export async function launch(t: TestEnv, manifest: object = MINIMAL): Promise<LaunchedBottle> {
  await testImages();
  const plan = await planFor(t, manifest);
  return t.backend.launch(plan, { progress: () => undefined });
}

export function uniq(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/** Runs a shell snippet in the bottle as the agent user. */
export async function inBottle(bottle: LaunchedBottle, script: string, timeoutMs = 30_000) {
  return bottle.target.exec(['sh', '-c', script], { user: 'node', env: { HOME: '/home/node', USER: 'node' }, timeoutMs });
}

/** Removes every container and network this run labelled. */
export async function removeTestResources(): Promise<void> {
  const c = await docker(['ps', '-aq', '--filter', `label=${TEST_LABEL}`]);
  const ids = c.stdout.split('\n').filter(Boolean);
  if (ids.length) await docker(['rm', '-f', '-v', ...ids]);
  const n = await docker(['network', 'ls', '-q', '--filter', `label=${TEST_LABEL}`]);
  const nets = n.stdout.split('\n').filter(Boolean);
  if (nets.length) await docker(['network', 'rm', ...nets]);
}
