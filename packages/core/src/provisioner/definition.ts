/**
 * The provisioner contract. A provisioner is a package that default-exports
 * `defineProvisioner({...})` and registers it with the CLI through the oclif hook
 * `bottle:provisioners`. It prepares a bottle through the Target contract only.
 */
import * as v from 'valibot';
import type { AgentEndpoints, Target } from '../backend.js';
import type { PlanView } from './view.js';

/**
 * The contract version this core speaks. The CLI refuses a definition declaring another, naming the
 * plugin and both versions; it changes only when a plugin written for the old one would break.
 */
export const PROVISIONER_API_VERSION = 1;

/** The oclif hook a plugin declares in package.json (`"oclif": {"hooks": {"bottle:provisioners": "./dist/register.js"}}`). */
export const PROVISIONER_HOOK = 'bottle:provisioners' as const;
/** The npm keyword provisioner packages carry, so people (and `npm search`) find them. */
export const PROVISIONER_KEYWORD = 'bottle-provisioner';

export interface ProvisionContext<Options = Record<string, unknown>> {
  /** What this provisioner may know of the launch (deep-frozen): no key paths, no secrets. */
  plan: PlanView;
  target: Target;
  endpoints: AgentEndpoints;
  /** The options the manifest gave this provisioner, validated by its `options` schema. */
  options: Options;
  /**
   * The host variables the definition lists in `hostEnv` that are set, and nothing else; never one the
   * bottle's routes inject as a credential. Frozen. Never copy a value from here into the bottle.
   */
  hostEnv: Readonly<Record<string, string>>;
  log(message: string): void;
  warn(message: string): void;
  signal: AbortSignal;
}

export interface ProvisionResult {
  /** Env the agent process should get (e.g. a file path the provisioner wrote). */
  env?: Record<string, string>;
  /**
   * Arguments to add to the agent's command line. They are the agent's own flags, so a provisioner
   * that is to work with every agent hands over `instructions` or `mcpServers` instead.
   */
  agentArgs?: string[];
  /** A guest file holding instructions for the agent (a prompt): the agent's definition says how its agent reads it. */
  instructions?: string;
  /** MCP servers the agent is to have, by name and URL: the agent's definition registers them its own way. */
  mcpServers?: { name: string; url: string }[];
}

export interface ProvisionerDefinition<Options = Record<string, unknown>> {
  apiVersion: typeof PROVISIONER_API_VERSION;
  /** The name agents list in `provisioners`; [a-z0-9_-], unique across installed packages. */
  name: string;
  description?: string;
  /** Provisioners that must run earlier in the agent's list when this one runs. */
  after?: readonly string[];
  /** A valibot schema for this provisioner's options (`{"name": ..., "options": {...}}` in the manifest). */
  options?: v.GenericSchema<unknown, Options>;
  /** The host environment variables `apply` reads (`ctx.hostEnv`); none when not given. */
  hostEnv?: readonly string[];
  apply(ctx: ProvisionContext<Options>): Promise<ProvisionResult | void>;
}

const REQUIRED_RULES: Record<string, string> = {
  apiVersion: `apiVersion must be ${PROVISIONER_API_VERSION}`,
  name: 'name must be 1-40 characters of a-z, 0-9, "-" or "_"',
  apply: 'apply must be a function',
};

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const DefinitionShape = v.object({
  apiVersion: v.literal(PROVISIONER_API_VERSION, REQUIRED_RULES.apiVersion),
  name: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, REQUIRED_RULES.name)),
  description: v.optional(v.string()),
  after: v.optional(v.array(v.string())),
  hostEnv: v.optional(v.array(v.pipe(v.string(), v.regex(ENV_NAME, 'each hostEnv entry must be the name of an environment variable (letters, digits and "_", not starting with a digit)')))),
  options: v.optional(v.custom<v.GenericSchema>((s) => typeof s === 'object' && s !== null && '~standard' in s, 'options must be a valibot schema')),
  apply: v.custom<(...args: unknown[]) => unknown>((f) => typeof f === 'function', REQUIRED_RULES.apply),
});

const DefinitionSchema = v.pipe(
  DefinitionShape,
  v.check((d) => !(d.after ?? []).includes(d.name), 'after must not name the provisioner itself'),
);

/** Checks a definition's shape and returns it; authors call this as their default export. */
export function defineProvisioner<Options = Record<string, unknown>>(definition: ProvisionerDefinition<Options>): ProvisionerDefinition<Options> {
  const r = v.safeParse(DefinitionSchema, definition);
  if (!r.success) {
    const lines = r.issues.map((i) => {
      const where = (i.path ?? []).map((p) => String(p.key)).join('.') || 'definition';
      const rule = REQUIRED_RULES[where];
      // valibot reports a missing key with its own generic text; say which rule the key follows.
      return i.input === undefined && rule ? `${where}: missing; ${rule}` : `${where}: ${i.message}`;
    });
    throw new TypeError(`invalid provisioner definition: ${lines.join('; ')}`);
  }
  return Object.freeze({ ...definition });
}

/** What the oclif hook hands back: the definitions a package provides. */
export type ProvisionerHookResult = ProvisionerDefinition<any> | readonly ProvisionerDefinition<any>[];

export interface RegisteredProvisioner {
  definition: ProvisionerDefinition<any>;
  packageName: string;
  packageVersion: string;
  /** Core plugins ship with the CLI; others were installed or linked by the user. */
  builtIn: boolean;
}
