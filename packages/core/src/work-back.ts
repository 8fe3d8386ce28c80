/**
 * The agent's work back in the user's repo: a branch namespace per bottle, `bottle/<slug>/*`.
 *
 * With --copy-cwd in a git repo, the launch clones the host repo (bare, on the host, in the
 * bottle's state dir: the "exchange" repo) and git-gate serves it to the bottle as its `origin`,
 * taking pushes only under `refs/heads/bottle/<slug>/`. The bundle never gets the user's repo
 * itself: the host alone copies the bottle's branches from the exchange into it, with `git fetch`
 * run here, which touches no working tree, index, HEAD, config or other branch. When the bottle
 * ends (`bottle run` exits, `bottle stop`, `bottle gc` of an orphan), its local branches are first
 * pushed into the namespace from inside the bottle, so unpushed commits are not lost.
 *
 * What comes from the bottle is untrusted: every fetch checks its objects (fsck), and every git
 * command here runs with the host repo's hooks off, no fsmonitor, no external diff or textconv,
 * no pager. A record outside the bottle's state dir (it outlives the bottle) keeps where the
 * agent started, for `bottle diff`, `log`, `merge` and `apply`.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Target } from './backend.js';
import { BottleError, EXIT_USAGE } from './errors.js';
import { bottleStateDir, stateHome, type BottlePlan } from './plan.js';

/** The exchange repo as the gate names it (`git://GATE/workspace.git`): the bottle's `origin`. */
export const WORK_REPO_NAME = 'workspace';
/** Where the bundle mounts the exchange repo (read-write, for git-gate only). */
export const BUNDLE_WORK_REPO = '/var/lib/bot-bottle-work/work.git';
export const DEFAULT_MAX_PUSH_MIB = 512;
export const DEFAULT_MAX_BRANCHES = 100;

export interface WorkBackPlan {
  /** The host repo (the copied cwd, which has a .git folder). */
  hostRepo: string;
  /** The exchange repo, on the host, in the bottle's state dir. */
  exchange: string;
  /** `bottle/<slug>`: the branches the bottle may write in the host repo. */
  namespace: string;
  maxPushBytes: number;
  maxBranches: number;
  /** Where the record of this bottle's work lives (it outlives the bottle's state dir). */
  recordFile: string;
}

export interface WorkRecord {
  slug: string;
  hostRepo: string;
  namespace: string;
  /** The commit HEAD was at when the bottle started: what `bottle diff` compares against. */
  base: string | null;
  /** The branch that was checked out (null: a detached HEAD). */
  branch: string | null;
  createdAt: string;
}

/** The folder of work records: `<state home>/work/<slug>.json`. */
export function workRecordDir(env: NodeJS.ProcessEnv = process.env, home?: string): string {
  return path.join(home === undefined ? stateHome(env) : stateHome(env, home), 'work');
}

/**
 * Settings every git command on the user's repo gets: nothing in the repo, nor anything the bottle
 * sent, runs code on the host. Hooks (all of them: reference-transaction and post-merge too), the
 * fsmonitor, external diff drivers and textconv are off, objects are checked as they arrive, and
 * the exchange repo (whose new files the bundle's git user wrote) is a safe directory.
 */
export const SAFE_GIT = [
  '-c', 'core.hooksPath=/dev/null',
  '-c', 'core.fsmonitor=false',
  '-c', 'diff.external=',
  '-c', 'transfer.fsckObjects=true',
  '-c', 'fetch.fsckObjects=true',
  '-c', 'safe.directory=*',
  '-c', 'core.pager=cat',
  '-c', 'protocol.file.allow=always',
] as const;

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** git with SAFE_GIT, no terminal prompt, no system or global config's GIT_* leaking in. */
export function safeGit(args: readonly string[], cwd: string, o: { stdin?: string; stdout?: 'pipe' | 'inherit' } = {}): Promise<GitResult> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GIT_')) env[k] = v;
  Object.assign(env, { GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat' });
  return new Promise((resolve) => {
    const child = spawn('git', [...SAFE_GIT, ...args], { cwd, env, stdio: [o.stdin === undefined ? 'ignore' : 'pipe', o.stdout === 'inherit' ? 'inherit' : 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (b: Buffer) => (out += b));
    child.stderr?.on('data', (b: Buffer) => (err += b));
    if (o.stdin !== undefined) child.stdin?.end(o.stdin);
    child.on('error', (e) => resolve({ code: 127, stdout: '', stderr: e.message }));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: out, stderr: err }));
  });
}

async function gitOk(args: readonly string[], cwd: string, what: string): Promise<string> {
  const r = await safeGit(args, cwd);
  if (r.code !== 0) throw new BottleError('WORKSPACE_FAILED', `${what} failed (git exited ${r.code})`, { details: [r.stderr.trim()].filter(Boolean) });
  return r.stdout;
}

/**
 * Before launch: the exchange repo, a bare clone of the host repo's branches and tags made on the
 * host (objects hard-linked where the file system allows; git's objects are never changed in
 * place), its folders writable by the bundle's git user; and the record of where the agent starts.
 */
export async function prepareWorkBack(plan: BottlePlan): Promise<WorkRecord> {
  const w = plan.workBack!;
  await rm(w.exchange, { recursive: true, force: true });
  await mkdir(path.dirname(w.exchange), { recursive: true, mode: 0o700 });
  await gitOk(['clone', '--quiet', '--bare', '--local', '--no-tags', '--', w.hostRepo, w.exchange], w.hostRepo, `cloning ${w.hostRepo} for the bottle`);
  await gitOk(['fetch', '--quiet', '--no-write-fetch-head', '--', w.hostRepo, '+refs/tags/*:refs/tags/*'], w.exchange, `copying the tags of ${w.hostRepo}`);
  // New files in it group- and world-writable (the bundle's git user is not the host user).
  await gitOk(['config', 'core.sharedRepository', '0777'], w.exchange, 'configuring the exchange repo');
  await gitOk(['config', 'receive.denyNonFastForwards', 'false'], w.exchange, 'configuring the exchange repo');
  await openDirs(w.exchange);
  const base = (await safeGit(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], w.hostRepo)).stdout.trim() || null;
  const branch = (await safeGit(['symbolic-ref', '--quiet', '--short', 'HEAD'], w.hostRepo)).stdout.trim() || null;
  const record: WorkRecord = { slug: plan.slug, hostRepo: w.hostRepo, namespace: w.namespace, base, branch, createdAt: plan.labels['bot-bottle.created'] ?? new Date().toISOString() };
  await mkdir(path.dirname(w.recordFile), { recursive: true, mode: 0o700 });
  await writeFile(`${w.recordFile}.tmp`, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  await rename(`${w.recordFile}.tmp`, w.recordFile);
  return record;
}

/** Every folder under `dir` (not the files: hard-linked objects are the host repo's own) mode 777. */
async function openDirs(dir: string): Promise<void> {
  await chmod(dir, 0o777);
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isDirectory()) await chmod(path.join(e.parentPath, e.name), 0o777);
}

/**
 * From inside the bottle, as the agent: every local branch of the workspace pushed to
 * `bottle/<slug>/<branch>` (forced: the namespace is the bottle's own). Output to stderr.
 */
export async function pushBottleBranches(plan: BottlePlan, target: Target): Promise<{ ok: boolean; detail: string }> {
  const w = plan.workBack!;
  const r = await target.exec(['git', '-C', plan.guest.workspace, '-c', 'core.hooksPath=/dev/null', 'push', '--quiet', '--force', '--no-verify', 'origin', `refs/heads/*:refs/heads/${w.namespace}/*`], {
    user: plan.guest.user,
    env: { HOME: plan.guest.home, USER: plan.guest.user },
    timeoutMs: 300_000,
  });
  return { ok: r.exitCode === 0, detail: (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ') };
}

/**
 * Copies the bottle's branches from the exchange repo into the host repo: `git fetch` with the
 * objects checked, only the bottle's namespace (a branch the bottle deleted goes too), no tags,
 * no FETCH_HEAD. The user's working tree, index, HEAD, config and other branches are not touched.
 */
export async function fetchBottleBranches(record: Pick<WorkRecord, 'hostRepo' | 'namespace'>, exchange: string): Promise<string[]> {
  if (!(await stat(path.join(exchange, 'HEAD')).catch(() => null))) return [];
  const spec = `+refs/heads/${record.namespace}/*:refs/heads/${record.namespace}/*`;
  await gitOk(['fetch', '--quiet', '--prune', '--no-tags', '--no-write-fetch-head', '--', exchange, spec], record.hostRepo, `copying the bottle's branches into ${record.hostRepo}`);
  return bottleBranches(record);
}

/** The bottle's branches in the host repo (short names under its namespace). */
export async function bottleBranches(record: Pick<WorkRecord, 'hostRepo' | 'namespace'>): Promise<string[]> {
  const out = await safeGit(['for-each-ref', '--format=%(refname)', `refs/heads/${record.namespace}/`], record.hostRepo);
  return out.stdout.split('\n').filter(Boolean).map((r) => r.slice(`refs/heads/${record.namespace}/`.length));
}

/**
 * At the end of a bottle: its branches pushed from inside (when it is still running), then copied
 * into the host repo. Never throws: what failed is returned for the caller to warn about.
 */
export async function bringWorkBack(plan: BottlePlan, target: Target | null): Promise<{ branches: string[]; problems: string[] }> {
  const problems: string[] = [];
  if (target) {
    const pushed = await pushBottleBranches(plan, target).catch((e: unknown) => ({ ok: false, detail: (e as Error).message }));
    if (!pushed.ok) problems.push(`pushing the bottle's branches to ${plan.workBack!.namespace}/* failed: ${pushed.detail}`);
  }
  try {
    return { branches: await fetchBottleBranches({ hostRepo: plan.workBack!.hostRepo, namespace: plan.workBack!.namespace }, plan.workBack!.exchange), problems };
  } catch (e) {
    problems.push((e as Error).message);
    return { branches: [], problems };
  }
}

export async function readWorkRecord(slug: string, env: NodeJS.ProcessEnv = process.env): Promise<WorkRecord> {
  const file = path.join(workRecordDir(env), `${slug}.json`);
  const text = await readFile(file, 'utf8').catch(() => null);
  if (text === null) {
    throw new BottleError('BOTTLE_NOT_FOUND', `no work of a bottle named ${JSON.stringify(slug.slice(0, 60))} is recorded`, {
      suggestions: ['A bottle has work to show when it was run with --copy-cwd in a git repo; `bottle ls` lists the bottles, `git branch --list "bottle/*"` their branches.'],
      exit: EXIT_USAGE,
    });
  }
  return JSON.parse(text) as WorkRecord;
}

/**
 * `bottle stop` (and `bottle gc` of an orphan whose container still runs): the bottle's branches
 * pushed from inside through `exec`, then copied into the host repo, before the bottle is removed.
 * `exec` runs a command in the bottle as the agent user and returns its exit code (its output
 * goes to stderr). Never throws; what failed is returned.
 */
export async function collectWork(slug: string, exec: ((argv: readonly string[]) => Promise<number>) | null, env: NodeJS.ProcessEnv = process.env): Promise<{ branches: string[]; problems: string[]; record: WorkRecord | null }> {
  const record = await readWorkRecord(slug, env).catch(() => null);
  if (!record) return { branches: [], problems: [], record: null };
  const problems: string[] = [];
  if (exec) {
    const push = `git -C /home/node/workspace -c core.hooksPath=/dev/null push --quiet --force --no-verify origin 'refs/heads/*:refs/heads/${record.namespace}/*' >&2`;
    const code = await exec(['sh', '-c', push]).catch(() => -1);
    if (code !== 0) problems.push(`pushing the bottle's branches to ${record.namespace}/* failed (exit ${code}); what it pushed before is kept`);
  }
  try {
    return { branches: await fetchBottleBranches(record, path.join(bottleStateDir(slug, env), 'work.git')), problems, record };
  } catch (e) {
    problems.push((e as Error).message);
    return { branches: [], problems, record };
  }
}
