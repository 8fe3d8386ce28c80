/**
 * The docker backend. The bottle is a container with no network interface but loopback
 * (`--network none`); its bundle is a sidecar container whose services listen only on unix sockets
 * in a volume that the two of them, and nothing else, mount. A forwarder in the bottle maps the
 * loopback ports of core's BUNDLE_SERVICES table onto those sockets. With no route, no DNS and no
 * address to aim at, the bottle cannot reach the host, other containers, other bottles or metadata
 * services, on a Linux engine and on Docker Desktop alike.
 */
import type { Duplex } from 'node:stream';
import { spawn } from 'node:child_process';
import { fstatSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  BottleError,
  EXIT_USAGE,
  agentEnv,
  type Backend,
  type BottlePlan,
  type BottleStatus,
  type DoctorCheck,
  type GcReport,
  type LaunchProgress,
  type LaunchedBottle,
} from '@bot-bottle/core';
import {
  AGENT_ENDPOINTS,
  DOCKER,
  KEEP,
  LABEL,
  LABEL_AGENT,
  LABEL_CREATED,
  LABEL_OWNER,
  LABEL_ROLE,
  LABEL_SLUG,
  SOCKET_DIR,
  docker,
  dockerOk,
  engineInfo,
  forwarderArgs,
  labelArgs,
  launchedBottle,
  limitArgs,
  limitsForEngine,
  ownerId,
  prepareBundleFiles,
  readRecords,
  portChannel,
  portChannelCommand,
  reconcile,
  settleAll,
  removeBundle,
  startBundle,
  stateRoot,
  waitForBundle,
  writeBundleConfig,
  writeLaunchRecord,
  writePlanFile,
  type Reconciled,
  type Resource,
  type StateRecord,
} from '@bot-bottle/backend-kit';
import { agentImageSettings, ensureBottleImage, ensureImages, type ImageSettings } from '@bot-bottle/images';
import { containerName, socketVolumeName } from './names.js';
import { DockerTarget } from './target.js';

export interface DockerLaunchOptions {
  progress: LaunchProgress;
  signal?: AbortSignal;
  /** Leave the bottle running after the CLI exits (owner "keep"). */
  keep?: boolean;
  images?: ImageSettings;
  /** Hook to add keys to the bundle's config before the bundle starts (a test's broken config). */
  prepareBundle?: (plan: BottlePlan, bundleDir: string) => Promise<Record<string, unknown>>;
}

export type { StateRecord };

const FIX = {
  client: 'Install Docker: https://docs.docker.com/engine/install/ (Debian/Ubuntu: sudo apt-get install -y docker.io)',
  engine: 'Start the Docker engine: sudo systemctl start docker (Docker Desktop: open it; as root without systemd: dockerd &), and check that DOCKER_HOST, if set, points at it',
} as const;

const BOTTLE_CAPS = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID', 'KILL'];

export class DockerBackend implements Backend {
  readonly name = 'docker';

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  private stateRoot(): string {
    return stateRoot(this.env);
  }

  async doctor(): Promise<DoctorCheck[]> {
    const checks: DoctorCheck[] = [];
    const v = await docker(['version', '--format', '{{.Client.Version}}|{{.Server.Version}}'], { timeoutMs: 15_000 }).catch((e: unknown) => e as Error);
    if (v instanceof Error) {
      const missing = v instanceof BottleError && /not installed/.test(v.message);
      checks.push({ name: 'docker client', ok: !missing, detail: missing ? 'not installed (docker is not on PATH)' : 'installed', ...(missing ? { fix: FIX.client } : {}) });
      checks.push({ name: 'docker engine', ok: false, detail: missing ? 'not checked (no working docker client)' : v.message.replace(/^the docker engine is /, ''), fix: FIX.engine });
      return checks;
    }
    const [client, server] = v.stdout.trim().split('|');
    checks.push({ name: 'docker client', ok: true, detail: client || 'installed' });
    if (v.exitCode !== 0 || !server) {
      checks.push({ name: 'docker engine', ok: false, detail: `not reachable: ${v.stderr.trim().split('\n')[0] ?? ''}`, fix: FIX.engine });
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
    const volume = socketVolumeName(slug);
    const owner = options.keep ? KEEP : ownerId();
    const labels = { ...plan.labels, [LABEL]: '1', [LABEL_SLUG]: slug, [LABEL_AGENT]: plan.agentName, [LABEL_OWNER]: owner, [LABEL_CREATED]: plan.labels[LABEL_CREATED] ?? new Date().toISOString() };
    const remove = () => removeBottle(slug, this.stateRoot());

    try {
      // The state record comes first, so that an interrupted launch is always found by `gc`.
      await writeLaunchRecord(plan, { slug, agent: plan.agentName, backend: this.name, createdAt: labels[LABEL_CREATED], owner, manifestPath: plan.manifestPath });

      progress('images');
      // Independent steps overlap: the image check (docker), the bundle's files and the bottle's CA
      // (this process), the socket volume and the engine's machine (docker).
      const imageSettings = { env: this.env, ...options.images, ...agentImageSettings(plan), progress: (m: string) => progress('images', m), ...(signal ? { signal } : {}) };
      const [{ images, bottleImage }, files, , engine] = await settleAll([
        // The bottle's own image (the manifest's "image") gets the agent layer; else the agent image.
        ensureImages(imageSettings).then(async (images) => ({ images, bottleImage: await ensureBottleImage(plan.image, { ...imageSettings, images }) })),
        prepareBundleFiles(plan, this.env),
        dockerOk(['volume', 'create', ...labelArgs({ ...labels, [LABEL_ROLE]: 'sockets' }), volume], 'creating the socket volume', { signal }),
        engineInfo(signal),
      ] as const);
      const limits = limitsForEngine(plan.limits, engine);
      if (limits !== plan.limits) {
        progress('limits', `the engine's machine has ${engine!.cpus} cores and ${Math.round(engine!.memoryBytes / 2 ** 20)} MiB: bottle memory ${limits.bottle.memory}, cpus ${limits.bottle.cpus}`);
        await writePlanFile({ ...plan, limits });
      }
      if (engine?.unenforced.length) progress('limits', `the docker engine cannot enforce these limits: ${engine.unenforced.join(', ')} (see \`bottle doctor\`)`);
      // Written once, with the limits the bundle really runs with (its gateway's process count follows them).
      await writeBundleConfig(files, limits, options.prepareBundle ? await options.prepareBundle(plan, files.bundleDir) : {});

      progress('bundle');
      // The two containers start together: the bottle's forwarder reaches the bundle's sockets per
      // connection, so it needs nothing from the bundle until the bundle says it is ready.
      const startingBundle = startBundle(
        { plan, image: images.bundle, labels, limits: limits.bundle, mounts: files.mounts, sockets: volume, network: this.env.BOT_BOTTLE_BUNDLE_NETWORK || 'bridge' },
        this.env,
        signal,
      );
      progress('bottle');
      const env = agentEnv(plan, AGENT_ENDPOINTS);
      const startingBottle = dockerOk(
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
          bottleImage.ref,
          // The forwarder's port-to-socket map, from the table the bundle names its sockets by.
          ...forwarderArgs(),
        ],
        'starting the bottle',
        { signal, timeoutMs: 60_000 },
      );
      await settleAll([startingBundle, startingBottle] as const);

      // The bundle finishes starting while provisioning runs; the bottle's forwarder holds any
      // connection made before then. A bundle that dies or hangs fails the launch at attach.
      const stopWaiting = new AbortController();
      const ready = waitForBundle(slug, files.logDir, { signal: signal ? AbortSignal.any([signal, stopWaiting.signal]) : stopWaiting.signal });
      return launchedBottle({
        slug,
        target: new DockerTarget(bottle, true, bottleImage.execAgent),
        endpoints: AGENT_ENDPOINTS,
        ready,
        stopWaiting,
        keep: options.keep === true,
        progress,
        run: (argv, o) => attach(bottle, argv, { tty: o.tty, env: o.env, workdir: plan.guest.workspace }),
        remove,
      });
    } catch (e) {
      await remove().catch(() => undefined);
      throw e;
    }
  }

  /** What the engine holds for bottles, beside the records, per bottle (kit's reconcile). */
  private async reconciled(): Promise<Reconciled[]> {
    const resources: Resource[] = [];
    for (const kind of ['container', 'volume'] as const) {
      const args = kind === 'container' ? ['ps', '-a'] : ['volume', 'ls'];
      const fmt = kind === 'container' ? '{{.Names}}|{{.State}}' : '{{.Name}}|';
      const r = await docker([...args, '--filter', `label=${LABEL}`, '--format', `${fmt}|{{.Label "${LABEL_SLUG}"}}|{{.Label "${LABEL_OWNER}"}}|{{.Label "${LABEL_ROLE}"}}|{{.Label "${LABEL_AGENT}"}}|{{.Label "${LABEL_CREATED}"}}`]);
      if (r.exitCode !== 0) throw new BottleError('BACKEND_FAILED', `listing ${kind}s failed: ${r.stderr.trim()}`);
      for (const line of r.stdout.split('\n').filter(Boolean)) {
        const [name = '', status = '', slug = '', owner = '', role = '', agent = '', createdAt = ''] = line.split('|');
        // A container of another backend's bottle (its bundle) is that backend's to list.
        if (!slug || (await this.otherBackend(slug))) continue;
        resources.push({ slug, kind, name, role: role || 'unknown', status: kind === 'volume' ? 'present' : status, owner, agent, createdAt });
      }
    }
    return reconcile(await readRecords(this.stateRoot(), this.name), resources);
  }

  /** True when the bottle's record says another backend made it. */
  private async otherBackend(slug: string): Promise<boolean> {
    const rec = await readRecordOf(this.stateRoot(), slug);
    return rec !== null && rec.backend !== '' && rec.backend !== this.name;
  }

  async list(): Promise<BottleStatus[]> {
    return (await this.reconciled()).map((b) => ({ slug: b.slug, agent: b.agent, backend: this.name, state: b.state, createdAt: b.createdAt, detail: b.detail }));
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

  async connect(slug: string, port: number): Promise<Duplex> {
    const name = containerName(slug);
    const r = await docker(['inspect', '--format', '{{.State.Running}}|{{index .Config.Labels "bot-bottle.slug"}}', name]);
    if (r.exitCode !== 0 || r.stdout.trim() !== `true|${slug}`) throw new BottleError('BOTTLE_NOT_FOUND', `no running bottle named ${slug}`, { suggestions: ['List bottles with `bottle ls`.'], exit: EXIT_USAGE });
    return portChannel(spawn(DOCKER, ['exec', '-i', '-u', 'node', name, ...portChannelCommand(port)], { stdio: ['pipe', 'pipe', 'pipe'] }));
  }

  async stop(slug: string): Promise<void> {
    const found = (await this.list()).some((b) => b.slug === slug);
    if (!found) throw new BottleError('BOTTLE_NOT_FOUND', `no bottle named ${slug}`, { suggestions: ['List bottles with `bottle ls`.'], exit: EXIT_USAGE });
    await removeBottle(slug, this.stateRoot());
  }

  async gc(options: { dryRun: boolean }): Promise<GcReport> {
    const report: GcReport = { removed: [], kept: [] };
    for (const b of await this.reconciled()) {
      const mine = b.resources.map((r) => `${r.kind} ${r.name}`);
      if (!b.reclaim) {
        report.kept.push(...mine.map((m) => `${m} (owner ${b.owner === KEEP ? 'kept with --keep' : 'alive'})`));
        continue;
      }
      report.removed.push(...mine, ...(b.record ? [`state ${path.join(this.stateRoot(), b.slug)}`] : []));
      if (!options.dryRun) await removeBottle(b.slug, this.stateRoot());
    }
    return report;
  }
}

async function readRecordOf(root: string, slug: string): Promise<StateRecord | null> {
  const recs = await readFile(path.join(root, slug, 'bottle.json'), 'utf8').catch(() => null);
  if (!recs) return null;
  try {
    return JSON.parse(recs) as StateRecord;
  } catch {
    return null;
  }
}


/** Removes a bottle's containers, volume and state dir; each step tolerates "already gone". */
export async function removeBottle(slug: string, stateRoot: string): Promise<void> {
  await docker(['rm', '-f', '-v', containerName(slug)], { timeoutMs: 60_000 });
  await removeBundle(slug);
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
    const child = spawn(DOCKER, args, { stdio: [stdinIsInput() ? 'inherit' : 'ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code, sig) => resolve(code ?? (sig ? 128 + 2 : 1)));
  });
}
