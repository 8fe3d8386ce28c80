/**
 * The bundle container, the same for every backend: started from the bundle image with five
 * capabilities, fixed limits no manifest reaches, the bottle's labels, the host files as
 * read-only mounts, its sockets where the backend wants them (a volume the docker bottle mounts,
 * a host folder smolvm mounts into the VM), and the routed secrets passed by name; then the wait
 * for its ready marker, which also notices a bundle that died while starting.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { BUNDLE_READY_MARKER, BottleError, EXIT_INTERRUPTED, resolveLimits, type BottlePlan, type LimitsPlan, type ResourceLimits } from '@bot-bottle/core';
import type { Mount } from './bundle-files.js';
import { docker, dockerOk } from './docker.js';
import { LABEL_ROLE, SOCKET_DIR, bundleName, labelArgs } from './names.js';

/**
 * The bundle's supervisor stays root with only these: CHOWN and DAC_OVERRIDE to read the host's
 * CA key and identity files and hand the services what they need (the socket folder, the git
 * user's copies, the audit log), SETUID/SETGID to start the services as their own users, KILL to
 * stop them. Every service process runs with none.
 */
export const BUNDLE_CAPS = ['CHOWN', 'DAC_OVERRIDE', 'SETUID', 'SETGID', 'KILL'] as const;

/** docker run flags for one container's limits. Memory and memory+swap are equal: no swap beyond the limit. */
export function limitArgs(l: ResourceLimits): string[] {
  return [
    '--memory', String(l.memoryBytes),
    '--memory-swap', String(l.memorySwapBytes),
    '--cpus', String(l.cpus),
    '--cpu-shares', String(l.cpuShares),
    '--pids-limit', String(l.pids),
    '--oom-score-adj', String(l.oomScoreAdj),
  ];
}

/** `-v HOST:GUEST[:ro]` for each mount. */
export function mountArgs(mounts: readonly Mount[]): string[] {
  return mounts.flatMap((m) => ['-v', `${m.host}:${m.guest}${m.readOnly ? ':ro' : ''}`]);
}

export interface EngineInfo {
  cpus: number;
  memoryBytes: number;
  /** Limits the engine says it cannot enforce (its kernel or cgroup setup lacks them). */
  unenforced: string[];
}

/** The docker engine's machine (on Docker Desktop a VM, not this host) and which limits it enforces; null when it does not say. */
export async function engineInfo(signal?: AbortSignal): Promise<EngineInfo | null> {
  const r = await docker(['info', '--format', '{{.NCPU}}|{{.MemTotal}}|{{.MemoryLimit}}|{{.SwapLimit}}|{{.CPUCfsQuota}}|{{.CPUShares}}|{{.PidsLimit}}'], { timeoutMs: 30_000, ...(signal ? { signal } : {}) });
  const [cpus, mem, ...flags] = r.stdout.trim().split('|');
  if (r.exitCode !== 0 || flags.length !== 5 || !(Number(cpus) >= 1) || !(Number(mem) > 0)) return null;
  const names = ['memory', 'swap', 'cpus', 'cpu-shares', 'pids'];
  return { cpus: Number(cpus), memoryBytes: Number(mem), unenforced: names.filter((_, i) => flags[i] !== 'true') };
}

/**
 * The plan's limits made for the engine's machine: defaults and the cpus cap follow what the engine
 * has (docker refuses --cpus above it), so a plan made on a Mac runs in Docker Desktop's smaller VM.
 */
export function limitsForEngine(limits: LimitsPlan, engine: EngineInfo | null): LimitsPlan {
  if (!engine || (engine.cpus === limits.host.cpus && engine.memoryBytes === limits.host.memoryBytes)) return limits;
  return resolveLimits(limits.requested, { cpus: engine.cpus, memoryBytes: engine.memoryBytes });
}

export interface BundleRun {
  plan: BottlePlan;
  image: string;
  /** The bottle's labels (slug, agent, owner, created...); the role is added here. */
  labels: Readonly<Record<string, string>>;
  limits: ResourceLimits;
  /** The host files (prepareBundleFiles). */
  mounts: readonly Mount[];
  /** Where the bundle's sockets go: a docker volume, or a host folder the backend shares with its bottle. */
  sockets: string;
  /** The docker network the bundle uses to reach upstreams. */
  network: string;
}

/** The `docker run` argv of a bundle. */
export function bundleRunArgs(o: BundleRun): string[] {
  return [
    'run', '-d', '--init', '--name', bundleName(o.plan.slug),
    ...labelArgs({ ...o.labels, [LABEL_ROLE]: 'bundle' }),
    '--network', o.network,
    // Fixed, whatever the bottle's limits: its bottle cannot starve it, and it bounds what it spends for its bottle.
    ...limitArgs(o.limits),
    '--cap-drop', 'ALL', ...BUNDLE_CAPS.flatMap((c) => ['--cap-add', c]),
    '--security-opt', 'no-new-privileges',
    ...mountArgs([{ host: o.sockets, guest: SOCKET_DIR, readOnly: false }, ...o.mounts]),
    // Secrets pass by name: docker reads the values from its own env, so they are in neither argv nor the bottle.
    ...o.plan.egress.secretEnv.flatMap((name) => ['-e', name]),
    o.image,
  ];
}

/** The routed secrets' values, for the docker CLI's env only (`docker run -e NAME` reads them there). */
function secretValues(names: readonly string[], env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) if (env[n] !== undefined) out[n] = env[n]!;
  return out;
}

/** Starts the bundle container; `env` holds the secrets' values (the backend's env, which may not be process.env). */
export async function startBundle(o: BundleRun, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<void> {
  await dockerOk(bundleRunArgs(o), 'starting the bundle', { ...(signal ? { signal } : {}), timeoutMs: 60_000, env: secretValues(o.plan.egress.secretEnv, env) });
}

/**
 * Resolves once the bundle has written its ready marker into the log dir; rejects when it stopped
 * while starting (asked of the engine now and then) or did not come up in time.
 */
export async function waitForBundle(slug: string, logDir: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
  const file = path.join(logDir, BUNDLE_READY_MARKER);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  const name = bundleName(slug);
  let checks = 0;
  while (Date.now() < deadline) {
    if (options.signal?.aborted) throw new BottleError('INTERRUPTED', 'interrupted', { exit: EXIT_INTERRUPTED });
    if (await stat(file).catch(() => null)) return;
    // Now and then, ask the engine whether the bundle died instead of waiting out the timeout.
    if (++checks % 50 === 0) {
      const r = await docker(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', name]);
      if (!r.stdout.startsWith('running')) {
        const why = (await docker(['logs', '--tail', '5', name])).stderr.trim() || r.stdout.trim();
        throw new BottleError('BACKEND_FAILED', `the bundle stopped while starting: ${why}`, { suggestions: ['Re-run with BOTTLE_DEBUG=1; `docker logs` of the bundle shows why.'] });
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new BottleError('BACKEND_FAILED', `the bundle did not become ready within ${timeoutMs / 1000}s`, { suggestions: ['Check `docker logs` of the bundle container; re-run with BOTTLE_DEBUG=1.'] });
}

/** Removes the bundle container (gone already is fine). */
export async function removeBundle(slug: string): Promise<void> {
  await docker(['rm', '-f', '-v', bundleName(slug)], { timeoutMs: 60_000 });
}
