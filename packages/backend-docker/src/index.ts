export { DockerBackend, removeBottle, type DockerLaunchOptions, type StateRecord } from './docker-backend.js';
export { DockerTarget } from './target.js';
export { ensureImages, imageSettingsFromEnv, DEFAULT_BASE_IMAGE, CLAUDE_CODE_VERSION, type ImageRefs, type ImageSettings } from './images.js';
export { docker, dockerOk, dockerStats } from './docker-cli.js';
export * from './names.js';
export { ownerId, ownerGone, KEEP } from './owner.js';
