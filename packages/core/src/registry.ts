/**
 * Turns what the `bottle:provisioners` hook returned from each plugin into one registry, refusing
 * duplicates and broken plugins with messages that say how to fix them. The hook only registers;
 * running happens in the runner, in the manifest's order.
 */
import { BottleError } from './errors.js';
import { PROVISIONER_API_VERSION, defineProvisioner, type ProvisionerDefinition, type RegisteredProvisioner } from './provisioner/definition.js';

export interface HookSuccess {
  plugin: { name: string; version: string; type?: string };
  result: unknown;
}
export interface HookFailure {
  plugin: { name: string; version?: string };
  error: unknown;
}

export type ProvisionerRegistry = ReadonlyMap<string, RegisteredProvisioner>;

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Refuses a definition written for another contract version before its shape is checked: a plugin
 * built against a newer or older @bot-bottle/core carries its own copy, so the mismatch shows only here.
 */
function checkApiVersion(item: unknown, plugin: HookSuccess['plugin']): void {
  if (typeof item !== 'object' || item === null || !('apiVersion' in item)) return; // the shape check names it
  const { apiVersion: theirs, name: given } = item as { apiVersion: unknown; name?: unknown };
  if (theirs === PROVISIONER_API_VERSION) return;
  // Both come from the plugin: quoted and cut short, so they cannot break the message's lines.
  const name = typeof given === 'string' ? ` ${JSON.stringify(given.slice(0, 40))}` : '';
  const newer = typeof theirs === 'number' && theirs > PROVISIONER_API_VERSION;
  throw new BottleError(
    'PROVISIONER_API_VERSION',
    `plugin ${plugin.name}@${plugin.version} provides the provisioner${name} for provisioner API version ${JSON.stringify(theirs)?.slice(0, 20) ?? String(theirs)}, but this bottle CLI speaks version ${PROVISIONER_API_VERSION}`,
    {
      suggestions: newer
        ? ['Upgrade the CLI (npm install -g @bot-bottle/cli@latest), or install a version of the plugin made for this one', `To run without it: bottle plugins uninstall ${plugin.name}`]
        : [`Upgrade the plugin: bottle plugins update (or bottle plugins install ${plugin.name}@latest)`, `To run without it: bottle plugins uninstall ${plugin.name}`],
    },
  );
}

export function buildRegistry(successes: readonly HookSuccess[], failures: readonly HookFailure[], corePlugins: ReadonlySet<string> = new Set()): ProvisionerRegistry {
  if (failures.length) {
    // oclif runs hooks in parallel; order by name so the same failures always read the same.
    failures = [...failures].sort((a, b) => byName(a.plugin.name, b.plugin.name));
    const f = failures[0]!;
    const why = f.error instanceof Error ? f.error.message : String(f.error);
    throw new BottleError('PROVISIONER_HOOK_FAILED', `plugin ${f.plugin.name} failed to register its provisioners: ${why}`, {
      details: failures.slice(1).map((x) => `also failed: ${x.plugin.name}: ${x.error instanceof Error ? x.error.message : String(x.error)}`),
      suggestions: [`Update or remove it: bottle plugins update, or bottle plugins uninstall ${f.plugin.name}`],
    });
  }
  const registry = new Map<string, RegisteredProvisioner>();
  // Sort so that the outcome never depends on the order oclif happened to run hooks in.
  const sorted = [...successes].sort((a, b) => byName(a.plugin.name, b.plugin.name));
  for (const { plugin, result } of sorted) {
    if (result === undefined || result === null) continue; // the hook of a plugin that provides none
    const items = Array.isArray(result) ? result : [result];
    for (const item of items) {
      checkApiVersion(item, plugin);
      let definition: ProvisionerDefinition<any>;
      try {
        definition = defineProvisioner(item as ProvisionerDefinition<any>);
      } catch (e) {
        throw new BottleError('PROVISIONER_HOOK_FAILED', `plugin ${plugin.name} registered an invalid provisioner: ${(e as Error).message}`, {
          suggestions: [`Update the plugin, or remove it: bottle plugins uninstall ${plugin.name}`],
        });
      }
      const existing = registry.get(definition.name);
      if (existing && existing.packageName === plugin.name) {
        throw new BottleError('PROVISIONER_DUPLICATE', `plugin ${plugin.name}@${plugin.version} registers the provisioner "${definition.name}" twice`, {
          suggestions: [`Update the plugin, or remove it: bottle plugins uninstall ${plugin.name}`],
        });
      }
      if (existing) {
        throw new BottleError('PROVISIONER_DUPLICATE', `two plugins provide a provisioner named "${definition.name}": ${existing.packageName}@${existing.packageVersion} and ${plugin.name}@${plugin.version}`, {
          suggestions: [`Uninstall one of them: bottle plugins uninstall ${corePlugins.has(plugin.name) ? existing.packageName : plugin.name}`],
        });
      }
      registry.set(definition.name, { definition, packageName: plugin.name, packageVersion: plugin.version, builtIn: corePlugins.has(plugin.name) });
    }
  }
  return registry;
}
