/**
 * A registry of named definitions from what each plugin's registration hook returned (backends
 * from `bottle:backends`, agents from `bottle:agents`): the CLI's own plugins and user-installed
 * ones alike, in plugin-name order. A plugin whose hook failed, an invalid definition and two
 * definitions of one name are each one error naming the plugin and how to get past it.
 */
import { BottleError } from './errors.js';
import type { HookFailure, HookSuccess } from './registry.js';

export interface RegisteredDefinition<D> {
  definition: D;
  packageName: string;
  packageVersion: string;
}

export interface PluginRegistryKind<D extends { name: string }> {
  /** What a definition is, in messages ("agent", "backend"). */
  what: string;
  failedCode: 'AGENT_HOOK_FAILED' | 'BACKEND_HOOK_FAILED';
  duplicateCode: 'AGENT_DUPLICATE' | 'BACKEND_DUPLICATE';
  /** The definition, or a BottleError (its message and suggestions) saying why it cannot be used. */
  check(item: unknown, plugin: HookSuccess['plugin']): D;
}

const byPlugin = (a: { plugin: { name: string } }, b: { plugin: { name: string } }) => a.plugin.name.localeCompare(b.plugin.name);

export function buildPluginRegistry<D extends { name: string }>(successes: readonly HookSuccess[], failures: readonly HookFailure[], kind: PluginRegistryKind<D>): ReadonlyMap<string, RegisteredDefinition<D>> {
  const failure = [...failures].sort(byPlugin)[0];
  if (failure) {
    const why = failure.error instanceof Error ? failure.error.message : String(failure.error);
    throw new BottleError(kind.failedCode, `plugin ${failure.plugin.name} failed to register its ${kind.what}: ${why}`, {
      suggestions: [`Update or remove it: bottle plugins update, or bottle plugins uninstall ${failure.plugin.name}`],
    });
  }
  const registry = new Map<string, RegisteredDefinition<D>>();
  for (const { plugin, result } of [...successes].sort(byPlugin)) {
    if (result === undefined || result === null) continue;
    for (const item of Array.isArray(result) ? result : [result]) {
      const definition = kind.check(item, plugin);
      const existing = registry.get(definition.name);
      if (existing) {
        throw new BottleError(kind.duplicateCode, `two plugins provide ${kind.what === 'agent' ? 'an' : 'a'} ${kind.what} named "${definition.name}": ${existing.packageName}@${existing.packageVersion} and ${plugin.name}@${plugin.version}`, {
          suggestions: [`Uninstall one of them: bottle plugins uninstall ${plugin.name}`],
        });
      }
      registry.set(definition.name, { definition, packageName: plugin.name, packageVersion: plugin.version });
    }
  }
  return registry;
}
