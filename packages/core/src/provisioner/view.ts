/**
 * What a provisioner sees of the launch: a narrow, deep-frozen view of the plan, made once per step.
 * The plan itself holds what only the CLI and the bundle may touch (the CA's private key, the
 * IdentityFile and KnownHosts paths git-gate pushes with, the names of the variables whose values the
 * gateway injects, the supervise queue); none of that is in the view. Host paths appear only where a
 * provisioner copies a file into the bottle from them, and each says which file it is.
 *
 * The view is a contract, not a sandbox: a plugin is code running in the CLI's process with the
 * user's rights. What the view leaves out, an honest plugin cannot copy into the bottle by mistake,
 * and what it holds is what the contract promises to keep from one release to the next.
 */
import type { AgentEndpoints } from '../backend.js';
import type { BottlePlan } from '../plan.js';
import { WORK_REPO_NAME } from '../work-back.js';

/** An egress route as a provisioner sees it: where the bottle may go, not which credential it gets. */
export interface RouteView {
  readonly host: string;
  readonly methods?: readonly string[];
  readonly paths?: readonly string[];
  readonly schemes?: readonly string[];
  readonly ports?: readonly number[];
  /** The origin the gateway connects to for this host, when it is not the host itself. */
  readonly to?: string;
  /** Whether the gateway adds a credential to this host's requests (which variable holds it is not shown). */
  readonly injectsCredential: boolean;
}

/** A git upstream the bottle reaches through git-gate as `git://<gitGateHost>/<name>.git`. */
export interface RepoView {
  readonly name: string;
  /** The Upstream as the manifest wrote it, with any password in it removed. */
  readonly upstream: string;
  /** The manifest's Upstream held a password (git-gate has its own credentials; the bottle must not get one). */
  readonly passwordInUpstream: boolean;
  readonly push: boolean;
  readonly protect: readonly string[];
}

/** A skill the agent lists, and where on the host it was looked for (the skills provisioner copies it in). */
export interface SkillView {
  readonly name: string;
  /** The host dir found at planning time, or the first place looked when none was. */
  readonly hostDir: string;
  readonly found: boolean;
  readonly searched: readonly string[];
}

export interface GuestView {
  /** The user the agent runs as (`node`), and its home. */
  readonly user: string;
  readonly home: string;
  /** Where the agent works (and where a copied cwd lands). */
  readonly workspace: string;
  readonly promptPath: string;
  /** Where the bottle's egress CA certificate is installed in the trust store. */
  readonly caPath: string;
  readonly skillsDir: string;
}

/** The host files and folders a provisioner may read or write to copy things into the bottle. None is a key or a secret. */
export interface HostView {
  /** The bottle's egress CA certificate (the certificate only: its key stays with the gateway). */
  readonly caCertPath: string;
  /** A folder of this bottle's state (mode 700, removed with it) for files a provisioner stages to copy in. */
  readonly stageDir: string;
  /** Where the prompt is staged on the host before it is copied in (in this bottle's state). */
  readonly promptFile: string;
  /** The user's working directory when the launch copies it into the bottle (copy_cwd), else null. */
  readonly copiedCwd: string | null;
}

/** `ctx.plan`: what a provisioner may know of the launch. Deep-frozen. */
export interface PlanView {
  readonly slug: string;
  readonly agentName: string;
  /** Which coding agent runs ("claude", "codex", ...): the agent's "cli". */
  readonly agentCli: string;
  readonly bottleName: string;
  /** The manifest's path, for messages that tell the user where to fix something. */
  readonly manifestPath: string;
  /**
   * --copy-cwd in a git repo: the host repo, served by git-gate as `<repo>.git`, is the workspace's
   * origin; the bottle may push only under `refs/heads/<namespace>/`.
   */
  readonly workBack: { readonly repo: string; readonly namespace: string } | null;
  readonly guest: GuestView;
  /** The agent's provisioners in run order, and this provisioner's index in that list. */
  readonly provisioners: readonly string[];
  readonly position: number;
  /** Where the bottle reaches its bundle (the same as `ctx.endpoints`). */
  readonly endpoints: AgentEndpoints;
  readonly routes: readonly RouteView[];
  readonly repos: readonly RepoView[];
  readonly gitUser: { readonly name?: string; readonly email?: string } | null;
  /** The agent's prompt text (empty when it has none). */
  readonly prompt: string;
  readonly skills: readonly SkillView[];
  /** Whether the bottle runs the supervise server (its queue is the host's, not the provisioner's). */
  readonly supervise: boolean;
  readonly host: HostView;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}

/** `upstream` without a password; unchanged when it has none or is not a URL (scp-like `user@host:path`). */
function withoutPassword(upstream: string): { upstream: string; passwordInUpstream: boolean } {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(upstream)) return { upstream, passwordInUpstream: false };
  try {
    const u = new URL(upstream);
    if (u.password === '') return { upstream, passwordInUpstream: false };
    u.password = '';
    return { upstream: u.href, passwordInUpstream: true };
  } catch {
    return { upstream, passwordInUpstream: false };
  }
}

const optionalList = <T>(key: string, list: readonly T[] | undefined): Record<string, readonly T[]> => (list ? { [key]: [...list] } : {});

/**
 * The view of `plan` for the provisioner at `position` in `provisioners` (the agent's list in run
 * order), copied out of the plan field by field so that nothing is added to the view by accident
 * when the plan grows.
 */
export function planView(plan: BottlePlan, endpoints: AgentEndpoints, provisioners: readonly string[], position: number): PlanView {
  const view: PlanView = {
    slug: plan.slug,
    agentName: plan.agentName,
    agentCli: plan.agent.cli,
    bottleName: plan.bottleName,
    manifestPath: plan.manifestPath,
    guest: {
      user: plan.guest.user,
      home: plan.guest.home,
      workspace: plan.guest.workspace,
      promptPath: plan.guest.promptPath,
      caPath: plan.guest.caPath,
      skillsDir: plan.guest.skillsDir,
    },
    provisioners: [...provisioners],
    position,
    endpoints: { proxyUrl: endpoints.proxyUrl, gitGateHost: endpoints.gitGateHost, superviseUrl: endpoints.superviseUrl },
    routes: plan.egress.routes.map((r) => ({
      host: r.host,
      ...optionalList('methods', r.methods),
      ...optionalList('paths', r.paths),
      ...optionalList('schemes', r.schemes),
      ...optionalList('ports', r.ports),
      ...(r.to === undefined ? {} : { to: r.to }),
      injectsCredential: r.auth !== undefined,
    })),
    workBack: plan.workBack ? { repo: WORK_REPO_NAME, namespace: plan.workBack.namespace } : null,
    repos: plan.gitGate.upstreams.filter((u) => !u.only).map((u) => ({ name: u.name, ...withoutPassword(u.upstream), push: u.push, protect: [...u.protect] })),
    gitUser: plan.gitUser ? { ...(plan.gitUser.name ? { name: plan.gitUser.name } : {}), ...(plan.gitUser.email ? { email: plan.gitUser.email } : {}) } : null,
    prompt: plan.prompt,
    skills: plan.skills.map((s) => ({ name: s.name, hostDir: s.hostDir, found: s.found, searched: [...s.searched] })),
    supervise: plan.supervise !== null,
    host: {
      caCertPath: plan.egress.caCertPath,
      stageDir: plan.stageDir,
      promptFile: plan.promptFile,
      copiedCwd: plan.copyCwd ? plan.userCwd : null,
    },
  };
  return deepFreeze(view);
}

/**
 * `ctx.hostEnv` for a provisioner: only the variables its definition lists in `hostEnv` that are set,
 * and never one the bottle's routes name as a credential (the gateway's alone, whatever a plugin
 * asks for). Frozen.
 */
export function provisionerHostEnv(requested: readonly string[] | undefined, hostEnv: NodeJS.ProcessEnv, plan: Pick<BottlePlan, 'egress'>): Readonly<Record<string, string>> {
  const secrets = new Set(plan.egress.secretEnv);
  const out: Record<string, string> = {};
  for (const name of requested ?? []) {
    if (secrets.has(name) || !Object.hasOwn(hostEnv, name)) continue;
    const value = hostEnv[name];
    if (value !== undefined) out[name] = value;
  }
  return Object.freeze(out);
}
