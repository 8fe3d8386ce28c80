/**
 * `@bot-bottle/core/testing`: what a provisioner's tests need, for this repo's provisioners and
 * third-party ones alike. Kept apart from the main entry so that nothing a launch runs depends on it.
 */
export { RecordingTarget, type RecordedCall } from './recording-target.js';
export {
  ENDPOINTS,
  cleanupTempDirs,
  contextFor,
  planFor,
  provisionForTest,
  removeWorld,
  runForTest,
  tempDir,
  world,
  type ContextOptions,
  type PlanInput,
  type ProvisionForTestOptions,
  type ProvisionedForTest,
  type Recorded,
  type RunForTestOptions,
  type World,
} from './provision.js';
export { rejects } from './rejects.js';
export { checkDefinition, definitionChecks, type DefinitionCheck, type DefinitionCheckOptions } from './definition.js';
export {
  backendChecks,
  type BackendCheck,
  type BackendChecks,
  type BackendChecksOptions,
  type BackendSetup,
  type BackendUnderTest,
  type CheckRun,
  type SuiteLike,
} from './backend-checks/index.js';
export { configureForTest, testAgentDouble, type ConfigureForTestOptions } from './agent.js';
