/**
 * git: three independent passes, each a no-op when it does not apply.
 *  1. copy_cwd and the user's cwd is a git repo: its `.git` is copied to the guest workspace.
 *  2. The bottle declares git upstreams: a gitconfig rewrites each Upstream to its git-gate URL
 *     (`insteadOf`), staged on the host and installed as the agent user's ~/.gitconfig.
 *  3. The bottle declares git_user: `git config --global user.name/user.email` as the agent user.
 * The passes run in this order so that 3 edits the file 2 installed rather than being replaced by it.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  BottleError,
  defineProvisioner,
  type AgentEndpoints,
  type ExecOptions,
  type ExecResult,
  type PlanView,
  type ProvisionContext,
  type Target,
} from '@bot-bottle/core/provisioner';

async function run(target: Target, argv: readonly string[], options?: ExecOptions): Promise<void> {
  const r: ExecResult = await target.exec(argv, options);
  if (r.exitCode === 0) return;
  throw new BottleError('PROVISIONER_FAILED', `\`${argv.join(' ')}\` failed in ${target.description} (exit ${r.exitCode})`, {
    details: [r.stderr.trim() || r.stdout.trim()].filter(Boolean),
  });
}

/** Exec options that run a command as the agent user, with its HOME so `--global` means its ~/.gitconfig. */
export function asAgent(plan: PlanView): ExecOptions {
  return { user: plan.guest.user, env: { HOME: plan.guest.home, USER: plan.guest.user } };
}

/** A value as git-config writes it: quoted when it would otherwise be read differently. */
function configValue(s: string): string {
  return /^[^\s"\\;#]+$/.test(s) ? s : `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The gitconfig that sends every declared Upstream to git-gate; empty when there are none. */
export function gateGitconfig(plan: PlanView, endpoints: AgentEndpoints): string {
  return plan.repos
    .map((u) => {
      const gateUrl = `git://${endpoints.gitGateHost}/${u.name}.git`;
      return `[url "${gateUrl.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"]\n\tinsteadOf = ${configValue(u.upstream)}\n`;
    })
    .join('');
}

async function copyCwdGit(ctx: ProvisionContext): Promise<void> {
  const { plan, target } = ctx;
  const cwd = plan.host.copiedCwd;
  if (cwd === null) return;
  const hostGit = path.join(cwd, '.git');
  const st = await stat(hostGit).catch(() => null);
  if (!st) return;
  if (!st.isDirectory()) {
    // A worktree's or submodule's .git is a file pointing at a host path the guest cannot see.
    ctx.warn(`${hostGit} is a file (a git worktree or submodule), not a repository; the bottle's workspace gets no git history`);
    return;
  }
  const workspace = plan.guest.workspace;
  const guestGit = path.posix.join(workspace, '.git');
  await run(target, ['mkdir', '-p', workspace]);
  await target.copyIn(hostGit, guestGit);
  await run(target, ['chown', '-R', `${plan.guest.user}:${plan.guest.user}`, guestGit]);
}

async function installGateGitconfig(ctx: ProvisionContext): Promise<void> {
  const { plan, target, endpoints } = ctx;
  const upstreams = plan.repos;
  if (upstreams.length === 0) return;
  // The view holds the Upstream without its password; the flag says there was one to leak.
  const leaking = upstreams.filter((u) => u.passwordInUpstream);
  if (leaking.length) {
    throw new BottleError('PROVISIONER_FAILED', `git Upstream of ${leaking.map((u) => `"${u.name}"`).join(', ')} holds a password, which would be written into the bottle's gitconfig`, {
      suggestions: ['Remove the credential from the Upstream URL and give the entry an IdentityFile (or use an ssh:// URL); git-gate pushes with it and the bottle never sees it.'],
    });
  }
  await mkdir(plan.host.stageDir, { recursive: true, mode: 0o700 });
  // A fresh name per launch step; `wx` refuses to follow anything already there.
  const staged = path.join(plan.host.stageDir, `gitconfig-${randomBytes(6).toString('hex')}`);
  await writeFile(staged, gateGitconfig(plan, endpoints), { mode: 0o644, flag: 'wx' });
  const guestGitconfig = path.posix.join(plan.guest.home, '.gitconfig');
  // The staged file stays with the bottle's state (removed with it), as a record of what was installed.
  await target.copyIn(staged, guestGitconfig);
  // Owned by the agent so its own `git config --global` (and pass 3) can rewrite it.
  await run(target, ['chown', `${plan.guest.user}:${plan.guest.user}`, guestGitconfig]);
}

/**
 * --copy-cwd in a git repo: the workspace's origin becomes the host repo as git-gate serves it, and
 * a plain `git push` (or `git push origin BRANCH`) lands in the bottle's own namespace,
 * `bottle/<slug>/BRANCH`, the only place the gate takes pushes.
 */
async function pointOriginAtHostRepo(ctx: ProvisionContext): Promise<void> {
  const { plan, target, endpoints } = ctx;
  const w = plan.workBack;
  if (!w || plan.host.copiedCwd === null) return;
  const url = `git://${endpoints.gitGateHost}/${w.repo}.git`;
  const ws = plan.guest.workspace;
  const script = [
    'set -e',
    'git -C "$1" remote remove origin 2>/dev/null || true',
    'git -C "$1" remote add origin "$2"',
    'git -C "$1" config remote.origin.push "refs/heads/*:refs/heads/$3/*"',
    'git -C "$1" config push.default upstream',
  ].join('\n');
  await run(target, ['sh', '-c', script, 'sh', ws, url, w.namespace], asAgent(plan));
  ctx.log(`origin: the host repo through git-gate (${url}); pushes land in ${w.namespace}/*`);
}

async function applyGitUser(ctx: ProvisionContext): Promise<void> {
  const { plan, target } = ctx;
  const user = plan.gitUser;
  if (!user) return;
  for (const [key, value] of [['user.name', user.name], ['user.email', user.email]] as const) {
    if (!value) continue;
    await run(target, ['git', 'config', '--global', key, value], asAgent(plan));
  }
}

export default defineProvisioner({
  apiVersion: 1,
  name: 'git',
  description: "copies the cwd's .git, routes git upstreams through git-gate, sets the git user",
  async apply(ctx: ProvisionContext): Promise<void> {
    await copyCwdGit(ctx);
    await pointOriginAtHostRepo(ctx);
    await installGateGitconfig(ctx);
    await applyGitUser(ctx);
  },
});
