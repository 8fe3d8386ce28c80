/**
 * Resource limits: the memory, CPU and processes a bottle and its bundle may use. Without them one
 * agent (a runaway build, a leak, a fork bomb) can take the whole host, and with it its own bundle
 * and every other bottle's. The bottle's limits come from the manifest's `limits` or the defaults
 * below; the bundle's are fixed here, so nothing a manifest or a bottle does can shrink or grow them.
 */
import { availableParallelism, totalmem } from 'node:os';

/** A bottle's `limits` as the manifest writes them. */
export interface LimitsConfig {
  /** `512m`, `4g`, `1.5g`: MiB or GiB, as docker reads them. */
  memory?: string;
  cpus?: number;
  pids?: number;
}

/** The machine the defaults are computed from: this host, or the engine a backend runs on. */
export interface HostResources {
  memoryBytes: number;
  cpus: number;
}

/** Limits as a backend applies them to one sandbox (a container, a VM). */
export interface ResourceLimits {
  /** `memoryBytes` for people: `4g`, `11990m`. */
  memory: string;
  memoryBytes: number;
  /** Memory plus swap. Equal to `memoryBytes`: a sandbox that may swap beyond its memory limit is not limited. */
  memorySwapBytes: number;
  /** The most CPU time it may use, in cores (docker `--cpus`). */
  cpus: number;
  /** Its weight when the host's cores are all busy (docker `--cpu-shares`; 1024 is docker's default). */
  cpuShares: number;
  /** The most processes and threads at once. */
  pids: number;
  /** The host OOM killer's preference, -1000 (never) to 1000 (first). */
  oomScoreAdj: number;
}

export interface LimitsPlan {
  bottle: ResourceLimits;
  bundle: ResourceLimits;
  /** The manifest's `limits` as written (`{}` when absent); a backend whose engine is another machine resolves it again. */
  requested: LimitsConfig;
  /** The machine the bottle's defaults were computed from. */
  host: HostResources;
  /** How each bottle value was chosen (a default, or a request cut to what the machine has), one line each. */
  notes: string[];
}

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

export const MEMORY_MIN_BYTES = 256 * MIB;
export const MEMORY_MAX_BYTES = 1024 * GIB;
export const CPUS_MIN = 0.01;
export const CPUS_MAX = 1024;
export const PIDS_MIN = 256;
export const PIDS_MAX = 65536;

/** A bottle's default process limit: far above what an agent, its tools and a parallel build use, far below what exhausts the host. */
export const DEFAULT_BOTTLE_PIDS = 4096;
/** The bottle is the first thing the host's OOM killer takes: nothing on the host is less precious than a sandboxed agent's work. */
export const BOTTLE_OOM_SCORE_ADJ = 1000;
export const BOTTLE_CPU_SHARES = 1024;

/**
 * The bundle's limits, the same for every bottle. The egress gateway and git-gate run in one Node
 * process (~60 MiB) plus a git process per git connection; 1 GiB leaves room for git packing a large
 * repository. Its cores (`bundleLimits`) bound what a bottle can make its bundle spend for it. Four times the bottle's
 * CPU weight and a lower OOM preference keep the bundle answering while its bottle (or another) is
 * busy or out of memory. The OOM preference is 0, not negative: lowering it needs CAP_SYS_RESOURCE in
 * the engine, which rootless and some sandboxed engines do not have; 0 against the bottle's 1000
 * orders them all the same.
 */
export const BUNDLE_LIMITS: Readonly<ResourceLimits> = Object.freeze({
  memory: '1g',
  memoryBytes: GIB,
  memorySwapBytes: GIB,
  cpus: 1,
  cpuShares: 4 * BOTTLE_CPU_SHARES,
  pids: 1024,
  oomScoreAdj: 0,
});

/** The most cores a bundle may use, whatever the machine has. */
export const BUNDLE_CPUS_MAX = 4;

/**
 * The bundle's limits on a machine with `hostCpus` usable cores: BUNDLE_LIMITS with half of those
 * cores (1 to BUNDLE_CPUS_MAX), so the egress gateway, which runs one process per two cores of its
 * quota, uses more than one core where the machine has them to spare, and a bottle still cannot
 * make its bundle take the machine. No manifest value reaches these.
 */
export function bundleLimits(hostCpus: number): ResourceLimits {
  return { ...BUNDLE_LIMITS, cpus: Math.min(BUNDLE_CPUS_MAX, Math.max(1, Math.floor(hostCpus / 2))) };
}

export const MEMORY_RULE = 'memory must be like 512m or 4g (a number followed by m for MiB or g for GiB, in quotes)';

/** Bytes for `512m`, `4g`, `1.5g` (any case, spaces around it ignored), or null when it is not that shape. */
export function parseMemory(s: string): number | null {
  const m = /^(\d+(?:\.\d+)?)([mg])$/.exec(s.trim().toLowerCase());
  if (!m) return null;
  const bytes = Math.round(Number(m[1]) * (m[2] === 'g' ? GIB : MIB));
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/** `4g` for whole GiB, else `N m` for whole MiB, else bytes. */
export function formatMemory(bytes: number): string {
  if (bytes % GIB === 0) return `${bytes / GIB}g`;
  if (bytes % MIB === 0) return `${bytes / MIB}m`;
  return `${bytes}b`;
}

/** Why `x` cannot be a bottle's `limits.memory`, or null when it can. */
export function memoryProblem(x: unknown): string | null {
  if (typeof x !== 'string') return `${MEMORY_RULE}, not ${shown(x)}`;
  const bytes = parseMemory(x);
  if (bytes === null) return `${MEMORY_RULE}, not ${JSON.stringify(x)}`;
  if (bytes < MEMORY_MIN_BYTES) return `memory must be at least ${formatMemory(MEMORY_MIN_BYTES)} (the bottle's own services and the agent need that much), not ${JSON.stringify(x)}`;
  if (bytes > MEMORY_MAX_BYTES) return `memory must be at most ${formatMemory(MEMORY_MAX_BYTES)}, not ${JSON.stringify(x)}; leave "memory" out for the default (half of the host's)`;
  return null;
}

/** Why `x` cannot be a bottle's `limits.cpus`, or null when it can. */
export function cpusProblem(x: unknown): string | null {
  const rule = `cpus must be a number of cores from ${CPUS_MIN} to ${CPUS_MAX}, such as 2 or 0.5`;
  if (typeof x !== 'number' || !Number.isFinite(x)) return `${rule}, not ${shown(x)}${quoted(x)}`;
  if (x < CPUS_MIN || x > CPUS_MAX) return `${rule}, not ${x}`;
  return null;
}

/** Why `x` cannot be a bottle's `limits.pids`, or null when it can. */
export function pidsProblem(x: unknown): string | null {
  const rule = `pids must be a whole number from ${PIDS_MIN} to ${PIDS_MAX} (the most processes and threads the bottle runs at once)`;
  if (typeof x !== 'number' || !Number.isInteger(x)) return `${rule}, not ${shown(x)}${quoted(x)}`;
  if (x < PIDS_MIN || x > PIDS_MAX) return `${rule}, not ${x}`;
  return null;
}

function shown(x: unknown): string {
  if (typeof x === 'string') return `the string ${JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}...` : x)}`;
  if (typeof x === 'number') return String(x);
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? 'an object' : String(x);
}

function quoted(x: unknown): string {
  return typeof x === 'string' && x.trim() !== '' && Number.isFinite(Number(x)) ? '; write the number without quotes' : '';
}

/** This machine's memory and usable cores (its CPU affinity, not only the cores it has). */
export function hostResources(): HostResources {
  return { memoryBytes: totalmem(), cpus: availableParallelism() };
}

/**
 * The bottle's limits from the manifest's `limits` and the machine, and the bundle's fixed ones.
 * Defaults: memory half of the machine's (the other half stays for the host, the bundle and other
 * bottles; at least 256m), cpus every core (a busy bottle still yields to its bundle, which weighs
 * four times as much), pids 4096. Swap is never more than none: memory plus swap equals memory.
 * Expects a config the manifest schema accepted.
 */
export function resolveLimits(requested: LimitsConfig, host: HostResources): LimitsPlan {
  const notes: string[] = [];
  const hostCpus = Math.max(1, Math.floor(host.cpus));
  const hostMemory = formatMemory(Math.floor(host.memoryBytes / MIB) * MIB);

  let memoryBytes: number;
  if (requested.memory !== undefined) {
    memoryBytes = parseMemory(requested.memory) ?? MEMORY_MIN_BYTES;
  } else {
    memoryBytes = Math.max(MEMORY_MIN_BYTES, Math.floor(host.memoryBytes / 2 / MIB) * MIB);
    notes.push(`memory ${formatMemory(memoryBytes)}: the default, half of the machine's ${hostMemory}; set limits.memory to change it`);
  }

  let cpus: number;
  if (requested.cpus === undefined) {
    cpus = hostCpus;
    notes.push(`cpus ${cpus}: the default, every core of the machine; set limits.cpus to change it`);
  } else if (requested.cpus > hostCpus) {
    // A manifest written on a bigger machine still runs here; the engine refuses more cores than it has.
    cpus = hostCpus;
    notes.push(`cpus ${cpus}: limits.cpus asks for ${requested.cpus}, more than the machine's ${hostCpus} cores`);
  } else {
    cpus = requested.cpus;
  }

  const pids = requested.pids ?? DEFAULT_BOTTLE_PIDS;
  if (requested.pids === undefined) notes.push(`pids ${pids}: the default; set limits.pids to change it`);

  return {
    bottle: {
      memory: formatMemory(memoryBytes),
      memoryBytes,
      memorySwapBytes: memoryBytes,
      cpus,
      cpuShares: BOTTLE_CPU_SHARES,
      pids,
      oomScoreAdj: BOTTLE_OOM_SCORE_ADJ,
    },
    bundle: bundleLimits(hostCpus),
    requested: { ...requested },
    host: { memoryBytes: host.memoryBytes, cpus: hostCpus },
    notes,
  };
}
