/**
 * Provisioner discovery: every plugin (built-in, installed or linked) that declares the oclif hook
 * `bottle:provisioners` hands over its definitions; core's buildRegistry turns hook failures,
 * duplicate names and invalid definitions into BottleErrors. The hook only registers: the order
 * provisioners run in is the agent's list in the manifest.
 */
import type { Config } from '@oclif/core';
import {
  BottleError,
  DEFAULT_PROVISIONERS,
  EXIT_USAGE,
  PROVISIONER_HOOK,
  PROVISIONER_KEYWORD,
  buildRegistry,
  checkSteps,
  formatPath,
  type LoadedManifest,
  type ProvisionerRegistry,
} from '@bot-bottle/core';
import { runRegistrationHook } from './registration-hook.js';

// The hook name and keyword are the plugin contract's (@bot-bottle/core/provisioner), not the CLI's own.
export { PROVISIONER_HOOK, PROVISIONER_KEYWORD };

/** The provisioner packages that ship with the CLI: its `oclif.plugins` entries that declare the hook. */
export function corePluginNames(config: Config): Set<string> {
  const declared = new Set(config.pjson.oclif.plugins ?? []);
  const names = new Set<string>();
  for (const plugin of config.getPluginsList()) {
    if (plugin.type === 'core' && declared.has(plugin.name) && plugin.hooks[PROVISIONER_HOOK]) names.add(plugin.name);
  }
  return names;
}

export async function loadRegistry(config: Config): Promise<ProvisionerRegistry> {
  const { ok, failed } = await runRegistrationHook(config, PROVISIONER_HOOK);
  return buildRegistry(ok, failed, corePluginNames(config));
}

/** A provisioner problem as one line that starts with its JSON path (options problems are one line each already). */
function problemLines(e: BottleError): readonly string[] {
  if (e.code === 'PROVISIONER_OPTIONS' && e.details.length) return e.details;
  return [[e.message, ...e.details].join('; ')];
}

/**
 * What `bottle plan` checks about every agent's provisioners, against the provisioners installed
 * here (built-ins and plugins): known names, `after` order, options valid for their schema. All
 * problems of all agents are reported at once, one line each, like the manifest's own problems.
 */
export function checkProvisioners(loaded: LoadedManifest, registry: ProvisionerRegistry): void {
  const problems: BottleError[] = [];
  for (const [agentName, agent] of Object.entries(loaded.manifest.agents)) {
    const steps = (agent.provisioners ?? [...DEFAULT_PROVISIONERS]).map((ref) =>
      typeof ref === 'string' ? { name: ref, options: {} } : { name: ref.name, options: ref.options ?? {} },
    );
    problems.push(...checkSteps(steps, registry, formatPath(['agents', agentName, 'provisioners'])).problems);
  }
  if (!problems.length) return;
  const codes = new Set(problems.map((p) => p.code));
  throw new BottleError(codes.size === 1 ? problems[0]!.code : 'MANIFEST_INVALID', `${loaded.source} is not valid with the provisioners installed here`, {
    details: problems.flatMap(problemLines),
    suggestions: [...new Set(problems.flatMap((p) => p.suggestions))],
    exit: EXIT_USAGE,
  });
}

export interface ProvisionerInfo {
  name: string;
  package: string;
  version: string;
  builtIn: boolean;
  description: string;
  after: string[];
  /** The host environment variables it reads (its definition's `hostEnv`): what it is handed, and all it is handed. */
  hostEnv: string[];
}

/** The installed provisioners as `bottle provisioners` lists them: built-ins first, then by name. */
export function provisionerInfos(registry: ProvisionerRegistry): ProvisionerInfo[] {
  return [...registry.values()]
    .map((r) => ({
      name: r.definition.name,
      package: r.packageName,
      version: r.packageVersion,
      builtIn: r.builtIn,
      description: r.definition.description ?? '',
      after: [...(r.definition.after ?? [])],
      hostEnv: [...(r.definition.hostEnv ?? [])],
    }))
    .sort((a, b) => Number(b.builtIn) - Number(a.builtIn) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
