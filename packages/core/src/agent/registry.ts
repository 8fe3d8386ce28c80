/**
 * Agents by name, from what each plugin's `bottle:agents` hook returned (the CLI's own agents and
 * user-installed ones alike). Broken plugins and duplicate names are refused naming the plugin; an
 * unknown `"cli"` is one error listing the installed agents and how to add one.
 */
import { BottleError, EXIT_USAGE } from '../errors.js';
import type { HookFailure, HookSuccess } from '../registry.js';
import { buildPluginRegistry, type RegisteredDefinition } from '../plugin-registry.js';
import { AGENT_API_VERSION, agentDefinitionProblem, type AgentDefinition } from './definition.js';

export type RegisteredAgent = RegisteredDefinition<AgentDefinition>;

export type AgentRegistry = ReadonlyMap<string, RegisteredAgent>;

export function buildAgentRegistry(successes: readonly HookSuccess[], failures: readonly HookFailure[]): AgentRegistry {
  return buildPluginRegistry(successes, failures, {
    what: 'agent',
    failedCode: 'AGENT_HOOK_FAILED',
    duplicateCode: 'AGENT_DUPLICATE',
    check(item, plugin) {
      const problem = agentDefinitionProblem(item);
      if (!problem) return item as AgentDefinition;
      const theirs = (item as { apiVersion?: unknown } | null)?.apiVersion;
      const version = typeof theirs === 'number' && theirs !== AGENT_API_VERSION;
      throw new BottleError('AGENT_HOOK_FAILED', `plugin ${plugin.name}@${plugin.version} registered an invalid agent: ${problem}`, {
        suggestions: [version ? `It is made for agent API version ${theirs}; this CLI speaks ${AGENT_API_VERSION}. Install a matching version of the plugin or of the CLI.` : 'Update the plugin', `To run without it: bottle plugins uninstall ${plugin.name}`],
      });
    },
  });
}

/** The registered agent `name` (an agent's `"cli"`), or one error listing the installed ones. */
export function agentDefinition(registry: AgentRegistry, name: string, where = 'the agent\'s "cli"'): RegisteredAgent {
  const found = registry.get(name);
  if (found) return found;
  const installed = [...registry.keys()].sort();
  throw new BottleError('AGENT_UNKNOWN', `no agent CLI named ${JSON.stringify(name.slice(0, 60))} (from ${where}); installed: ${installed.join(', ') || 'none'}`, {
    suggestions: [`Use one of ${installed.join(', ') || '(none installed)'}, or install an agent plugin: bottle plugins install <package>`],
    exit: EXIT_USAGE,
  });
}
