/**
 * Applies an agent's provisioners one at a time in the order the manifest declares, after checking
 * that every name is installed, every `after` is honoured and every options object is valid.
 * The first failure stops the run and names the provisioner and why.
 */
import * as v from 'valibot';
import { BottleError, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, isBottleError } from './errors.js';
import type { AgentEndpoints, Target } from './backend.js';
import type { BottlePlan, ProvisionerStep } from './plan.js';
import type { ProvisionResult, ProvisionerDefinition } from './provisioner/definition.js';
import { planView, provisionerHostEnv } from './provisioner/view.js';
import type { ProvisionerRegistry } from './registry.js';

export interface ResolvedStep {
  definition: ProvisionerDefinition<any>;
  options: unknown;
  packageName: string;
}

/** Checks names, `after` and options before anything starts; throws the first problem with its fix. */
export function resolveSteps(steps: readonly ProvisionerStep[], registry: ProvisionerRegistry, where = 'provisioners'): ResolvedStep[] {
  const checked = checkSteps(steps, registry, where);
  if (checked.problems[0]) throw checked.problems[0];
  return checked.resolved;
}

/**
 * Every problem with an agent's provisioner list against the installed registry, in list order
 * (a step's name, then its `after`, then its options): what `resolveSteps` refuses, all at once,
 * for `bottle validate`. `resolved` holds the steps that had no problem.
 */
export function checkSteps(steps: readonly ProvisionerStep[], registry: ProvisionerRegistry, where = 'provisioners'): { resolved: ResolvedStep[]; problems: BottleError[] } {
  const installed = [...registry.keys()].sort();
  const resolved: ResolvedStep[] = [];
  const problems: BottleError[] = [];
  const position = new Map(steps.map((s, i) => [s.name, i]));
  steps.forEach((step, i) => {
    const reg = registry.get(step.name);
    if (!reg) {
      problems.push(new BottleError('PROVISIONER_UNKNOWN', `${where}[${i}]: no installed provisioner is named "${step.name}"`, {
        details: [`installed: ${installed.join(', ') || '(none)'}`],
        suggestions: [`Fix the name, or install the plugin that provides it: bottle plugins install <package> (\`bottle provisioners\` lists what is installed)`],
        exit: EXIT_USAGE,
      }));
      return;
    }
    const before = problems.length;
    for (const dep of reg.definition.after ?? []) {
      const at = position.get(dep);
      if (at === undefined || at > i) {
        problems.push(new BottleError('PROVISIONER_ORDER', `${where}[${i}]: provisioner "${step.name}" must run after "${dep}", ${at === undefined ? `but "${dep}" is not in the list` : `but "${dep}" comes later (at ${where}[${at}])`}`, {
          suggestions: [`List "${dep}" before "${step.name}" in ${where}: [${orderFix(steps.map((s) => s.name), step.name, dep).map((n) => JSON.stringify(n)).join(', ')}]`],
          exit: EXIT_USAGE,
        }));
      }
    }
    let options: unknown = step.options;
    if (reg.definition.options) {
      const r = v.safeParse(reg.definition.options, step.options);
      if (!r.success) {
        problems.push(new BottleError('PROVISIONER_OPTIONS', `${where}[${i}].options: invalid options for provisioner "${step.name}"`, {
          details: r.issues.map((iss) => `${appendPath(`${where}[${i}].options`, (iss.path ?? []).map((p) => p.key))}: ${iss.message}`),
          suggestions: [`See the options ${reg.packageName} documents.`],
          exit: EXIT_USAGE,
        }));
      } else {
        options = r.output;
      }
    } else if (Object.keys(step.options).length > 0) {
      problems.push(new BottleError('PROVISIONER_OPTIONS', `${where}[${i}].options: provisioner "${step.name}" takes no options`, {
        suggestions: [`Remove "options" from ${where}[${i}].`],
        exit: EXIT_USAGE,
      }));
    }
    if (problems.length === before) resolved.push({ definition: reg.definition, options, packageName: reg.packageName });
  });
  return { resolved, problems };
}

/** `base` followed by valibot path keys: `.key` for names, `[0]` for indexes, `["a b"]` otherwise. */
function appendPath(base: string, keys: readonly unknown[]): string {
  let out = base;
  for (const k of keys) {
    if (typeof k === 'number') out += `[${k}]`;
    else if (typeof k === 'string' && /^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(k)) out += `.${k}`;
    else out += `[${JSON.stringify(String(k))}]`;
  }
  return out;
}

function orderFix(names: string[], name: string, dep: string): string[] {
  const without = names.filter((n) => n !== dep);
  const at = without.indexOf(name);
  without.splice(at, 0, dep);
  return without;
}

export interface RunProvisionersInput {
  /** The whole plan; each provisioner sees only its PlanView of it. */
  plan: BottlePlan;
  target: Target;
  endpoints: AgentEndpoints;
  /** The host's environment; each provisioner gets only the variables its definition lists. */
  hostEnv?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  onStep?: (name: string, index: number, total: number) => void;
  log?: (name: string, message: string) => void;
  warn?: (name: string, message: string) => void;
}

export interface ProvisionOutcome {
  env: Record<string, string>;
  agentArgs: string[];
  /** Guest files of instructions for the agent, in provisioner order. */
  instructions: string[];
  mcpServers: { name: string; url: string }[];
  applied: string[];
}

/**
 * The exit code a plugin's error may give the launch: usage, failure or interrupted. Anything else
 * (0 above all, which would report a launch that never ran as a success) becomes a failure.
 */
function pluginExit(exit: number | undefined): number {
  return exit === EXIT_USAGE || exit === EXIT_INTERRUPTED ? exit : EXIT_FAILURE;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * What a provisioner returned, checked before it reaches the agent's command line and environment:
 * strings only, env names that are names, and nothing that holds a credential the gateway injects
 * (its value, or its variable, whose placeholder the bottle must keep). A plugin reads the host's
 * environment however it likes; this is where a secret copied from it would enter the bottle.
 */
function checkResult(result: unknown, where: string, secrets: ReadonlyMap<string, string>): ProvisionResult {
  if (result === undefined || result === null) return {};
  const problems: string[] = [];
  const r = (typeof result === 'object' && result !== null ? result : {}) as { env?: unknown; agentArgs?: unknown; instructions?: unknown; mcpServers?: unknown };
  if (typeof result !== 'object') problems.push(`it returned ${typeof result}, not { env, agentArgs } or nothing`);
  const env: Record<string, string> = {};
  if (r.env !== undefined) {
    if (typeof r.env !== 'object' || r.env === null || Array.isArray(r.env)) problems.push('env must be an object of strings');
    else {
      for (const [k, val] of Object.entries(r.env)) {
        if (!ENV_NAME.test(k)) problems.push(`env: ${JSON.stringify(k.slice(0, 60))} is not an environment variable name`);
        else if (typeof val !== 'string') problems.push(`env.${k} must be a string`);
        else env[k] = val;
      }
    }
  }
  let agentArgs: string[] = [];
  if (r.agentArgs !== undefined) {
    if (!Array.isArray(r.agentArgs) || !r.agentArgs.every((a) => typeof a === 'string')) problems.push('agentArgs must be an array of strings');
    else agentArgs = [...r.agentArgs];
  }
  let instructions: string | undefined;
  if (r.instructions !== undefined) {
    if (typeof r.instructions !== 'string' || !r.instructions.startsWith('/') || /[\0\n]/.test(r.instructions)) problems.push('instructions must be an absolute guest path');
    else instructions = r.instructions;
  }
  const mcpServers: { name: string; url: string }[] = [];
  if (r.mcpServers !== undefined) {
    if (!Array.isArray(r.mcpServers)) problems.push('mcpServers must be an array of {name, url}');
    else {
      for (const [i, m] of (r.mcpServers as unknown[]).entries()) {
        const x = m as { name?: unknown; url?: unknown } | null;
        if (typeof x?.name !== 'string' || !/^[a-z0-9][a-z0-9_-]{0,39}$/.test(x.name)) problems.push(`mcpServers[${i}].name must be 1-40 characters of a-z, 0-9, "_" or "-"`);
        else if (typeof x.url !== 'string' || !/^https?:\/\/[^\s"'\\]+$/.test(x.url)) problems.push(`mcpServers[${i}].url must be an http(s) URL`);
        else mcpServers.push({ name: x.name, url: x.url });
      }
    }
  }
  for (const [secretName, value] of secrets) {
    if (Object.hasOwn(env, secretName)) problems.push(`env.${secretName} would replace the placeholder of a credential the gateway injects`);
    const holds = (s: string) => (value.length >= 8 ? s.includes(value) : s === value);
    for (const [k, val] of Object.entries(env)) if (holds(val)) problems.push(`env.${k} holds the value of ${secretName}, a credential the gateway injects`);
    agentArgs.forEach((a, i) => {
      if (holds(a)) problems.push(`agentArgs[${i}] holds the value of ${secretName}, a credential the gateway injects`);
    });
    mcpServers.forEach((m, i) => {
      if (holds(m.url)) problems.push(`mcpServers[${i}].url holds the value of ${secretName}, a credential the gateway injects`);
    });
  }
  if (problems.length) {
    throw new BottleError('PROVISIONER_FAILED', `${where} returned what the bottle must not get`, {
      details: problems,
      suggestions: ['The bottle never holds a credential: route it through the gateway ("auth" on an egress route) instead; update or remove the plugin.'],
    });
  }
  return { env, agentArgs, ...(instructions ? { instructions } : {}), mcpServers };
}

export async function runProvisioners(steps: readonly ResolvedStep[], input: RunProvisionersInput): Promise<ProvisionOutcome> {
  const signal = input.signal ?? new AbortController().signal;
  const outcome: ProvisionOutcome = { env: {}, agentArgs: [], instructions: [], mcpServers: [], applied: [] };
  const names = steps.map((s) => s.definition.name);
  const hostEnv = input.hostEnv ?? process.env;
  const secrets = new Map(input.plan.egress.secretEnv.flatMap((n) => (hostEnv[n] ? [[n, hostEnv[n]] as const] : [])));
  for (const [i, step] of steps.entries()) {
    const name = step.definition.name;
    if (signal.aborted) throw new BottleError('INTERRUPTED', `interrupted before provisioner "${name}"`, { exit: EXIT_INTERRUPTED });
    input.onStep?.(name, i, steps.length);
    let result: ProvisionResult | void;
    const plan = planView(input.plan, input.endpoints, names, i);
    try {
      result = await step.definition.apply({
        plan,
        target: input.target,
        // The view's frozen copy: one provisioner cannot change where the next one's bottle reaches the bundle.
        endpoints: plan.endpoints,
        options: step.options,
        hostEnv: provisionerHostEnv(step.definition.hostEnv, hostEnv, input.plan),
        log: (m) => input.log?.(name, m),
        warn: (m) => input.warn?.(name, m),
        signal,
      });
    } catch (e) {
      // A step that stopped because the run was interrupted did not fail on its own.
      if (signal.aborted) throw new BottleError('INTERRUPTED', `interrupted during provisioner "${name}"`, { exit: EXIT_INTERRUPTED, cause: e });
      // A plugin's BottleError comes from its own copy of core: isBottleError checks the brand, not the class.
      const why = e instanceof Error || isBottleError(e) ? e.message : String(e);
      const bottleError = isBottleError(e) ? e : null;
      throw new BottleError('PROVISIONER_FAILED', `provisioner "${name}" (${step.packageName}) failed: ${why}`, {
        suggestions: bottleError?.suggestions.length ? bottleError.suggestions : [`Re-run with BOTTLE_DEBUG=1 for details; the launch was cleaned up.`],
        details: bottleError?.details ?? [],
        exit: pluginExit(bottleError?.exit),
        cause: e,
      });
    }
    const checked = checkResult(result, `provisioner "${name}" (${step.packageName})`, secrets);
    if (checked.env) Object.assign(outcome.env, checked.env);
    if (checked.agentArgs) outcome.agentArgs.push(...checked.agentArgs);
    if (checked.instructions) outcome.instructions.push(checked.instructions);
    for (const m of checked.mcpServers ?? []) {
      if (outcome.mcpServers.some((x) => x.name === m.name)) {
        throw new BottleError('PROVISIONER_FAILED', `provisioner "${name}" (${step.packageName}) adds an MCP server named "${m.name}", which an earlier provisioner added`, { suggestions: ['Remove one of the two provisioners from the agent\'s list.'] });
      }
      outcome.mcpServers.push(m);
    }
    outcome.applied.push(name);
  }
  return outcome;
}
