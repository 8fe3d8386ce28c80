/**
 * The gateway's config file (JSON), written by the launcher. It names secrets by env var; their
 * values come from the gateway's own environment and are never written to a file.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import * as v from 'valibot';
import { BUNDLE_SERVICES, ServiceError, parseConfig, readConfigFile, type ConfigFileSpec, type EgressRoute } from '@bot-bottle/core/service';
import type { GatewayOptions } from './gateway.js';
import { parseRoutes } from './rules.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const ListenSchema = v.union([
  v.strictObject({ socket: v.pipe(v.string(), v.nonEmpty()) }),
  v.strictObject({ port: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535)), host: v.optional(v.pipe(v.string(), v.nonEmpty())) }),
]);

export const GatewayConfigSchema = v.strictObject({
  /** Where the proxy listens. Default: {"port": 3128 (the bottle-side egress port), "host": "0.0.0.0"}. */
  listen: v.optional(ListenSchema),
  /** The bottle's CA, as made by createBottleCa. */
  ca: v.strictObject({ cert: v.pipe(v.string(), v.nonEmpty()), key: v.pipe(v.string(), v.nonEmpty()) }),
  /** The manifest's egress routes (checked again with the manifest's rules). */
  routes: v.array(v.unknown()),
  /** Names of env vars whose values the gateway injects; read from its own environment. */
  secretEnv: v.optional(v.array(v.pipe(v.string(), v.regex(ENV_NAME, 'each secretEnv entry must be an env var name')))),
  /** PEM files of extra CAs trusted for upstream connections, beside the system store. */
  extraCaFiles: v.optional(v.array(v.pipe(v.string(), v.nonEmpty()))),
  /** The append-only JSONL audit log. */
  auditLog: v.optional(v.nullable(v.pipe(v.string(), v.nonEmpty()))),
  /** A unix socket for run-time changes (GET/PUT /routes); none when absent. */
  admin: v.optional(v.strictObject({ socket: v.pipe(v.string(), v.nonEmpty()) })),
  /**
   * Processes that serve connections: a number, or "auto" (the default: half the cores this
   * process may use, counting its cgroup's CPU quota, at least 1, at most 4). Above 1, this process
   * listens, serves a share and hands the other connections to worker processes in turn (pool.ts).
   * Half, because the gateway
   * shares the machine with the agent it serves: on 2 cores a second process gave no more
   * requests per second and cost ~75 MiB (see bench/egress).
   */
  workers: v.optional(v.union([v.literal('auto'), v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(64))])),
});
export type GatewayConfig = v.InferOutput<typeof GatewayConfigSchema>;

const CONFIG_FILE: ConfigFileSpec = {
  service: 'egress gateway',
  formatHint: 'See the config format in the egress-gateway README: {"ca": {"cert", "key"}, "routes": [...], "secretEnv"?, "extraCaFiles"?, "auditLog"?, "listen"?, "admin"?, "workers"?}.',
  envVar: 'BOT_BOTTLE_EGRESS_CONFIG',
};

/** Checks a parsed config file; routes are checked by the manifest's own route schema. */
export function parseGatewayConfig(value: unknown, source = '<config>'): GatewayConfig & { routes: EgressRoute[] } {
  const config = parseConfig(CONFIG_FILE, GatewayConfigSchema, value, source);
  return { ...config, routes: parseRoutes(config.routes) };
}

export async function readGatewayConfig(file: string): Promise<GatewayConfig & { routes: EgressRoute[] }> {
  const config = await readConfigFile(CONFIG_FILE, GatewayConfigSchema, file);
  return { ...config, routes: parseRoutes(config.routes) };
}

/** Turns a config into gateway options, reading secrets from `env` and extra CAs from disk. */
/**
 * The cores this process may use: those it may run on (affinity), and no more than its cgroup's CPU
 * quota (a container's `--cpus`: the bundle's is one core), which Node's availableParallelism does
 * not count.
 */
export function usableCores(): number {
  const cores = availableParallelism();
  let quota: number | null = null;
  try {
    // cgroup v2: "max 100000" or "<quota> <period>".
    const [q, p] = readFileSync('/sys/fs/cgroup/cpu.max', 'utf8').trim().split(/\s+/);
    if (q !== 'max' && Number(q) > 0 && Number(p) > 0) quota = Number(q) / Number(p);
  } catch {
    try {
      // cgroup v1: a quota of -1 is none.
      const q = Number(readFileSync('/sys/fs/cgroup/cpu/cpu.cfs_quota_us', 'utf8'));
      const p = Number(readFileSync('/sys/fs/cgroup/cpu/cpu.cfs_period_us', 'utf8'));
      if (q > 0 && p > 0) quota = q / p;
    } catch {
      // No cgroup CPU controller to read: the affinity alone says.
    }
  }
  return quota === null ? cores : Math.max(1, Math.min(cores, Math.floor(quota)));
}

/** How many processes serve: "auto" is half the cores this process may use, at least 1, at most 4. */
export function workerCount(setting: GatewayConfig['workers'], cores = usableCores()): number {
  if (typeof setting === 'number') return setting;
  return Math.max(1, Math.min(4, Math.floor(cores / 2)));
}

export async function gatewayOptionsFromConfig(config: GatewayConfig & { routes: EgressRoute[] }, env: NodeJS.ProcessEnv = process.env): Promise<GatewayOptions & { workers: number }> {
  const secrets: Record<string, string> = {};
  const missing: string[] = [];
  for (const name of config.secretEnv ?? []) {
    const value = env[name];
    if (value === undefined || value === '') missing.push(name);
    else secrets[name] = value;
  }
  if (missing.length) {
    throw new ServiceError(`egress gateway: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set in its environment`, {
      suggestions: ['Start the gateway with each secretEnv variable set to the value it injects.'],
    });
  }
  const extraCaCerts: string[] = [];
  for (const file of config.extraCaFiles ?? []) {
    try {
      extraCaCerts.push(await readFile(file, 'utf8'));
    } catch (e) {
      throw new ServiceError(`egress gateway: cannot read extra CA file ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { kind: 'config' });
    }
  }
  return {
    workers: workerCount(config.workers),
    ca: config.ca,
    routes: config.routes,
    secrets,
    extraCaCerts,
    auditLogPath: config.auditLog ?? null,
    listen: config.listen ?? { port: BUNDLE_SERVICES.egress.port, host: '0.0.0.0' },
  };
}
