/**
 * The docker backend. The bottle is a container with no network interface but loopback
 * (`--network none`); its bundle is a sidecar container whose services listen only on unix sockets
 * in a volume that the two of them, and nothing else, mount. A forwarder in the bottle maps the
 * loopback ports of core's BUNDLE_SERVICES table onto those sockets. With no route, no DNS and no
 * address to aim at, the bottle cannot reach the host, other containers, other bottles or metadata
 * services, on a Linux engine and on Docker Desktop alike.
 */
import { spawn } from 'node:child_process';
import { fstatSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  BUNDLE_READY_MARKER,
  BottleError,
  EXIT_INTERRUPTED,
  EXIT_USAGE,
  agentEnv,
  resolveLimits,
  stateHome,
  type Backend,
  type BottlePlan,
  type BottleStatus,
  type DoctorCheck,
  type GcReport,
  type LaunchProgress,
  type LaunchedBottle,
  type LimitsPlan,
  type ResourceLimits,
} from '@bot-bottle/core';
import { docker, dockerOk } from './docker-cli.js';
import { ensureImages, type ImageSettings } from './images.js';
import { BUNDLE_EGRESS_DIR, prepareBundleFiles } from './bundle-files.js';
import {
  AGENT_ENDPOINTS,
  forwarderArgs,
  LABEL,
  LABEL_AGENT,
  LABEL_CREATED,
  LABEL_OWNER,
  LABEL_ROLE,
  LABEL_SLUG,
  SOCKET_DIR,
  bundleName,
  containerName,
  socketVolumeName,
} from './names.js';
import { KEEP, ownerGone, ownerId } from './owner.js';
import { DockerTarget } from './target.js';

export interface DockerLaunchOptions {
  progress: LaunchProgress;
  signal?: AbortSignal;
  /** Leave the bottle running after the CLI exits (owner "keep"). */
  keep?: boolean;
  images?: ImageSettings;
  /** Hook to prepare bundle files on the host before the bundle starts (e.g. the egress CA). */
  prepareBundle?: (plan: BottlePlan, bundleDir: string) => Promise<Record<string, unknown>>;
}

export interface StateRecord {
  slug: string;
  agent: string;
  backend: 'docker';
  createdAt: string;
  owner: string;
  manifestPath: string;
}

const BOTTLE_CAPS = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID', 'KILL'];
/**
 * The bundle's supervisor stays root with only these: CHOWN and DAC_OVERRIDE to read the host's
 * CA key and identity files and hand the services what they need (the socket folder, the git
 * user's copies, the audit log), SETUID/SETGID to start the services as their own users, KILL to
 * stop them. Every service process runs with none.
 */
const BUNDLE_CAPS = ['CHOWN', 'DAC_OVERRIDE', 'SETUID', 'SETGID', 'KILL'];

/** The routed secrets' values, for the docker CLI's env only (`docker run -e NAME` reads them there). */
function secretValues(names: readonly string[], env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) if (env[n] !== undefined) out[n] = env[n]!;
  return out;
}

function labelArgs(labels: Record<string, string>): string[] {
  return Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
}

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

export interface EngineInfo {
  cpus: number;
  memoryBytes: number;
  /** Limits the engine says it cannot enforce (its kernel or cgroup setup lacks them). */
  unenforced: string[];
}

/** The engine's machine (on Docker Desktop a VM, not this host) and which limits it enforces; null when it does not say. */
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

async function waitForFile(file: string, timeoutMs: number, signal?: AbortSignal, alive?: () => Promise<string | null>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let checks = 0;
  while (Date.now() < deadline) {
    if (signal?.aborted) throw new BottleError('INTERRUPTED', 'interrupted', { exit: EXIT_INTERRUPTED });
    if (await stat(file).catch(() => null)) return;
    // Now and then, ask the engine whether the bundle died instead of waiting out the timeout.
    if (alive && ++checks % 50 === 0) {
      const why = await alive();
      if (why) throw new BottleError('BACKEND_FAILED', `the bundle stopped while starting: ${why}`, { suggestions: ['Re-run with BOTTLE_DEBUG=1; `docker logs` of the bundle shows why.'] });
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new BottleError('BACKEND_FAILED', `the bundle did not become ready within ${timeoutMs / 1000}s`, { suggestions: ['Check `docker logs` of the bundle container; re-run with BOTTLE_DEBUG=1.'] });
}

export class DockerBackend implements Backend {
  readonly name = 'docker';

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  private stateRoot(): string {
    return path.join(stateHome(this.env), 'bottles');
  }

  async doctor(): Promise<DoctorCheck[]> {
    const checks: DoctorCheck[] = [];
    const v = await docker(['version', '--format', '{{.Client.Version}}|{{.Server.Version}}'], { timeoutMs: 15_000 }).catch((e: unknown) => e as Error);
    if (v instanceof Error) {
      const missing = v instanceof BottleError && /not installed/.test(v.message);
      checks.push({ name: 'docker client', ok: !missing, detail: missing ? 'not installed' : 'installed', ...(missing ? { fix: 'apt-get install docker.io (Debian) or install Docker Desktop' } : {}) });
      checks.push({ name: 'docker engine', ok: false, detail: v.message, fix: 'sudo systemctl start docker (or start Docker Desktop)' });
      return checks;
    }
    const [client, server] = v.stdout.trim().split('|');
    checks.push({ name: 'docker client', ok: true, detail: client || 'installed' });
    if (v.exitCode !== 0 || !server) {
      checks.push({ name: 'docker engine', ok: false, detail: `not reachable: ${v.stderr.trim().split('\n')[0] ?? ''}`, fix: 'sudo systemctl start docker (or start Docker Desktop; as root without systemd: dockerd &)' });
    } else {
      checks.push({ name: 'docker engine', ok: true, detail: `reachable, version ${server}` });
      const engine = await engineInfo();
      if (engine) {
        const missing = engine.unenforced;
        checks.push({
          name: 'resource limits',
          ok: missing.length === 0,
          detail: missing.length ? `the engine cannot enforce: ${missing.join(', ')}; a bottle may use more than its limits` : `memory, swap, cpus and pids enforced (engine: ${engine.cpus} cores, ${Math.round(engine.memoryBytes / 2 ** 30)} GiB)`,
          ...(missing.length
            ? { fix: missing.includes('swap') && missing.length === 1 ? 'enable swap accounting: boot the host with cgroup v2 (systemd.unified_cgroup_hierarchy=1) or with swapaccount=1' : 'use cgroup v2; for rootless docker, delegate the cpu, memory and pids controllers to the user (systemd Delegate=yes)' }
            : {}),
        });
      }
    }
    return checks;
  }

  async launch(plan: BottlePlan, options: DockerLaunchOptions): Promise<LaunchedBottle> {
    const { progress, signal } = options;
    const slug = plan.slug;
    const bottle = containerName(slug);
    const bundle = bundleName(slug);
    const volume = socketVolumeName(slug);
    const owner = options.keep ? KEEP : ownerId();
    const labels = { ...plan.labels, [LABEL]: '1', [LABEL_SLUG]: slug, [LABEL_AGENT]: plan.agentName, [LABEL_OWNER]: owner, [LABEL_CREATED]: plan.labels[LABEL_CREATED] ?? new Date().toISOString() };

    let destroyed = false;
    const destroy = async () => {
      if (destroyed) return;
      destroyed = true;
      await removeBottle(slug, this.stateRoot());
    };

    try {
      // The state record comes first, so that an interrupted launch is always found by `gc`.
      await mkdir(plan.stateDir, { recursive: true, mode: 0o700 });
      await mkdir(plan.stageDir, { recursive: true, mode: 0o700 });
      const record: StateRecord = { slug, agent: plan.agentName, backend: 'docker', createdAt: labels[LABEL_CREATED], owner, manifestPath: plan.manifestPath };
      await writeFile(path.join(plan.stateDir, 'bottle.json'), JSON.stringify(record, null, 2) + '\n', { mode: 0o600 });
      await writeFile(path.join(plan.stateDir, 'plan.json'), JSON.stringify(plan, null, 2) + '\n', { mode: 0o600 });

      progress('images');
      // Independent steps overlap: the image check (docker), the bundle's files and the bottle's CA
      // (this process), and the socket volume (docker).
      const steps = await Promise.allSettled([
        ensureImages({ env: this.env, ...options.images, progress: (m) => progress('images', m), ...(signal ? { signal } : {}) }),
        (async () => {
          const dirs = await prepareBundleFiles(plan, this.env);
          const extra = options.prepareBundle ? await options.prepareBundle(plan, dirs.bundleDir) : {};
          if (Object.keys(extra).length) {
            const cfgPath = path.join(dirs.bundleDir, 'bundle.json');
            const cfg = JSON.parse(await readFile(cfgPath, 'utf8')) as Record<string, unknown>;
            await writeFile(cfgPath, JSON.stringify({ ...cfg, ...extra }, null, 2) + '\n', { mode: 0o644 });
          }
          return dirs;
        })(),
        dockerOk(['volume', 'create', ...labelArgs({ ...labels, [LABEL_ROLE]: 'sockets' }), volume], 'creating the socket volume', { signal }),
        engineInfo(signal),
      ]);
      for (const r of steps) if (r.status === 'rejected') throw r.reason;
      const engine = (steps[3] as PromiseFulfilledResult<EngineInfo | null>).value;
      const limits = limitsForEngine(plan.limits, engine);
      if (limits !== plan.limits) {
        progress('limits', `the engine's machine has ${engine!.cpus} cores and ${Math.round(engine!.memoryBytes / 2 ** 20)} MiB: bottle memory ${limits.bottle.memory}, cpus ${limits.bottle.cpus}`);
        await writeFile(path.join(plan.stateDir, 'plan.json'), JSON.stringify({ ...plan, limits }, null, 2) + '\n', { mode: 0o600 });
        // The gateway's processes follow the bundle's share of the engine's machine, not the planner's.
        const cfgPath = path.join((steps[1] as PromiseFulfilledResult<{ bundleDir: string }>).value.bundleDir, 'bundle.json');
        const cfg = JSON.parse(await readFile(cfgPath, 'utf8')) as { egress: Record<string, unknown> };
        cfg.egress.workers = Math.max(1, Math.floor(limits.bundle.cpus));
        await writeFile(cfgPath, JSON.stringify(cfg, null, 2) + '\n', { mode: 0o644 });
      }
      if (engine?.unenforced.length) progress('limits', `the docker engine cannot enforce these limits: ${engine.unenforced.join(', ')} (see \`bottle doctor\`)`);
      const images = (steps[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof ensureImages>>>).value;
      const dirs = (steps[1] as PromiseFulfilledResult<Awaited<ReturnType<typeof prepareBundleFiles>>>).value;

      progress('bundle');
      // The two containers start together: the bottle's forwarder reaches the bundle's sockets per
      // connection, so it needs nothing from the bundle until the bundle says it is ready.
      const bundleNetwork = this.env.BOT_BOTTLE_BUNDLE_NETWORK || 'bridge';
      const env = agentEnv(plan, AGENT_ENDPOINTS);
      const startBundle = dockerOk(
        [
          'run', '-d', '--init', '--name', bundle,
          ...labelArgs({ ...labels, [LABEL_ROLE]: 'bundle' }),
          '--network', bundleNetwork,
          // Fixed, whatever the bottle's limits: its bottle cannot starve it, and it bounds what it spends for its bottle.
          ...limitArgs(limits.bundle),
          '--cap-drop', 'ALL', ...BUNDLE_CAPS.flatMap((c) => ['--cap-add', c]),
          '--security-opt', 'no-new-privileges',
          '-v', `${volume}:${SOCKET_DIR}`,
          '-v', `${dirs.bundleDir}:/etc/bot-bottle:ro`,
          '-v', `${dirs.egressDir}:${BUNDLE_EGRESS_DIR}:ro`,
          '-v', `${dirs.logDir}:/var/log/bot-bottle`,
          '-v', `${dirs.controlDir}:/run/bot-bottle-control`,
          ...dirs.mounts,
          // Secrets pass by name: docker reads the values from this process's env, so they are in
          // neither argv nor the bottle.
          ...plan.egress.secretEnv.flatMap((name) => ['-e', name]),
          images.bundle,
        ],
        'starting the bundle',
        // The values come from this backend's env (which may not be process.env), never from argv.
        { signal, timeoutMs: 60_000, env: secretValues(plan.egress.secretEnv, this.env) },
      );

      progress('bottle');
      const startBottle = dockerOk(
        [
          'run', '-d', '--init', '--name', bottle,
          ...labelArgs({ ...labels, [LABEL_ROLE]: 'bottle' }),
          '--network', 'none',
          '--cap-drop', 'ALL', ...BOTTLE_CAPS.flatMap((c) => ['--cap-add', c]),
          '--security-opt', 'no-new-privileges',
          ...limitArgs(limits.bottle),
          // Read-only: the bottle connects to the sockets (which a read-only mount allows) and
          // reads the ready marker, and can put nothing there for the bundle to trip on.
          '-v', `${volume}:${SOCKET_DIR}:ro`,
          ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
          images.agent,
          // The forwarder's port-to-socket map, from the table the bundle names its sockets by.
          ...forwarderArgs(),
        ],
        'starting the bottle',
        { signal, timeoutMs: 60_000 },
      );

      const started = await Promise.allSettled([startBundle, startBottle]);
      for (const r of started) if (r.status === 'rejected') throw r.reason;

      // The bundle finishes starting while provisioning runs; the bottle's forwarder holds any
      // connection made before then. A bundle that dies or hangs fails the launch at attach.
      let interactive = false;
      const stopWaiting = new AbortController();
      const waitSignal = signal ? AbortSignal.any([signal, stopWaiting.signal]) : stopWaiting.signal;
      const ready = waitForFile(path.join(dirs.logDir, BUNDLE_READY_MARKER), 30_000, waitSignal, async () => {
        const r = await docker(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', bundle]);
        return r.stdout.startsWith('running') ? null : (await docker(['logs', '--tail', '5', bundle])).stderr.trim() || r.stdout.trim();
      }).then(() => {
        // Not in the middle of an interactive session: a log line would land in the agent's screen.
        if (!interactive) progress('bundle ready');
      });
      ready.catch(() => undefined); // observed by attach (and by whoever awaits `ready`)

      const target = new DockerTarget(bottle);
      return {
        slug,
        target,
        endpoints: { ...AGENT_ENDPOINTS },
        ready,
        attach: async (argv, o) => {
          await target.close(); // provisioning is over; the agent's command runs on its own exec
          interactive = o.tty;
          const failed = ready.then(() => new Promise<never>(() => undefined));
          const code = await Promise.race([attach(bottle, argv, { tty: o.tty, env: o.env ?? {}, workdir: plan.guest.workspace }), failed]);
          // A kept bottle is handed over only once its bundle is known to be up.
          if (options.keep) await ready;
          return code;
        },
        destroy: async () => {
          stopWaiting.abort(); // nothing left to wait for; and the wait must not hold the process
          await target.close();
          await destroy();
        },
      };
    } catch (e) {
      await destroy().catch(() => undefined);
      throw e;
    }
  }

  async list(): Promise<BottleStatus[]> {
    const r = await docker(['ps', '-a', '--filter', `label=${LABEL}`, '--format', '{{json .}}']);
    if (r.exitCode !== 0) throw new BottleError('BACKEND_FAILED', `listing containers failed: ${r.stderr.trim()}`);
    const bySlug = new Map<string, { agent: string; created: string; roles: Map<string, string>; owner: string }>();
    for (const line of r.stdout.split('\n').filter(Boolean)) {
      const c = JSON.parse(line) as { Labels: string; State: string };
      const labels = Object.fromEntries(c.Labels.split(',').map((kv) => { const i = kv.indexOf('='); return [kv.slice(0, i), kv.slice(i + 1)]; }));
      const slug = labels[LABEL_SLUG];
      if (!slug) continue;
      const entry = bySlug.get(slug) ?? { agent: labels[LABEL_AGENT] ?? '?', created: labels[LABEL_CREATED] ?? '', roles: new Map(), owner: labels[LABEL_OWNER] ?? '' };
      entry.roles.set(labels[LABEL_ROLE] ?? 'unknown', c.State);
      bySlug.set(slug, entry);
    }
    const out: BottleStatus[] = [];
    for (const [slug, e] of bySlug) {
      const b = e.roles.get('bottle');
      const u = e.roles.get('bundle');
      let state: BottleStatus['state'] = b === 'running' && u === 'running' ? 'running' : b === 'created' || u === 'created' ? 'starting' : 'exited';
      if (ownerGone(e.owner)) state = 'orphaned';
      out.push({ slug, agent: e.agent, backend: 'docker', state, createdAt: e.created, detail: `bottle ${b ?? 'missing'}, bundle ${u ?? 'missing'}${e.owner === KEEP ? ', kept' : ''}` });
    }
    // State dirs whose containers are gone are half-launched or crashed bottles: say so.
    for (const rec of await readRecords(this.stateRoot())) {
      if (bySlug.has(rec.slug)) continue;
      out.push({ slug: rec.slug, agent: rec.agent, backend: 'docker', state: 'orphaned', createdAt: rec.createdAt, detail: 'no containers; state left behind' });
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async exec(slug: string, argv: readonly string[], options: { tty: boolean }): Promise<number> {
    const name = containerName(slug);
    const r = await docker(['inspect', '--format', '{{.State.Running}}|{{index .Config.Labels "bot-bottle.slug"}}|{{.Config.WorkingDir}}', name]);
    if (r.exitCode !== 0 || !r.stdout.includes(`|${slug}|`)) {
      throw new BottleError('BOTTLE_NOT_FOUND', `no bottle named ${slug}`, { suggestions: ['List bottles with `bottle ls`.'], exit: EXIT_USAGE });
    }
    if (!r.stdout.startsWith('true')) throw new BottleError('BOTTLE_NOT_FOUND', `bottle ${slug} is not running`, { suggestions: [`Remove it with \`bottle stop ${slug}\`.`] });
    return attach(name, argv, { tty: options.tty, env: {}, workdir: '/home/node/workspace' });
  }

  async stop(slug: string): Promise<void> {
    const found = (await this.list()).some((b) => b.slug === slug);
    if (!found) throw new BottleError('BOTTLE_NOT_FOUND', `no bottle named ${slug}`, { suggestions: ['List bottles with `bottle ls`.'], exit: EXIT_USAGE });
    await removeBottle(slug, this.stateRoot());
  }

  async gc(options: { dryRun: boolean }): Promise<GcReport> {
    const report: GcReport = { removed: [], kept: [] };
    const owners = new Map<string, string>();
    const things: { kind: 'container' | 'volume' | 'network'; name: string; slug: string }[] = [];
    for (const kind of ['container', 'volume', 'network'] as const) {
      const args = kind === 'container' ? ['ps', '-a'] : [kind, 'ls'];
      const fmt = kind === 'container' ? '{{.Names}}' : '{{.Name}}';
      const r = await docker([...args, '--filter', `label=${LABEL}`, '--format', `${fmt}|{{.Label "${LABEL_SLUG}"}}|{{.Label "${LABEL_OWNER}"}}`]);
      for (const line of r.stdout.split('\n').filter(Boolean)) {
        const [name = '', slug = '', owner = ''] = line.split('|');
        things.push({ kind, name, slug });
        if (owner && !owners.has(slug)) owners.set(slug, owner);
      }
    }
    const records = await readRecords(this.stateRoot());
    for (const rec of records) if (!owners.has(rec.slug)) owners.set(rec.slug, rec.owner);
    const slugs = new Set([...things.map((t) => t.slug), ...records.map((r) => r.slug)]);
    for (const slug of slugs) {
      const owner = owners.get(slug);
      const mine = things.filter((t) => t.slug === slug).map((t) => `${t.kind} ${t.name}`);
      const stateDir = records.some((r) => r.slug === slug) ? [`state ${path.join(this.stateRoot(), slug)}`] : [];
      if (!ownerGone(owner) && !(owner === KEEP && mine.length === 0)) {
        report.kept.push(...mine.map((m) => `${m} (owner ${owner === KEEP ? 'kept with --keep' : 'alive'})`));
        continue;
      }
      report.removed.push(...mine, ...stateDir);
      if (!options.dryRun) await removeBottle(slug, this.stateRoot());
    }
    return report;
  }
}

async function readRecords(root: string): Promise<StateRecord[]> {
  const names = await readdir(root).catch(() => [] as string[]);
  const out: StateRecord[] = [];
  for (const n of names) {
    const text = await readFile(path.join(root, n, 'bottle.json'), 'utf8').catch(() => null);
    if (text) {
      try {
        const rec = JSON.parse(text) as StateRecord;
        if (rec.backend === 'docker') out.push(rec);
      } catch {
        out.push({ slug: n, agent: '?', backend: 'docker', createdAt: '', owner: '', manifestPath: '' });
      }
    } else if ((await stat(path.join(root, n)).catch(() => null))?.isDirectory()) {
      // A launch killed before its record was complete: no owner, so gc takes it.
      out.push({ slug: n, agent: '?', backend: 'docker', createdAt: '', owner: '', manifestPath: '' });
    }
  }
  return out;
}

/** Removes a bottle's containers, volume and state dir; each step tolerates "already gone". */
export async function removeBottle(slug: string, stateRoot: string): Promise<void> {
  await docker(['rm', '-f', '-v', containerName(slug), bundleName(slug)], { timeoutMs: 60_000 });
  // The socket volume is the only volume a bottle has, and its name is known.
  await docker(['volume', 'rm', '-f', socketVolumeName(slug)], { timeoutMs: 60_000 });
  await rm(path.join(stateRoot, slug), { recursive: true, force: true });
}

/** True when stdin is something worth forwarding (a TTY, a pipe or a file; not /dev/null or closed). */
function stdinIsInput(): boolean {
  try {
    const st = fstatSync(0);
    return st.isFIFO() || st.isFile() || st.isSocket() || process.stdin.isTTY === true;
  } catch {
    return false;
  }
}

function attach(container: string, argv: readonly string[], o: { tty: boolean; env: Record<string, string>; workdir: string }): Promise<number> {
  const args = ['exec'];
  if (stdinIsInput()) args.push('-i');
  if (o.tty) args.push('-t');
  args.push('-u', 'node', '-w', o.workdir);
  for (const [k, v] of Object.entries(o.env)) args.push('-e', `${k}=${v}`);
  args.push(container, ...argv);
  return new Promise((resolve, reject) => {
    const child = spawn(process.env.BOT_BOTTLE_DOCKER || 'docker', args, { stdio: [stdinIsInput() ? 'inherit' : 'ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code, sig) => resolve(code ?? (sig ? 128 + 2 : 1)));
  });
}
