/**
 * The manifest (`bottle.json`): its schema, its parsing, and the checks a schema alone cannot do.
 * Keys of the original tool (`bottles`, `agents`, `Name`/`Upstream`/`IdentityFile`, `git_user`,
 * `supervise`, `skills`, `prompt`, `bottle`) are kept as they were so existing manifests still work.
 *
 * schema.ts holds the shape, parse.ts turns text into a value, issues.ts turns schema issues into
 * lines, checks.ts finds what a schema cannot, and load.ts reads a file and runs them in order.
 * Only the names below are the package's; the rest stays inside this folder.
 */
export {
  DEFAULT_PROVISIONERS,
  EgressRouteSchema,
  ManifestSchema,
  NAME_PATTERN,
  RouteAuthEntries,
  RouteEntries,
  cleartextAuthProblem,
  gitUrlProblem,
  imageRefProblem,
  isGitUrl,
  routeHostProblem,
  authHeaderProblem,
  authFormatProblem,
  type AgentConfig,
  type BottleConfig,
  type EgressRoute,
  type GitEntry,
  type GitUser,
  type Manifest,
  type ProvisionerRef,
} from './schema.js';
export { describeValue, formatPath } from './describe.js';
export { MANIFEST_MAX_BYTES, MANIFEST_MAX_DEPTH, parseJsonText } from './parse.js';
export { expandHome, resolveManifestPath } from './file-paths.js';
export { DEFAULT_IMAGE_PLAN, featureOptionVar, parseJsonc, resolveBottleImage, type DevcontainerFeature, type ImageBuildPlan, type ImagePlan, type ImageSource, type ResolvedImage } from './image.js';
export { crossCheck, missingLaunchEnv, routeEnvVars } from './checks.js';
export { loadManifest, parseManifestText, validateManifest, type LoadedManifest } from './load.js';
