/**
 * The images every backend's bottle boots and every bundle runs: built here from this package's
 * Dockerfiles (images/), tagged by a hash of their inputs, from the base the user chose or one
 * detected (a Debian base made with debootstrap where no registry is reachable), with extra CAs
 * trusted at build time. The docker bottle runs the agent image; the smolmachines VM boots it too.
 * A bottle with its own "image" runs that image with the agent layer on top (user-image.ts).
 */
export { ensureImages, agentImageSettings, DEFAULT_AGENT, DEFAULT_BASE_IMAGE, CLAUDE_CODE_VERSION, type EnsuredImages, type ImageAgent, type ImageRefs, type ImageSettings } from './images.js';
export { debianBase, hostCaCerts, localDebianBase, readImageConfig, statedImageChoice, userConfigDir, userConfigFile, writeImageConfig, type ChoiceSource, type ImageChoice, type ImageConfig } from './image-config.js';
export {
  LABEL_LAYER_OF,
  LABEL_USER_IMAGE,
  LAYER_BIN,
  LAYER_NODE,
  bottleImageStatus,
  describeImage,
  ensureBottleImage,
  unlayerableReason,
  userBuildTag,
  type BottleImage,
  type BottleImageSettings,
  type BottleImageStatus,
} from './user-image.js';
export { buildInputsHash, ignored, parseDockerignore } from './build-context.js';
export { collectClosure, hashClosure, layoutClosure, verifyLayout, writeLayout } from './bundle-closure.js';
export { pruneImages, type PruneReport } from './prune.js';
