/**
 * The plan: everything about a launch resolved before anything starts. One shape serves every
 * backend; a backend may add its own part under `backendPlan`. Making a plan has no side effects.
 */
import { DEFAULT_BACKEND } from './backends.js';
import { expandPresets, type PresetUse } from './presets.js';
import { LABEL, LABEL_AGENT, LABEL_BACKEND, LABEL_CREATED, LABEL_SLUG } from './labels.js';
import { createHash, randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { BottleError, EXIT_USAGE } from './errors.js';
import {
  DEFAULT_PROVISIONERS,
  formatPath,
  missingLaunchEnv,
  resolveBottleImage,
  resolveManifestPath,
  type EgressRoute,
  type ImagePlan,
  type GitUser,
  type LoadedManifest,
} from './manifest/index.js';
import type { AgentEndpoints } from './backend.js';
import { DEFAULT_AGENT_CLI, describeInstall, type AgentDefinition, type AgentInstall } from './agent/definition.js';
import { hostResources, resolveLimits, type HostResources, type LimitsPlan } from './limits.js';
import { AUDIT_LOG_NAME, BUNDLE_SERVICES } from './services.js';
import { BUNDLE_WORK_REPO, DEFAULT_MAX_BRANCHES, DEFAULT_MAX_PUSH_MIB, WORK_REPO_NAME, workRecordDir, type WorkBackPlan } from './work-back.js';

/** What the user asked for: which agent, from which manifest, and whether to bring the cwd along. */
export interface BottleSpec {
  manifest: LoadedManifest;
  agentName: string;
  copyCwd: boolean;
  userCwd: string;
}

export const GUEST_USER = 'node';
export const GUEST_HOME = '/home/node';
export const GUEST_WORKSPACE = '/home/node/workspace';
export const GUEST_PROMPT_PATH = '/home/node/.claude-bottle-prompt.txt';
/** The bundle every TLS client in the bottle can read: the system store, the gateway's CA alone in it. */
export const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
export const GUEST_CA_PATH = '/usr/local/share/ca-certificates/bot-bottle-egress-ca.crt';
export const GUEST_SKILLS_DIR = '/home/node/.claude/skills';
/** NO_PROXY in the bottle: its own loopback only (names and addresses clients compare literally). */
export const GUEST_NO_PROXY = 'localhost,127.0.0.1,::1';
/** The value the bottle holds in a routed secret's env var, so clients start; the gateway sets the real one. */
export const SECRET_PLACEHOLDER = 'bot-bottle-placeholder-the-gateway-injects-the-real-value';

export interface EgressPlan {
  /** The manifest's routes, then those its presets expand to (a manifest route for the same host is found first). */
  routes: EgressRoute[];
  /** The presets the routes came from, as the manifest named them. */
  presets: PresetUse[];
  /** Env vars on the host whose values the gateway injects; never passed to the bottle. */
  secretEnv: string[];
  /** Per-bottle CA, made at launch on the host (key mode 600, never copied into the bottle). */
  caCertPath: string;
  caKeyPath: string;
  /** Append-only JSONL, one line per request and decision. */
  auditLogPath: string;
  port: number;
}

export interface GitGateUpstream {
  name: string;
  upstream: string;
  /** Absolute host path, mounted read-only into the bundle only. */
  identityFile: string | null;
  knownHosts: string | null;
  push: boolean;
  protect: string[];
  /** Namespaces the bottle may push beyond refs/heads/ and refs/tags/ (the entry's `refs`). */
  refs: string[];
  /** When given, the only refs the bottle may push (full-ref patterns): the host repo's branch per bottle. */
  only?: string[];
  /** The largest pack one push may send (git's receive.maxInputSize). */
  maxPushBytes?: number;
  /** The most refs one push may update. */
  maxRefsPerPush?: number;
}

export interface GitGatePlan {
  upstreams: GitGateUpstream[];
  port: number;
}

/**
 * The supervise queue on the host (see @bot-bottle/supervise): the bundle writes the agent's
 * requests into `queueDir`; the host writes decisions and the routes in force into `decisionsDir`,
 * which the bundle only reads.
 */
export interface SupervisePlan {
  queueDir: string;
  decisionsDir: string;
  port: number;
  /**
   * The host env vars a request may ask the gateway to inject (`"supervise": {"credentials": [...]}`;
   * none for `"supervise": true`). The bundle's server refuses a request for any other, and the host
   * checks again at approval from this plan, not from anything the bundle wrote.
   */
  credentials: string[];
}

export interface SkillPlan {
  name: string;
  /** Absolute host dir, or the first place looked when none exists (the skills provisioner fails then). */
  hostDir: string;
  found: boolean;
  searched: string[];
}

/** The coding agent that runs in the bottle (the agent's "cli"), as its definition says. */
export interface AgentPlan {
  cli: string;
  description: string;
  /** The plugin package that defines it; null when the plan was made without a definition. */
  package: string | null;
  /** How it is installed into the image; null: bot-bottle's default agent image (Claude Code). */
  install: AgentInstall | null;
  /** `@openai/codex@0.169.0`, or the folder a plugin ships; the default image's when install is null. */
  installed: string;
  /** The agent's own permission prompts are on (the manifest's "permissionPrompts"); off by default. */
  permissionPrompts: boolean;
  /** Whether the agent takes skills (its definition has a skills dir). */
  skills: boolean;
}

export interface ProvisionerStep {
  name: string;
  options: Record<string, unknown>;
}

export interface BottlePlan {
  planVersion: 1;
  slug: string;
  agentName: string;
  bottleName: string;
  manifestPath: string;
  agent: AgentPlan;
  copyCwd: boolean;
  userCwd: string;
  stateDir: string;
  stageDir: string;
  promptFile: string;
  prompt: string;
  guest: { user: string; home: string; workspace: string; promptPath: string; caPath: string; skillsDir: string };
  /** Env every agent process gets, before the backend adds its endpoints. */
  guestEnv: Record<string, string>;
  provisioners: ProvisionerStep[];
  skills: SkillPlan[];
  gitUser: GitUser | null;
  egress: EgressPlan;
  gitGate: GitGatePlan;
  supervise: SupervisePlan | null;
  /** Memory, CPU and process limits of the bottle (from the manifest's `limits` or defaults) and of its bundle (fixed). */
  limits: LimitsPlan;
  /** Labels put on everything the backend creates, so `ls` and `gc` find it. */
  labels: Record<string, string>;
  /** Launch problems found while planning (e.g. a route's env var is unset): `run` refuses, `plan` reports. */
  launchProblems: string[];
  /** Shell commands run as the agent user in the workspace after provisioning, before the agent: the bottle's, then the agent's. */
  setup: string[];
  /** The backend that runs the bottle, and what chose it (--backend, BOT_BOTTLE_BACKEND, the bottle's "backend" key, the default). */
  backend: { name: string; source: string };
  /** The image the bottle runs (bot-bottle's agent layer on top of it), and where it comes from: the bottle's "image", or the default. */
  image: ImagePlan;
  /** --copy-cwd in a git repo: the host repo served as the bottle's origin, its work coming back as bottle/<slug>/* branches. */
  workBack: WorkBackPlan | null;
  backendPlan?: Record<string, unknown>;
}

export interface PlanOptions {
  env?: NodeJS.ProcessEnv;
  home?: string;
  /** Makes the slug deterministic (tests, reproducible plans). */
  seed?: string;
  /** Creation time recorded in labels; defaults to now. */
  now?: Date;
  /** The backend chosen for the launch (the CLI's chooseBackend); default: the bottle's "backend" key, else docker. */
  backend?: string;
  /** What chose `backend` ("flag", "BOT_BOTTLE_BACKEND", ...), for `bottle plan`. */
  backendSource?: string;
  /** The machine the bottle's default limits are computed from; defaults to this host. */
  host?: HostResources;
  /**
   * The definition of the agent's "cli" (the CLI looks it up among the installed agents). Without
   * it only the default, claude, can be planned, with bot-bottle's default agent image.
   */
  agent?: { definition: AgentDefinition; packageName?: string };
}

const SLUG_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function slugSuffix(seed?: string): string {
  const bytes = seed === undefined ? randomBytes(5) : createHash('sha256').update(seed).digest().subarray(0, 5);
  return Array.from(bytes, (b) => SLUG_ALPHABET[b % SLUG_ALPHABET.length]).join('');
}

export const SLUG_PATTERN = /^[a-z0-9][a-z0-9_-]{0,39}-[a-z0-9]{5}$/;

export function stateHome(env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  const xdg = env.XDG_STATE_HOME;
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(home, '.local', 'state'), 'bot-bottle');
}

export function bottleStateDir(slug: string, env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  return path.join(stateHome(env, home), 'bottles', slug);
}

/** Guest skills dir: BOT_BOTTLE_GUEST_SKILLS_DIR, then the original's CLAUDE_BOTTLE_GUEST_SKILLS_DIR. */
export function guestSkillsDir(env: NodeJS.ProcessEnv = process.env, agentDir?: string): string {
  return env.BOT_BOTTLE_GUEST_SKILLS_DIR || env.CLAUDE_BOTTLE_GUEST_SKILLS_DIR || agentDir || GUEST_SKILLS_DIR;
}

/** A skill's host dir: `skills/<name>` beside the manifest, then `~/.claude/skills/<name>`. */
export function skillSearchPath(name: string, manifestDir: string, home = homedir()): string[] {
  return [path.join(manifestDir, 'skills', name), path.join(home, '.claude', 'skills', name)];
}

export function makePlan(spec: BottleSpec, options: PlanOptions & { existingDirs?: (p: string) => boolean } = {}): BottlePlan {
  const env = options.env ?? process.env;
  const home = options.home ?? homedir();
  const { manifest, baseDir, source } = spec.manifest;
  const agent = Object.hasOwn(manifest.agents, spec.agentName) ? manifest.agents[spec.agentName] : undefined;
  if (!agent) {
    const names = Object.keys(manifest.agents);
    throw new BottleError('AGENT_NOT_FOUND', `agent "${spec.agentName}" is not defined in ${source}`, {
      details: [names.length ? `the agents are: ${names.join(', ')}` : 'no agents are defined'],
      suggestions: [names.length ? `Use one of: ${names.join(', ')}` : 'Add an agent under "agents" in the manifest.'],
      exit: EXIT_USAGE,
    });
  }
  const bottle = manifest.bottles[agent.bottle];
  if (!bottle) throw new BottleError('INTERNAL', `agent "${spec.agentName}" names bottle "${agent.bottle}", which validation should have refused`);
  // Read again here (a devcontainer.json may have changed since validation): a problem stops the plan.
  const image = resolveBottleImage(agent.bottle, bottle.image, baseDir, home);
  if (image.problems.length) {
    throw new BottleError('MANIFEST_INVALID', `${source} is not a valid manifest`, { details: image.problems, suggestions: ['Fix each key named above.'], exit: EXIT_USAGE });
  }

  const slug = `${spec.agentName}-${slugSuffix(options.seed)}`;
  const stateDir = bottleStateDir(slug, env, home);
  const stageDir = path.join(stateDir, 'stage');
  const secretEnv = [...new Set((bottle.egress?.routes ?? []).flatMap((r) => (r.auth ? [r.auth.env] : [])))];
  const guestEnv: Record<string, string> = {
    HOME: GUEST_HOME,
    USER: GUEST_USER,
    NODE_EXTRA_CA_CERTS: GUEST_CA_PATH,
    // Node's own fetch and http ignore HTTPS_PROXY unless told; without it they have no way out.
    NODE_USE_ENV_PROXY: '1',
    // Package managers that carry their own CA list (pip's certifi, Python's requests) are pointed
    // at the system bundle, which the ca provisioner fills with the gateway's CA alone; curl, git,
    // cargo and go read that bundle already. With the proxy variables, no client needs configuring.
    PIP_CERT: SYSTEM_CA_BUNDLE,
    REQUESTS_CA_BUNDLE: SYSTEM_CA_BUNDLE,
  };
  const cli = agent.cli ?? DEFAULT_AGENT_CLI;
  const definition = options.agent?.definition;
  if (definition && definition.name !== cli) throw new BottleError('INTERNAL', `the plan for agent "${spec.agentName}" was given the definition of "${definition.name}", not of its cli "${cli}"`);
  if (!definition && cli !== DEFAULT_AGENT_CLI) {
    throw new BottleError('AGENT_UNKNOWN', `agent "${spec.agentName}" runs "${cli}", which cannot be planned without its definition`, { exit: EXIT_USAGE });
  }
  const agentPlan: AgentPlan = {
    cli,
    description: definition?.description ?? 'Claude Code',
    package: options.agent?.packageName ?? null,
    install: definition ? definition.install : null,
    installed: definition ? describeInstall(definition.install) : 'bot-bottle\'s default agent image',
    permissionPrompts: agent.permissionPrompts ?? false,
    skills: definition ? definition.skillsDir !== undefined : true,
  };
  // The agent's own env (telemetry and update checks off) first: nothing of it may replace a
  // placeholder or the CA and proxy settings below.
  Object.assign(guestEnv, { ...definition?.env, ...guestEnv });
  for (const name of secretEnv) guestEnv[name] = SECRET_PLACEHOLDER;

  const exists = options.existingDirs ?? ((p: string) => statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false);
  const skills: SkillPlan[] = (agent.skills ?? []).map((name) => {
    const searched = skillSearchPath(name, baseDir, home);
    const hit = searched.find((p) => exists(p));
    return { name, hostDir: hit ?? searched[0]!, found: hit !== undefined, searched };
  });

  const missing = new Set(missingLaunchEnv(bottle, env));
  const launchProblems: string[] = [];
  if (skills.length && !agentPlan.skills) {
    launchProblems.push(`${formatPath(['agents', spec.agentName, 'skills'])}: ${cli} (${agentPlan.description}) takes no skills; remove them, or run this agent with a cli that does`);
  }
  for (const [i, route] of (bottle.egress?.routes ?? []).entries()) {
    const name = route.auth?.env;
    if (name === undefined || !missing.has(name)) continue;
    missing.delete(name); // one line per variable, at the first route that needs it
    launchProblems.push(
      `${formatPath(['bottles', agent.bottle, 'egress', 'routes', i, 'auth', 'env'])}: env var ${name} is not set; export it before \`bottle run\` (the gateway injects it for ${route.host}; the bottle never sees it)`,
    );
  }
  const unusable = new Set<string>();
  for (const [i, route] of (bottle.egress?.routes ?? []).entries()) {
    const name = route.auth?.env;
    const value = name === undefined ? undefined : env[name];
    if (name === undefined || !value || unusable.has(name)) continue;
    // The gateway refuses such a value at start: a short one cannot be told apart in what comes
    // back (DLP and the redactor would not look for it), a line break would end the header early.
    const why = value.length < 8 ? 'is shorter than 8 characters (too short to be kept out of what comes back)' : /[^\t\x20-\x7e\x80-\xff]/.test(value) ? 'holds a line break or a control character' : null;
    if (!why) continue;
    unusable.add(name);
    launchProblems.push(`${formatPath(['bottles', agent.bottle, 'egress', 'routes', i, 'auth', 'env'])}: the value of ${name} ${why}; set it to the credential itself, on one line`);
  }

  const copyCwd = spec.copyCwd || (agent.copyCwd !== undefined && agent.copyCwd !== false);
  const copyOptions = typeof agent.copyCwd === 'object' ? agent.copyCwd : {};
  const isRepo = copyCwd && (statSync(path.join(spec.userCwd, '.git'), { throwIfNoEntry: false })?.isDirectory() ?? false);
  const workBack: WorkBackPlan | null = isRepo
    ? {
        hostRepo: spec.userCwd,
        exchange: path.join(stateDir, 'work.git'),
        namespace: `bottle/${slug}`,
        maxPushBytes: (copyOptions.maxPushMiB ?? DEFAULT_MAX_PUSH_MIB) * 2 ** 20,
        maxBranches: copyOptions.maxBranches ?? DEFAULT_MAX_BRANCHES,
        recordFile: path.join(workRecordDir(env, home), `${slug}.json`),
      }
    : null;
  if (workBack && (bottle.git ?? []).some((g) => g.Name === WORK_REPO_NAME)) {
    throw new BottleError('MANIFEST_INVALID', `bottle "${agent.bottle}" declares a git entry named "${WORK_REPO_NAME}", the name --copy-cwd gives the host repo`, {
      suggestions: [`Rename that git entry (its "Name"), or run without --copy-cwd.`],
      exit: EXIT_USAGE,
    });
  }

  const presets: PresetUse[] = (bottle.egress?.presets ?? []).map((p) => (typeof p === 'string' ? { name: p } : { name: p.name, ...(p.to ? { to: p.to } : {}) }));
  const createdAt = (options.now ?? new Date()).toISOString();
  const backend = options.backend
    ? { name: options.backend, source: options.backendSource ?? 'flag' }
    : bottle.backend
      ? { name: bottle.backend, source: 'manifest' }
      : { name: DEFAULT_BACKEND, source: 'default' };
  return {
    planVersion: 1,
    slug,
    agentName: spec.agentName,
    bottleName: agent.bottle,
    manifestPath: source,
    agent: agentPlan,
    copyCwd,
    userCwd: spec.userCwd,
    stateDir,
    stageDir,
    promptFile: path.join(stateDir, 'agent', 'prompt.txt'),
    prompt: agent.prompt ?? '',
    guest: {
      user: GUEST_USER,
      home: GUEST_HOME,
      workspace: GUEST_WORKSPACE,
      promptPath: GUEST_PROMPT_PATH,
      caPath: GUEST_CA_PATH,
      skillsDir: guestSkillsDir(env, definition?.skillsDir),
    },
    guestEnv,
    provisioners: (agent.provisioners ?? [...DEFAULT_PROVISIONERS]).map((ref) =>
      typeof ref === 'string' ? { name: ref, options: {} } : { name: ref.name, options: ref.options ?? {} },
    ),
    skills,
    gitUser: bottle.git_user && (bottle.git_user.name || bottle.git_user.email) ? bottle.git_user : null,
    egress: {
      routes: [...(bottle.egress?.routes ?? []), ...expandPresets(presets)],
      presets,
      secretEnv,
      caCertPath: path.join(stateDir, 'egress', 'ca.crt'),
      caKeyPath: path.join(stateDir, 'egress', 'ca.key'),
      auditLogPath: path.join(stateDir, 'log', AUDIT_LOG_NAME),
      port: BUNDLE_SERVICES.egress.port,
    },
    gitGate: {
      upstreams: [
        ...(bottle.git ?? []).map((g) => ({
          name: g.Name,
          upstream: g.Upstream,
          identityFile: g.IdentityFile ? resolveManifestPath(g.IdentityFile, baseDir, home) : null,
          knownHosts: g.KnownHosts ? resolveManifestPath(g.KnownHosts, baseDir, home) : null,
          push: g.push ?? true,
          protect: g.protect ?? [],
          refs: g.refs ?? [],
        })),
        // The host repo's exchange copy, as the bundle mounts it: pushes only under bottle/<slug>/.
        ...(workBack
          ? [{ name: WORK_REPO_NAME, upstream: `file://${BUNDLE_WORK_REPO}`, identityFile: null, knownHosts: null, push: true, protect: [], refs: [], only: [`refs/heads/${workBack.namespace}/*`], maxPushBytes: workBack.maxPushBytes, maxRefsPerPush: workBack.maxBranches }]
          : []),
      ],
      port: BUNDLE_SERVICES.git.port,
    },
    supervise: bottle.supervise
      ? {
          queueDir: path.join(stateDir, 'supervise', 'queue'),
          decisionsDir: path.join(stateDir, 'supervise', 'decisions'),
          port: BUNDLE_SERVICES.supervise.port,
          credentials: bottle.supervise === true ? [] : [...new Set(bottle.supervise.credentials ?? [])],
        }
      : null,
    limits: resolveLimits(bottle.limits ?? {}, options.host ?? hostResources()),
    labels: {
      [LABEL]: '1',
      [LABEL_SLUG]: slug,
      [LABEL_AGENT]: spec.agentName,
      [LABEL_CREATED]: createdAt,
      [LABEL_BACKEND]: backend.name,
    },
    launchProblems,
    setup: [...(bottle.setup ?? []), ...(agent.setup ?? [])],
    backend,
    image: image.plan,
    workBack,
  };
}

/** The env every agent process gets: the plan's guest env plus the bundle endpoints the backend found. */
export function agentEnv(plan: BottlePlan, endpoints: AgentEndpoints): Record<string, string> {
  const proxy = endpoints.proxyUrl;
  return {
    ...plan.guestEnv,
    HTTP_PROXY: proxy,
    HTTPS_PROXY: proxy,
    http_proxy: proxy,
    https_proxy: proxy,
    // Only the bottle's own loopback bypasses the gateway: the bundle's services (the supervise MCP
    // server at 127.0.0.1:9100) and whatever the agent runs itself. The bottle has no network, so
    // loopback leads nowhere else; every other name still goes to the gateway.
    NO_PROXY: GUEST_NO_PROXY,
    no_proxy: GUEST_NO_PROXY,
  };
}
