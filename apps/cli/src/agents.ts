/**
 * Agent discovery: every plugin (built-in, installed or linked) that declares the oclif hook
 * `bottle:agents` hands over a definition (Claude Code, Codex, Gemini CLI, OpenCode ship with the
 * CLI); core's buildAgentRegistry refuses broken plugins and duplicate names. An agent's "cli" in
 * the manifest picks one (default claude).
 */
import type { Config } from '@oclif/core';
import {
  AGENT_HOOK,
  DEFAULT_AGENT_CLI,
  agentDefinition,
  buildAgentRegistry,
  formatPath,
  type AgentDefinition,
  type AgentRegistry,
  type LoadedManifest,
  type RegisteredAgent,
} from '@bot-bottle/core';
import { runRegistrationHook } from './registration-hook.js';

const cache = new WeakMap<Config, Promise<AgentRegistry>>();

export function loadAgents(config: Config): Promise<AgentRegistry> {
  let r = cache.get(config);
  if (!r) {
    r = (async () => {
      const { ok, failed } = await runRegistrationHook(config, AGENT_HOOK);
      return buildAgentRegistry(ok, failed);
    })();
    cache.set(config, r);
  }
  return r;
}

/** The definition of the manifest agent `agentName`'s "cli", or undefined when the agent is not in the manifest (makePlan names that). */
export async function agentFor(config: Config, loaded: LoadedManifest, agentName: string): Promise<RegisteredAgent | undefined> {
  const agent = Object.hasOwn(loaded.manifest.agents, agentName) ? loaded.manifest.agents[agentName] : undefined;
  if (!agent) return undefined;
  return agentDefinition(await loadAgents(config), agent.cli ?? DEFAULT_AGENT_CLI, `${formatPath(['agents', agentName, 'cli'])} in ${loaded.source}`);
}

/** makePlan's `agent` option for a registered agent. */
export function planAgent(found: RegisteredAgent | undefined): { agent?: { definition: AgentDefinition; packageName: string } } {
  return found ? { agent: { definition: found.definition, packageName: found.packageName } } : {};
}
