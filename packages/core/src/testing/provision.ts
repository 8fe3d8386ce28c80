/**
 * A provisioner under test, run the way the CLI runs it: a plan made from a small manifest through
 * the same validation and makePlan (a fixed seed, temp folders for the manifest, home and state),
 * and a context around a RecordingTarget. Nothing here starts a sandbox.
 */
import type { AgentDefinition } from '../agent/definition.js';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AgentEndpoints } from '../backend.js';
import { validateManifest } from '../manifest/index.js';
import { makePlan, type BottlePlan } from '../plan.js';
import type { ProvisionContext, ProvisionerDefinition, ProvisionResult } from '../provisioner/definition.js';
import { planView, provisionerHostEnv } from '../provisioner/view.js';
import { buildRegistry } from '../registry.js';
import { resolveSteps, runProvisioners, type ProvisionOutcome } from '../runner.js';
import { BUNDLE_SERVICES, GUEST_SERVICE_HOST } from '../services.js';
import { RecordingTarget } from './recording-target.js';

const made: string[] = [];

/** A fresh temp dir, removed by `cleanupTempDirs` (call that after each test). */
export async function tempDir(prefix = 'bottle-test-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Removes every dir `tempDir` (and so `world`, `planFor`, `provisionForTest`) made so far. */
export async function cleanupTempDirs(): Promise<void> {
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** Where the bundle's services answer, as a backend would report them (git and supervise at the table's ports). */
export const ENDPOINTS: AgentEndpoints = {
  proxyUrl: `http://${GUEST_SERVICE_HOST}:55557`,
  gitGateHost: `${GUEST_SERVICE_HOST}:${BUNDLE_SERVICES.git.port}`,
  superviseUrl: `http://${GUEST_SERVICE_HOST}:${BUNDLE_SERVICES.supervise.port}/`,
};

/** The small manifest a plan is made from: bottle "dev", agent "demo". */
export interface PlanInput {
  prompt?: string;
  skills?: string[];
  git?: { Name: string; Upstream: string; IdentityFile?: string }[];
  gitUser?: { name?: string; email?: string };
  copyCwd?: boolean;
  userCwd?: string;
  routes?: { host: string; methods?: string[]; paths?: string[]; auth?: { header: string; env: string } }[];
  supervise?: boolean;
  /** The agent's `provisioners` list as a manifest writes it (names or `{name, options}`); the default list when not given. */
  provisioners?: (string | { name: string; options?: Record<string, unknown> })[];
  /** Extra env for makePlan (XDG_STATE_HOME is always a temp dir). */
  env?: NodeJS.ProcessEnv;
  /** The agent's definition (its name becomes the agent's "cli"); the plan has none when not given. */
  agent?: AgentDefinition;
  permissionPrompts?: boolean;
}

/** The folders one plan lives in, each a fresh temp dir. */
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

/** Removes one world's folders now (cleanupTempDirs removes every one). */
export async function removeWorld(w: World): Promise<void> {
  const dirs = [w.base, w.home, w.stateHome];
  for (const d of dirs) {
    const i = made.indexOf(d);
    if (i >= 0) made.splice(i, 1);
  }
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
}

/** A plan for agent "demo" in bottle "dev", from a manifest object through core, with seed "seed-1". */
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
    agents: {
      demo: {
        bottle: 'dev',
        skills: input.skills ?? [],
        prompt: input.prompt ?? '',
        ...(input.provisioners ? { provisioners: input.provisioners } : {}),
        ...(input.agent ? { cli: input.agent.name } : {}),
        ...(input.permissionPrompts === undefined ? {} : { permissionPrompts: input.permissionPrompts }),
      },
    },
  };
  const loaded = await validateManifest(manifest, path.join(w.base, 'bottle.json'), w.base, w.home);
  return makePlan(
    { manifest: loaded, agentName: 'demo', copyCwd: input.copyCwd ?? false, userCwd: input.userCwd ?? '/tmp/x' },
    { env: { ...input.env, XDG_STATE_HOME: w.stateHome }, home: w.home, seed: 'seed-1', backend: 'test', ...(input.agent ? { agent: { definition: input.agent, packageName: 'test' } } : {}) },
  );
}

/** A provision context and what it recorded. */
export interface Recorded<Options = Record<string, unknown>> {
  ctx: ProvisionContext<Options>;
  target: RecordingTarget;
  warnings: string[];
  logs: string[];
}

export interface ContextOptions<Options = Record<string, unknown>> {
  endpoints?: AgentEndpoints;
  /** The target to record into; a new RecordingTarget when not given. */
  target?: RecordingTarget;
  /** Options as the runner hands them (already validated). */
  options?: Options;
  /** `ctx.hostEnv` as given (the runner would keep only what the definition lists; provisionForTest does). */
  hostEnv?: Record<string, string>;
  /** The provisioner list and this one's place in it, for `ctx.plan`; the plan's list and 0 when not given. */
  provisioners?: readonly string[];
  position?: number;
}

/** A context with `plan`'s view around a RecordingTarget; warnings and log lines are collected. */
export function contextFor<Options = Record<string, unknown>>(plan: BottlePlan, endpoints: AgentEndpoints = ENDPOINTS, more: Omit<ContextOptions<Options>, 'endpoints'> = {}): Recorded<Options> {
  const target = more.target ?? new RecordingTarget();
  const warnings: string[] = [];
  const logs: string[] = [];
  const ctx: ProvisionContext<Options> = {
    plan: planView(plan, endpoints, more.provisioners ?? plan.provisioners.map((p) => p.name), more.position ?? 0),
    target,
    endpoints,
    options: more.options ?? ({} as Options),
    hostEnv: Object.freeze({ ...more.hostEnv }),
    log: (m) => logs.push(m),
    warn: (m) => warnings.push(m),
    signal: new AbortController().signal,
  };
  return { ctx, target, warnings, logs };
}

export interface ProvisionForTestOptions<Options = Record<string, unknown>> extends Omit<ContextOptions<unknown>, 'hostEnv' | 'provisioners' | 'position'> {
  /** The host's environment; `ctx.hostEnv` keeps only what the definition lists, as in a launch. */
  hostEnv?: NodeJS.ProcessEnv;
  /** The folders to plan in (e.g. with skills written under `base`); fresh ones when not given. */
  world?: World;
  /** The provisioner's options as a manifest gives them; checked by its schema as the runner does. */
  options?: Options | Record<string, unknown>;
  /** The guest's answer to each exec (RecordingTarget.respond). */
  respond?: RecordingTarget['respond'];
}

export interface ProvisionedForTest<Options = Record<string, unknown>> extends Recorded<Options> {
  /** The whole plan the view was made from (the provisioner saw `ctx.plan`, its view). */
  plan: BottlePlan;
  world: World;
  /** What `apply` returned. */
  result: ProvisionResult | void;
}

/**
 * Runs one provisioner definition against a RecordingTarget with a plan made from `input`. Its
 * options go through the same checks as in a launch; what `apply` throws is thrown as it is (pass
 * your own `target` to look at the calls made before a failure).
 */
export async function provisionForTest<Options>(
  definition: ProvisionerDefinition<Options>,
  input: PlanInput = {},
  o: ProvisionForTestOptions<Options> = {},
): Promise<ProvisionedForTest<Options>> {
  const w = o.world ?? (await world());
  const plan = await planFor(w, input);
  const options = checkedOptions(definition, o.options ?? {});
  // Its place in the agent's list when the plan lists it, else after the stand-ins for its `after`.
  const listed = plan.provisioners.map((p) => p.name);
  const provisioners = listed.includes(definition.name) ? listed : [...(definition.after ?? []), definition.name];
  const recorded = contextFor<Options>(plan, o.endpoints ?? ENDPOINTS, {
    ...(o.target ? { target: o.target } : {}),
    options,
    hostEnv: provisionerHostEnv(definition.hostEnv, o.hostEnv ?? {}, plan),
    provisioners,
    position: provisioners.indexOf(definition.name),
  });
  if (o.respond) recorded.target.respond = o.respond;
  const result = await definition.apply(recorded.ctx);
  return { ...recorded, plan, world: w, result };
}

/** The options as the runner would hand them: its own resolveSteps, with stand-ins for `after`. */
function checkedOptions<Options>(definition: ProvisionerDefinition<Options>, options: Record<string, unknown>): Options {
  const before = (definition.after ?? []).map((name) => ({ apiVersion: 1 as const, name, apply: async () => undefined }));
  const registry = buildRegistry(
    [...before, definition].map((d) => ({ plugin: { name: `test:${d.name}`, version: '0.0.0' }, result: d })),
    [],
  );
  const steps = resolveSteps([...before.map((d) => ({ name: d.name, options: {} })), { name: definition.name, options }], registry);
  return steps.at(-1)!.options as Options;
}

export interface RunForTestOptions {
  /** The folders to plan in; fresh ones when not given. */
  world?: World;
  /** The target to record into (pass one to look at the calls made before a failure). */
  target?: RecordingTarget;
  endpoints?: AgentEndpoints;
  /** The host's environment; each provisioner gets only what its definition lists. */
  hostEnv?: NodeJS.ProcessEnv;
}

/**
 * Runs the agent's `provisioners` list (from `input.provisioners`) the way a launch does: the
 * definitions registered as plugins, the list checked for unknown names, `after` and options, then
 * applied in order against a RecordingTarget. What the checks refuse is thrown before anything runs.
 */
export async function runForTest(
  definitions: readonly ProvisionerDefinition<any>[],
  input: PlanInput = {},
  o: RunForTestOptions = {},
): Promise<{ outcome: ProvisionOutcome; target: RecordingTarget; plan: BottlePlan; world: World; logs: string[]; warnings: string[] }> {
  const w = o.world ?? (await world());
  const plan = await planFor(w, input);
  const registry = buildRegistry(
    definitions.map((d) => ({ plugin: { name: `test:${d.name}`, version: '0.0.0' }, result: d })),
    [],
  );
  const steps = resolveSteps(plan.provisioners, registry, 'agents.demo.provisioners');
  const target = o.target ?? new RecordingTarget();
  const logs: string[] = [];
  const warnings: string[] = [];
  const outcome = await runProvisioners(steps, {
    plan,
    target,
    endpoints: o.endpoints ?? ENDPOINTS,
    hostEnv: o.hostEnv ?? {},
    log: (name, m) => logs.push(`${name}: ${m}`),
    warn: (name, m) => warnings.push(`${name}: ${m}`),
  });
  return { outcome, target, plan, world: w, logs, warnings };
}
