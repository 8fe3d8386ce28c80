export { DockerBackend, removeBottle, type DockerLaunchOptions, type StateRecord } from './docker-backend.js';
export { DockerTarget } from './target.js';
export { ensureImages, DEFAULT_BASE_IMAGE, CLAUDE_CODE_VERSION, type EnsuredImages, type ImageRefs, type ImageSettings } from './images.js';
export { debianBase, hostCaCerts, localDebianBase, readImageConfig, statedImageChoice, userConfigDir, userConfigFile, writeImageConfig, type ChoiceSource, type ImageChoice, type ImageConfig } from './image-config.js';
export { docker, dockerOk, dockerStats } from './docker-cli.js';
export * from './names.js';
export { ownerId, ownerGone, KEEP } from './owner.js';
