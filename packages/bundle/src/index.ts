export * from './config.js';
export { startBundle, copyGitFiles, openAuditLog, type RunningBundle, type BundleOptions } from './bundle.js';
export { prepareSocketDir, writeNewFile, removeName, SOCKET_DIR_NAMES } from './socket-dir.js';
export { parsePasswd, serviceEnv, serviceUser, type ServiceUser } from './users.js';
