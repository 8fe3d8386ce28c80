/**
 * What every backend needs and no backend owns: state records and their reconciling, owners, the
 * bundle's host side and its container, the exec channel, the launched-bottle assembly, names and
 * labels, and the one CLI runner. A backend package holds only what is specific to its engine.
 */
export { runCli, runCliOk, type CliCallOptions, type CliResult, type CliSpec } from './cli-runner.js';
export { DOCKER, DOCKER_CLI, docker, dockerOk, dockerStats, engineDown, type DockerCallOptions, type DockerResult } from './docker.js';
export { KEEP, ownerGone, ownerId } from './owner.js';
export { readRecords, reconcile, stateRoot, writeLaunchRecord, writePlanFile, type Reconciled, type Resource, type StateRecord } from './state.js';
export {
  BUNDLE_CONFIG_DIR,
  BUNDLE_CONTROL_DIR,
  BUNDLE_EGRESS_DIR,
  BUNDLE_GIT_DIR,
  BUNDLE_LOG_DIR,
  BUNDLE_SUPERVISE_DIR,
  prepareBundleFiles,
  upstreamCaFiles,
  writeBundleConfig,
  type BundleConfigDraft,
  type BundleFiles,
  type Mount,
} from './bundle-files.js';
export { BUNDLE_CAPS, bundleRunArgs, engineInfo, limitArgs, limitsForEngine, mountArgs, removeBundle, startBundle, waitForBundle, type BundleRun, type EngineInfo } from './bundle.js';
export { DEFAULT_EXEC_AGENT_ARGV, EXEC_AGENT_PATH, ExecChannel } from './exec-channel.js';
export { channelClosed, copyFailed, interrupted, requestFailed } from './target-errors.js';
export { launchedBottle, type LaunchedParts } from './launched.js';
export * from './names.js';
export { settleAll } from './settle.js';
export { portChannel, portChannelCommand } from './port-channel.js';
