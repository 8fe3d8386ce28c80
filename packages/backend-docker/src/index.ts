export { DockerBackend, removeBottle, type DockerLaunchOptions, type StateRecord } from './docker-backend.js';
export { DockerTarget } from './target.js';
export { containerName, socketVolumeName, bundleName } from './names.js';
// Kept for the docker backend's users: the shared layer's docker runner and the images.
export { docker, dockerOk, dockerStats } from '@bot-bottle/backend-kit';
export { ensureImages, DEFAULT_BASE_IMAGE, CLAUDE_CODE_VERSION, type EnsuredImages, type ImageRefs, type ImageSettings } from '@bot-bottle/images';
