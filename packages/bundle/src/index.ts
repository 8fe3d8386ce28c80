export * from './config.js';
export { startBundle, type RunningBundle } from './bundle.js';
