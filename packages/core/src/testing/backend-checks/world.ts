/**
 * The checks' shared world: a state home of their own, the host upstreams, the backend under test,
 * and the helpers every case uses: plans through core's validateManifest and makePlan, shell in
 * the bottle, the audit log, and "what is left of a bottle" as `ls`, the state dir and the engine
 * tell it.
 */
import type { AgentDefinition } from '../../agent/definition.js';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Backend, ExecResult, LaunchedBottle, Target } from '../../backend.js';
import { validateManifest } from '../../manifest/index.js';
import { bottleStateDir, makePlan, type BottlePlan } from '../../plan.js';
import type { ProvisionerDefinition } from '../../provisioner/definition.js';
import { groupAlive } from './jobs.js';
import type { Provisioned } from './provisioned.js';
import type { BackendUnderTest, CheckRun } from './under-test.js';
import { startGitUpstream, startHttpUpstream, type GitUpstream, type HttpUpstream } from './upstreams.js';

/** The agent every plan of the checks is for. */
export const AGENT = 'checks';
/** The host env var of the route's injected credential. */
export const SECRET_ENV = 'BOT_BOTTLE_CHECKS_TOKEN';

export interface BackendChecksOptions {
  /**
   * The provisioners a launch applies, as the CLI's registry holds them: at least the built-in
   * ca, git, prompt, skills and supervise (packages/provisioner-*; core cannot depend on them).
   */
  provisioners: readonly ProvisionerDefinition<any>[];
  /**
   * The agent a launch configures after the provisioners (it registers their MCP servers, takes
   * their instructions): Claude Code's definition (packages/agent-claude), whose CLI the checks run.
   */
  agent: AgentDefinition;
}

export interface World {
  under: BackendUnderTest;
  options: BackendChecksOptions;
  run: CheckRun;
  /** For plans: the manifest's folder, the user's home. */
  dir: string;
  home: string;
  env: NodeJS.ProcessEnv;
  backend: Backend;
  hostAddress: string;
  /** Every address of this host the bottle must not reach (hostAddress, this host's interfaces, more from setup). */
  hostAddresses: string[];
  http: HttpUpstream;
  git: GitUpstream;
  /** The value of SECRET_ENV: the canary. */
  secret: string;
  /** Every slug planned, for the clean-up. */
  slugs: Set<string>;
  /** The phases of a clean launch, as the first check saw them. */
  phases?: string[];
  /** The provisioned bottle most checks share (provisioned.ts), launched on first use. */
  provisioned?: Promise<Provisioned>;
  /** Bottles launched in this process, destroyed at the end. */
  launched: LaunchedBottle[];
}

export async function makeWorld(under: BackendUnderTest, options: BackendChecksOptions, hostInterfaces: string[]): Promise<World> {
  const id = randomBytes(4).toString('hex');
  const root = await mkdtemp(path.join(tmpdir(), 'bot-bottle-checks-'));
  const run: CheckRun = { id, labelKey: 'bot-bottle-checks', label: `bot-bottle-checks=${id}`, dir: path.join(root, 'backend') };
  await mkdir(run.dir);
  const setup = await under.setup(run).catch(async (e: unknown) => {
    await under.teardown?.(run).catch(() => undefined); // what a setup that failed half-way made
    await rm(root, { recursive: true, force: true });
    throw e;
  });
  const secret = `bbchecks-canary-${randomBytes(12).toString('hex')}`;
  const home = path.join(root, 'home');
  const env: NodeJS.ProcessEnv = { ...process.env, ...setup.env, XDG_STATE_HOME: path.join(root, 'state'), [SECRET_ENV]: secret };
  let http: HttpUpstream | undefined;
  let git: GitUpstream | undefined;
  try {
    await mkdir(path.join(root, 'plans'), { recursive: true });
    await mkdir(home);
    http = await startHttpUpstream();
    git = await startGitUpstream(root, ['app', 'other']);
    return {
      under,
      options,
      run,
      dir: root,
      home,
      env,
      backend: await under.make(env),
      hostAddress: setup.hostAddress,
      hostAddresses: [...new Set([setup.hostAddress, ...hostInterfaces, ...(setup.moreHostAddresses ?? [])])],
      http,
      git,
      secret,
      slugs: new Set(),
      launched: [],
    };
  } catch (e) {
    await http?.close();
    await git?.close();
    await under.teardown?.(run).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
    throw e;
  }
}

/** Stops every bottle the checks made that is still listed, then the upstreams and setup's things. */
export async function endWorld(w: World): Promise<void> {
  const problems: unknown[] = [];
  for (const b of w.launched) await b.destroy().catch((e: unknown) => problems.push(e));
  const listed = await w.backend.list().catch((e: unknown) => (problems.push(e), []));
  for (const b of listed) if (w.slugs.has(b.slug)) await w.backend.stop(b.slug).catch((e: unknown) => problems.push(e));
  await w.http.close();
  await w.git.close();
  await w.under.teardown?.(w.run).catch((e: unknown) => problems.push(e));
  await rm(w.dir, { recursive: true, force: true });
  if (problems.length) throw problems[0];
}

/** A plan for agent "checks" in bottle "dev", through core's manifest validation and makePlan, labelled for this run. */
export async function planFor(w: World, bottle: object, agent: object = {}, spec: { copyCwd?: boolean; userCwd?: string } = {}): Promise<BottlePlan> {
  const manifest = { bottles: { dev: bottle }, agents: { [AGENT]: { bottle: 'dev', ...agent } } };
  const loaded = await validateManifest(manifest, path.join(w.dir, 'bottle.json'), w.dir, w.home);
  const plan = makePlan({ manifest: loaded, agentName: AGENT, copyCwd: spec.copyCwd ?? false, userCwd: spec.userCwd ?? w.dir }, { env: w.env, home: w.home, backend: w.under.name });
  if (plan.launchProblems.length) throw new Error(`launch problems: ${plan.launchProblems.join('; ')}`);
  plan.labels[w.run.labelKey] = w.run.id;
  w.slugs.add(plan.slug);
  return plan;
}

/** The smallest plan: no egress, no git; the checks' stand-in provisioner only. */
export function minimalPlan(w: World): Promise<BottlePlan> {
  return planFor(w, {}, { provisioners: ['checks-ready'] });
}

/** Writes a plan where a child reads it. */
export async function planFile(w: World, plan: BottlePlan): Promise<string> {
  const file = path.join(w.dir, 'plans', `${plan.slug}.json`);
  await writeFile(file, JSON.stringify(plan));
  return file;
}

/** Runs a shell snippet in the bottle, as the agent user unless told. */
export function sh(target: Target, script: string, o: { user?: string; stdin?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<ExecResult> {
  return target.exec(['sh', '-c', script], {
    ...(o.user === 'root' ? {} : { user: o.user ?? 'node' }),
    ...(o.stdin === undefined ? {} : { stdin: o.stdin }),
    ...(o.env ? { env: o.env } : {}),
    timeoutMs: o.timeoutMs ?? 60_000,
  });
}

/** The snippet's stdout; throws with what it printed when it fails. */
export async function shOk(target: Target, script: string, o: Parameters<typeof sh>[2] = {}): Promise<string> {
  const r = await sh(target, script, o);
  if (r.exitCode !== 0) throw new Error(`in the bottle: ${script}\nexited ${r.exitCode}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** The bottle's audit log entries of one source ("egress", "git-gate"). */
export async function audit(plan: BottlePlan, source: string): Promise<Record<string, any>[]> {
  const text = await readFile(plan.egress.auditLogPath, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, any>)
    .filter((e) => e.source === source);
}

/** Waits for the audit entry `match` accepts (the gateway writes a line when an exchange ends). */
export async function auditEntry(plan: BottlePlan, source: string, match: (e: Record<string, any>) => boolean): Promise<Record<string, any>> {
  for (let i = 0; ; i++) {
    const hit = (await audit(plan, source)).find(match);
    if (hit) return hit;
    if (i >= 150) throw new Error(`no ${source} audit entry matched; the log holds:\n${(await audit(plan, source)).map((e) => JSON.stringify(e)).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What is left of a bottle: its line in `ls`, its state dir, and what the engine holds for it. */
export async function leftovers(w: World, slug: string): Promise<string[]> {
  const listed = (await w.backend.list()).filter((b) => b.slug === slug).map((b) => `ls: ${b.slug} ${b.state} (${b.detail ?? ''})`);
  const dir = bottleStateDir(slug, w.env, w.home);
  const state = existsSync(dir) ? [`state dir ${dir}`] : [];
  const engine = w.under.resources ? (await w.under.resources(slug)).map((r) => `engine: ${r}`) : [];
  return [...listed, ...state, ...engine];
}

/**
 * Runs `gc` until nothing of the bottle is left. The owner's engine processes may outlive it and
 * still be finishing the step it was in (creating a container, say), and an engine may finish a
 * request its killed client made: gc has to catch up with what they make. This fails when gc
 * fails, or when something is still there after gc ran again and again once they were all gone.
 */
export async function gcUntilClean(w: World, slug: string, ownerGroup?: number): Promise<{ removed: string[] }> {
  const removed: string[] = [];
  let left: string[] = [];
  let lastError: unknown = null;
  for (let i = 0; i < 60; i++) {
    const childrenDone = ownerGroup === undefined || !groupAlive(ownerGroup);
    lastError = null;
    try {
      removed.push(...(await w.backend.gc({ dryRun: false })).removed);
    } catch (e) {
      lastError = e;
    }
    left = await leftovers(w, slug);
    if (childrenDone && lastError === null && left.length === 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  if (lastError) throw lastError;
  if (ownerGroup !== undefined && groupAlive(ownerGroup)) left.push(`processes of the killed owner's group ${ownerGroup} are still running`);
  if (left.length) throw new Error(`left after gc: ${left.join('; ')}`);
  return { removed };
}
