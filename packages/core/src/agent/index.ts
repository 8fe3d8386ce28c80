/**
 * `@bot-bottle/core/agent`: the agent contract, everything an agent plugin imports and nothing else.
 * What is exported here is what the contract promises to keep for its API version.
 */
export {
  AGENT_API_VERSION,
  AGENT_HOOK,
  AGENT_KEYWORD,
  DEFAULT_AGENT_CLI,
  defineAgent,
  describeInstall,
  type AgentConfigureContext,
  type AgentConfigured,
  type AgentCredential,
  type AgentDefinition,
  type AgentGuest,
  type AgentInstall,
  type AgentLaunch,
  type McpServer,
} from './definition.js';
export type { ExecResult, Target } from '../backend.js';
export { BottleError, isBottleError } from '../errors.js';
