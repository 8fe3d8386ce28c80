/**
 * Backends by name. Each backend package hands the CLI a definition through the oclif hook
 * `bottle:backends` (discovered like provisioners: the CLI's own and user-installed plugins), and
 * one name is chosen per launch: `--backend`, else BOT_BOTTLE_BACKEND (or the original tool's
 * CLAUDE_BOTTLE_BACKEND), else the bottle's "backend" key, else docker. An unknown name is one
 * error listing the installed backends.
 */
import type { Backend } from './backend.js';
import { BottleError, EXIT_USAGE } from './errors.js';
import type { HookFailure, HookSuccess } from './registry.js';
import { buildPluginRegistry, type RegisteredDefinition } from './plugin-registry.js';

export const BACKEND_HOOK = 'bottle:backends' as const;
export const BACKEND_KEYWORD = 'bottle-backend';
export const DEFAULT_BACKEND = 'docker';

export interface BackendDefinition {
  /** The name users choose it by (`--backend NAME`): lower case letters, digits and "-". */
  name: string;
  /** One line for `bottle doctor` and error messages. */
  description: string;
  /** A backend reading its settings from `env`. */
  create(env: NodeJS.ProcessEnv): Backend;
}

export type RegisteredBackend = RegisteredDefinition<BackendDefinition>;

export type BackendRegistry = ReadonlyMap<string, RegisteredBackend>;

const NAME = /^[a-z][a-z0-9-]{0,39}$/;

function checkDefinition(item: unknown): BackendDefinition {
  const d = item as Partial<BackendDefinition> | null;
  if (typeof d !== 'object' || d === null) throw new Error('a backend definition is an object {name, description, create}');
  if (typeof d.name !== 'string' || !NAME.test(d.name)) throw new Error(`backend name ${JSON.stringify(d.name)?.slice(0, 50)} is not 1-40 characters of a-z, 0-9 or "-", starting with a letter`);
  if (typeof d.create !== 'function') throw new Error(`backend "${d.name}" has no create(env) function`);
  return { name: d.name, description: typeof d.description === 'string' ? d.description : '', create: d.create.bind(d) };
}

/** The registry from the hook's results: failures, invalid definitions and duplicate names are errors naming the plugin. */
export function buildBackendRegistry(successes: readonly HookSuccess[], failures: readonly HookFailure[]): BackendRegistry {
  return buildPluginRegistry(successes, failures, {
    what: 'backend',
    failedCode: 'BACKEND_HOOK_FAILED',
    duplicateCode: 'BACKEND_DUPLICATE',
    check(item, plugin) {
      try {
        return checkDefinition(item);
      } catch (e) {
        throw new BottleError('BACKEND_HOOK_FAILED', `plugin ${plugin.name} registered an invalid backend: ${(e as Error).message}`, {
          suggestions: [`Update the plugin, or remove it: bottle plugins uninstall ${plugin.name}`],
        });
      }
    },
  });
}

export type BackendSource = 'flag' | 'BOT_BOTTLE_BACKEND' | 'CLAUDE_BOTTLE_BACKEND' | 'manifest' | 'default';

/** Which backend a launch uses, and what chose it. */
export function chooseBackend(o: { flag?: string | undefined; env: NodeJS.ProcessEnv; manifest?: string | undefined }): { name: string; source: BackendSource } {
  const pick = (value: string | undefined, source: BackendSource) => (value && value.trim() ? { name: value.trim(), source } : null);
  return (
    pick(o.flag, 'flag') ??
    pick(o.env.BOT_BOTTLE_BACKEND, 'BOT_BOTTLE_BACKEND') ??
    pick(o.env.CLAUDE_BOTTLE_BACKEND, 'CLAUDE_BOTTLE_BACKEND') ??
    pick(o.manifest, 'manifest') ?? { name: DEFAULT_BACKEND, source: 'default' }
  );
}

function describeSource(source: BackendSource): string {
  return source === 'flag' ? '--backend' : source === 'manifest' ? "the bottle's \"backend\" key" : source === 'default' ? 'the default' : source;
}

/** The registered backend `name`, or one error listing the installed ones. */
export function backendDefinition(registry: BackendRegistry, name: string, source: BackendSource = 'flag'): BackendDefinition {
  const found = registry.get(name);
  if (found) return found.definition;
  const installed = [...registry.keys()].sort();
  throw new BottleError('BACKEND_UNKNOWN', `no backend named ${JSON.stringify(name.slice(0, 60))} (from ${describeSource(source)}); installed: ${installed.join(', ') || 'none'}`, {
    suggestions: [`Choose one of ${installed.join(', ') || '(none installed)'}, or install a backend plugin: bottle plugins install <package>`],
    exit: EXIT_USAGE,
  });
}
