/**
 * The agent contract. An agent (Claude Code, Codex, Gemini CLI, OpenCode, or a plugin's) is a
 * package whose oclif hook `bottle:agents` hands the CLI a `defineAgent({...})`. The definition says
 * how the agent is installed into the bottle's image, how it starts (interactive or one-shot), how
 * it is given a prompt file and MCP servers, which API hosts it calls with which credential header,
 * the env that keeps it from phoning anywhere else, and how its own permission prompts are turned
 * off (the bottle is the sandbox) or back on. Provisioners never name an agent: they hand the
 * session instructions and MCP servers, and the agent's definition turns those into its own files
 * and flags.
 */
import type { ExecResult, Target } from '../backend.js';

/** The contract version this core speaks; the CLI refuses a definition declaring another. */
export const AGENT_API_VERSION = 1;
/** The oclif hook an agent plugin declares in package.json. */
export const AGENT_HOOK = 'bottle:agents' as const;
/** The npm keyword agent packages carry. */
export const AGENT_KEYWORD = 'bottle-agent';
/** The agent a manifest gets when it names none (`"cli"` on an agent). */
export const DEFAULT_AGENT_CLI = 'claude';

/**
 * How the agent gets into the bottle's image. `npm`: `npm install -g NAME@VERSION` in bot-bottle's
 * agent image (the version is pinned: it is part of the image's tag); `dir`: a folder the plugin
 * ships (an absolute host path), copied in whole. `bin` is the command put on PATH: for npm, the
 * package's bin of that name; for dir, a path inside the folder. A bin that is a script runs with
 * bot-bottle's own Node, never the image's.
 */
export type AgentInstall = { npm: string; version: string; bin: string } | { dir: string; bin: string };

/** An API host the agent calls and the credential the gateway injects there (what `bottle init --agent` writes). */
export interface AgentCredential {
  host: string;
  /** The request header the credential goes in (`x-api-key`, `authorization`, `x-goog-api-key`). */
  header: string;
  /** The header value with `{value}` for the credential, when it is not the bare value ("Bearer {value}"). */
  format?: string;
  /** The host env var that holds it; the bottle holds only a placeholder of the same name. */
  env: string;
}

export interface AgentGuest {
  user: string;
  home: string;
  workspace: string;
}

export interface McpServer {
  /** The server's name in the agent's config ([a-z0-9_-]). */
  name: string;
  /** Its streamable-HTTP URL as the bottle reaches it (loopback). */
  url: string;
}

export interface AgentConfigureContext {
  target: Target;
  guest: AgentGuest;
  /** A file in the guest holding the agent's prompt (the manifest's "prompt"), or null when there is none. */
  instructions: string | null;
  /** MCP servers the provisioners want the agent to have (supervise's, ...). */
  mcpServers: readonly McpServer[];
  /** True when the manifest turns the agent's own permission prompts back on ("permissionPrompts": true). */
  permissionPrompts: boolean;
  /** The env the agent runs with (proxy, CA, the definition's own env): for commands of the agent's CLI. */
  env: Readonly<Record<string, string>>;
  /** Writes a file in the guest as the agent user (mode 600, parent dirs made as that user). */
  writeFile(guestPath: string, content: string): Promise<void>;
  /** Copies a guest file (the instructions file, say) to another guest path, as writeFile writes. */
  copyFile(from: string, to: string): Promise<void>;
  /** Runs a command in the guest as the agent user, in the workspace, with `env`. */
  exec(argv: readonly string[]): Promise<ExecResult>;
  log(message: string): void;
  warn(message: string): void;
  signal: AbortSignal;
}

export interface AgentConfigured {
  /** Arguments for the agent's command line (given to `command` as `args`). */
  args?: string[];
  /** Env for the agent process. */
  env?: Record<string, string>;
}

export interface AgentLaunch {
  /** interactive: the agent's own terminal UI; headless: one prompt, the answer on stdout, then exit. */
  mode: 'interactive' | 'headless';
  /** The prompt, in headless mode. */
  prompt?: string;
  permissionPrompts: boolean;
  /** What `configure` returned (and provisioners' agentArgs). */
  args: readonly string[];
}

export interface AgentDefinition {
  apiVersion: typeof AGENT_API_VERSION;
  /** The name a manifest's `"cli"` gives: [a-z][a-z0-9-]. */
  name: string;
  /** One line for `bottle plan` and lists ("OpenAI Codex CLI"). */
  description: string;
  install: AgentInstall;
  /** Its API hosts and credentials; the first is the one `bottle init --agent NAME` routes. */
  credentials: readonly AgentCredential[];
  /** Env the agent always gets: telemetry, update checks and anything else that phones out, off. */
  env?: Readonly<Record<string, string>>;
  /** Where its skills go in the guest (absolute); none: the agent has no skills, and listing one is refused. */
  skillsDir?: string;
  /** Turns instructions, MCP servers and the autonomy choice into the agent's own config files and flags. */
  configure(ctx: AgentConfigureContext): Promise<AgentConfigured | void>;
  /** The command that starts the agent. */
  command(launch: AgentLaunch): string[];
}

const NAME = /^[a-z][a-z0-9-]{0,39}$/;

/** Why a definition cannot be used, or null. Checked by shape: a plugin carries its own copy of core. */
export function agentDefinitionProblem(d: unknown): string | null {
  if (typeof d !== 'object' || d === null) return 'an agent definition is an object (defineAgent({...}))';
  const a = d as Partial<AgentDefinition>;
  if (a.apiVersion !== AGENT_API_VERSION) return `apiVersion must be ${AGENT_API_VERSION} (it is ${JSON.stringify(a.apiVersion)?.slice(0, 20)})`;
  if (typeof a.name !== 'string' || !NAME.test(a.name)) return `name ${JSON.stringify(a.name)?.slice(0, 50)} is not 1-40 characters of a-z, 0-9 or "-", starting with a letter`;
  if (typeof a.description !== 'string') return 'description must be a string';
  const i = a.install as Record<string, unknown> | undefined;
  if (typeof i !== 'object' || i === null) return 'install must be {npm, version, bin} or {dir, bin}';
  if (typeof i.bin !== 'string' || !/^[A-Za-z0-9._/-]{1,200}$/.test(i.bin) || i.bin.split('/').includes('..')) return 'install.bin must be a command name or a relative path (letters, digits, ".", "_", "-", "/")';
  if ('npm' in i) {
    if (typeof i.npm !== 'string' || !/^(@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/.test(i.npm)) return 'install.npm must be an npm package name';
    if (typeof i.version !== 'string' || !/^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/.test(i.version)) return 'install.version must be an exact version (1.2.3): it is part of the image tag';
  } else if ('dir' in i) {
    if (typeof i.dir !== 'string' || !i.dir.startsWith('/')) return 'install.dir must be an absolute path (the folder the plugin ships)';
  } else return 'install must be {npm, version, bin} or {dir, bin}';
  if (!Array.isArray(a.credentials)) return 'credentials must be an array of {host, header, env, format?}';
  for (const c of a.credentials as unknown[]) {
    const x = c as Partial<AgentCredential>;
    if (typeof x?.host !== 'string' || typeof x.header !== 'string' || typeof x.env !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(x.env)) return 'each credential is {host, header, env, format?} (env an environment variable name)';
    if (x.format !== undefined && (typeof x.format !== 'string' || !x.format.includes('{value}'))) return 'a credential format must contain {value}';
  }
  if (a.env !== undefined) {
    if (typeof a.env !== 'object' || a.env === null) return 'env must be an object of strings';
    for (const [k, val] of Object.entries(a.env)) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || typeof val !== 'string') return `env.${k.slice(0, 40)} must be a variable name with a string value`;
  }
  if (a.skillsDir !== undefined && (typeof a.skillsDir !== 'string' || !a.skillsDir.startsWith('/'))) return 'skillsDir must be an absolute guest path';
  if (typeof a.configure !== 'function') return 'configure must be a function';
  if (typeof a.command !== 'function') return 'command must be a function';
  return null;
}

/** Checks a definition's shape and returns it frozen; authors call this as their default export. */
export function defineAgent(definition: AgentDefinition): AgentDefinition {
  const problem = agentDefinitionProblem(definition);
  if (problem) throw new TypeError(`invalid agent definition: ${problem}`);
  return Object.freeze({ ...definition });
}

/** The install as the image tag and `bottle plan` name it: `@openai/codex@0.169.0`, or the folder. */
export function describeInstall(install: AgentInstall): string {
  return 'npm' in install ? `${install.npm}@${install.version}` : install.dir;
}
