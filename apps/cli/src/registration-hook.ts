/**
 * The registration hooks (`bottle:provisioners`, `bottle:backends`, `bottle:agents`): each plugin
 * that declares one hands over definitions; core's registry builders take what every plugin
 * returned, and the plugins that failed, in this shape.
 */
import type { Config } from '@oclif/core';
import type { Hooks } from '@oclif/core/interfaces';
import type { HookFailure, HookSuccess } from '@bot-bottle/core';

/** A plugin's hook that takes longer than this is reported as failed, so one broken plugin cannot hang the CLI. */
export const HOOK_TIMEOUT_MS = 10_000;

type RegistrationHooks = Hooks & Record<string, { options: Record<string, never>; return: unknown }>;

/** Runs `hook` on every plugin that declares it: what each returned, and each failure (a throw or a timeout). */
export async function runRegistrationHook(config: Config, hook: string): Promise<{ ok: HookSuccess[]; failed: HookFailure[] }> {
  const { successes, failures } = await config.runHook<string, RegistrationHooks>(hook, {}, HOOK_TIMEOUT_MS);
  return {
    ok: successes.map((s) => ({ plugin: { name: s.plugin.name, version: s.plugin.version, type: s.plugin.type }, result: s.result })),
    failed: failures.map((f) => ({ plugin: { name: f.plugin.name, version: f.plugin.version }, error: f.error })),
  };
}
