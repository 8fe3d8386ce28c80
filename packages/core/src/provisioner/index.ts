/**
 * `@bot-bottle/core/provisioner`: the provisioner contract, everything a plugin imports and nothing
 * else. What is exported here is what the contract promises to keep for its API version; the main
 * entry's other names (plans, manifests, backends) are the CLI's and may change.
 *
 * A plugin depends on @bot-bottle/core as a regular dependency and so has its own copy of it: the
 * CLI checks definitions by shape and version and recognises BottleErrors by a registered symbol,
 * never by class identity.
 */
export {
  PROVISIONER_API_VERSION,
  PROVISIONER_HOOK,
  PROVISIONER_KEYWORD,
  defineProvisioner,
  type ProvisionContext,
  type ProvisionResult,
  type ProvisionerDefinition,
  type ProvisionerHookResult,
} from './definition.js';
export type { GuestView, HostView, PlanView, RepoView, RouteView, SkillView } from './view.js';
export type { AgentEndpoints, ExecOptions, ExecResult, Target } from '../backend.js';
export {
  BOTTLE_ERROR_BRAND,
  BottleError,
  EXIT_FAILURE,
  EXIT_INTERRUPTED,
  EXIT_USAGE,
  isBottleError,
  type BottleErrorCode,
  type BottleErrorOptions,
} from '../errors.js';
