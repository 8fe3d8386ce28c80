/**
 * The light entry for the bundle's services (`@bot-bottle/core/service`): errors, the services
 * table, audit entries, config files, JSON bodies and the egress route schema, without the
 * manifest, plan, provisioner and backend code the main entry loads. A service process imports
 * this one so that it holds only what it runs (~6 MiB less RSS per process). The main entry
 * exports the same modules, so a value from either is the same value.
 */
export * from './errors.js';
export * from './services.js';
export * from './audit.js';
export * from './service-error.js';
export * from './config-file.js';
export * from './json-body.js';
export { EgressRouteSchema, RouteAuthEntries, RouteEntries, authFormatProblem, authHeaderProblem, gitUrlProblem, routeHostProblem, type EgressRoute } from './manifest/schema.js';
export { formatPath } from './manifest/describe.js';
export type { GitGateUpstream } from './plan.js';
