/**
 * Test helpers: a plan made the way the CLI makes one (a validated manifest object, then makePlan
 * with a seed and a temp state home), a context around a RecordingTarget, and temp dirs.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as assert from 'uvu/assert';
import {
  RecordingTarget,
  isBottleError,
  makePlan,
  validateManifest,
  type AgentEndpoints,
  type BottleError,
  type BottlePlan,
  type ProvisionContext,
} from '@bot-bottle/core';

const made: string[] = [];
export async function tempDir(prefix = 'bottle-prov-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
export async function cleanupTempDirs(): Promise<void> {
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

export const ENDPOINTS: AgentEndpoints = {
  proxyUrl: 'http://127.0.0.1:55557',
  gitGateHost: '127.0.0.1:9418',
  superviseUrl: 'http://127.0.0.1:9100/',
};

export interface PlanInput {
  prompt?: string;
  skills?: string[];
  git?: { Name: string; Upstream: string; IdentityFile?: string }[];
  gitUser?: { name?: string; email?: string };
  copyCwd?: boolean;
  userCwd?: string;
  routes?: { host: string }[];
  supervise?: boolean;
  /** Extra env for makePlan (XDG_STATE_HOME is always a temp dir). */
  env?: NodeJS.ProcessEnv;
}

export interface World {
  /** The manifest's folder (skills/<name> is searched here first). */
  base: string;
  home: string;
  stateHome: string;
}

export async function world(): Promise<World> {
  const base = await tempDir('bottle-prov-manifest-');
  const home = await tempDir('bottle-prov-home-');
  const stateHome = await tempDir('bottle-prov-state-');
  return { base, home, stateHome };
}

/** The reference's `_plan`: bottle "dev", agent "demo", from a manifest object through core. */
export async function planFor(w: World, input: PlanInput = {}): Promise<BottlePlan> {
  const bottle: Record<string, unknown> = {};
  if (input.git) bottle.git = input.git;
  if (input.gitUser) bottle.git_user = input.gitUser;
  if (input.routes) bottle.egress = { routes: input.routes };
  if (input.supervise) bottle.supervise = true;
  for (const g of input.git ?? []) {
    // The manifest check requires an IdentityFile to exist.
    if (g.IdentityFile?.startsWith('~/')) {
      const file = path.join(w.home, g.IdentityFile.slice(2));
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, 'not a real key\n', { mode: 0o600 });
    }
  }
  const manifest = {
    bottles: { dev: bottle },
    agents: { demo: { bottle: 'dev', skills: input.skills ?? [], prompt: input.prompt ?? '' } },
  };
  const loaded = await validateManifest(manifest, path.join(w.base, 'bottle.json'), w.base, w.home);
  return makePlan(
    { manifest: loaded, agentName: 'demo', copyCwd: input.copyCwd ?? false, userCwd: input.userCwd ?? '/tmp/x' },
    { env: { ...input.env, XDG_STATE_HOME: w.stateHome }, home: w.home, seed: 'seed-1', backend: 'test' },
  );
}

export interface Recorded {
  ctx: ProvisionContext;
  target: RecordingTarget;
  warnings: string[];
  logs: string[];
}

export function contextFor(plan: BottlePlan, endpoints: AgentEndpoints = ENDPOINTS): Recorded {
  const target = new RecordingTarget();
  const warnings: string[] = [];
  const logs: string[] = [];
  const ctx: ProvisionContext = {
    plan,
    target,
    endpoints,
    options: {},
    hostEnv: {},
    log: (m) => logs.push(m),
    warn: (m) => warnings.push(m),
    signal: new AbortController().signal,
  };
  return { ctx, target, warnings, logs };
}

/** Awaits fn and returns the BottleError it throws; fails when it resolves or throws something else. */
export async function rejects(fn: () => unknown): Promise<BottleError> {
  let result: unknown;
  try {
    result = await fn();
  } catch (e) {
    if (!isBottleError(e)) assert.unreachable(`expected a BottleError, got ${e instanceof Error ? e.stack : String(e)}`);
    return e as BottleError;
  }
  return assert.unreachable(`expected a BottleError, but it returned ${JSON.stringify(result)?.slice(0, 300)}`) as never;
}
