/**
 * The smolmachines backend. The bottle is a smolvm microVM (its own kernel) booted from the same
 * agent image the docker bottle runs, with no guest network at all: no network device, no ports,
 * no allow-list. Its bundle is the same docker container the docker backend starts (the shared
 * layer's startBundle), with its sockets in a host folder instead of a volume; smolvm mounts each
 * socket into the guest (`--mount-socket`, bridged over vsock) at the path the image's forwarder
 * reaches, and the forwarder maps the guest's loopback ports onto them as in the docker bottle.
 * Provisioning goes through the image's exec agent over one `smolvm machine exec --interactive`.
 *
 * On a host where no guest can boot (no KVM, or a PVM-only /dev/kvm) a launch fails before it
 * creates anything, with the reason and the fix.
 */
import { spawn } from 'node:child_process';
import { fstatSync } from 'node:fs';
import { mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import {
  BottleError,
  EXIT_USAGE,
  GUEST_USER,
  GUEST_WORKSPACE,
  agentEnv,
  type Backend,
  type BottlePlan,
  type BottleStatus,
  type DoctorCheck,
  type GcReport,
  type LaunchProgress,
  type LaunchedBottle,
  type LimitsPlan,
} from '@bot-bottle/core';
import {
  AGENT_ENDPOINTS,
  EXEC_AGENT_PATH,
  KEEP,
  LABEL,
  LABEL_AGENT,
  LABEL_BACKEND,
  LABEL_CREATED,
  LABEL_OWNER,
  LABEL_ROLE,
  LABEL_SLUG,
  docker,
  engineInfo,
  forwarderArgs,
  launchedBottle,
  limitsForEngine,
  ownerId,
  prepareBundleFiles,
  readRecords,
  reconcile,
  settleAll,
  removeBundle,
  startBundle,
  stateRoot,
  waitForBundle,
  writeBundleConfig,
  writeLaunchRecord,
  writePlanFile,
  type CliSpec,
  type Reconciled,
  type Resource,
  type StateRecord,
  portChannel,
  portChannelCommand,
} from '@bot-bottle/backend-kit';
import { agentImageSettings, ensureImages, type ImageSettings } from '@bot-bottle/images';
import { HARDWARE_FIX, guestSupport, probeHost, type HostProbe } from './host-probe.js';
import { ensureImageArchive, imageArchiveDir } from './image-archive.js';
import {
  SMOLVM_VERSION,
  createArgs,
  deleteArgs,
  listArgs,
  parseMachineList,
  parseSmolvmError,
  smolvm,
  smolvmCli,
  smolvmOk,
  startArgs,
  statusArgs,
  targetExecArgs,
  type CreateOptions,
  type MachineRecord,
  type MachineRef,
} from './smolvm-cli.js';
import { listSocketFolders, makeSocketFolder, mountedSockets, newSocketFolder, removeSocketFolder, socketFolderPlace, type SocketFolderPlace } from './socket-folder.js';
import { GUEST_HOMES, SmolvmTarget } from './target.js';

export const BACKEND_NAME = 'smolmachines';
/** The machine of a bottle: the same name the docker backend gives its bottle container. */
export const machineName = (slug: string) => `bot-bottle-${slug}`;
/** The forwarder beside the exec agent in the agent image (its ENTRYPOINT in the docker bottle). */
export const FORWARDER_PATH = path.posix.join(path.posix.dirname(EXEC_AGENT_PATH), 'forward.mjs');
const MIB = 1024 * 1024;

export interface SmolmachinesBackendOptions {
  /** Settings and secrets come from here (BOT_BOTTLE_SMOLVM, BOT_BOTTLE_SMOLVM_STATE_DIR, XDG_*...). */
  env?: NodeJS.ProcessEnv;
  /**
   * The host this backend believes it is on (a test says "hardware KVM" or "PVM only" here);
   * default: read from the host (under BOT_BOTTLE_SMOLVM_PROBE_ROOT when set) when first needed.
   */
  hostProbe?: HostProbe | (() => Promise<HostProbe>);
}

export interface SmolmachinesLaunchOptions {
  progress: LaunchProgress;
  signal?: AbortSignal;
  keep?: boolean;
  images?: ImageSettings;
  /** Hook to add keys to the bundle's config before the bundle starts (a test's broken config). */
  prepareBundle?: (plan: BottlePlan, bundleDir: string) => Promise<Record<string, unknown>>;
}

/**
 * The `machine create` options of a bottle: the agent image's archive, the plan's bottle limits as
 * vCPUs and MiB, the labels (role bottle), the agent's env (placeholders only, never a routed
 * secret), the workspace, each bundle socket at the guest path the forwarder reaches, and the
 * forwarder with core's port-to-socket table as the workload. No network option at all: smolvm then
 * adds no network device to the guest.
 */
export function machineOptions(plan: BottlePlan, o: { ref: MachineRef; image: string; labels: Readonly<Record<string, string>>; limits: LimitsPlan; socketFolder: string }): CreateOptions {
  return {
    ...o.ref,
    image: o.image,
    cpus: Math.min(255, Math.max(1, Math.round(o.limits.bottle.cpus))),
    memMib: Math.max(256, Math.floor(o.limits.bottle.memoryBytes / MIB)),
    labels: { ...o.labels, [LABEL_ROLE]: 'bottle' },
    env: agentEnv(plan, AGENT_ENDPOINTS),
    workdir: plan.guest.workspace,
    mountSockets: mountedSockets(o.socketFolder),
    command: ['node', FORWARDER_PATH, ...forwarderArgs()],
  };
}

/** What the state dir records beyond the shared record: where this bottle's parts are. */
interface SmolvmRecord {
  machine: string;
  socketFolder: string;
  /** The agent image, for a clean-up that needs a container (see removeSocketFolder). */
  image?: string;
}

export class SmolmachinesBackend implements Backend {
  readonly name = BACKEND_NAME;
  readonly cli: CliSpec;
  private readonly env: NodeJS.ProcessEnv;
  /** smolvm's `--state-dir` (BOT_BOTTLE_SMOLVM_STATE_DIR), or smolvm's own default. */
  private readonly smolvmState: string | undefined;
  private probe: Promise<HostProbe> | undefined;

  constructor(private readonly options: SmolmachinesBackendOptions = {}) {
    this.env = options.env ?? process.env;
    this.cli = smolvmCli(this.env.BOT_BOTTLE_SMOLVM || 'smolvm');
    const sd = this.env.BOT_BOTTLE_SMOLVM_STATE_DIR;
    this.smolvmState = sd && path.isAbsolute(sd) ? sd : undefined;
  }

  private host(): Promise<HostProbe> {
    const given = this.options.hostProbe;
    this.probe ??= typeof given === 'function' ? given() : given ? Promise.resolve(given) : probeHost({ ...(this.env.BOT_BOTTLE_SMOLVM_PROBE_ROOT ? { root: this.env.BOT_BOTTLE_SMOLVM_PROBE_ROOT } : {}) });
    return this.probe;
  }

  private ref(name: string): MachineRef {
    return { name, ...(this.smolvmState ? { stateDir: this.smolvmState } : {}) };
  }

  private stateRoot(): string {
    return stateRoot(this.env);
  }

  private socketPlace(): SocketFolderPlace {
    return socketFolderPlace(this.stateRoot(), this.env, process.geteuid?.() ?? 1000);
  }

  async doctor(): Promise<DoctorCheck[]> {
    const checks: DoctorCheck[] = [];
    const v = await smolvm(['--version'], { timeoutMs: 15_000 }, this.cli).catch((e: unknown) => e as Error);
    if (v instanceof Error) {
      checks.push({ name: 'smolvm', ok: false, detail: v.message, fix: `bash scripts/smolvm.sh (installs smolvm ${SMOLVM_VERSION} from the PyPI wheel smolmachines), then source scripts/env.sh` });
    } else {
      const version = /smolvm\s+(\S+)/.exec(v.stdout)?.[1];
      checks.push(
        v.exitCode === 0 && version
          ? { name: 'smolvm', ok: true, detail: `smolvm ${version}${version === SMOLVM_VERSION ? '' : ` (bot-bottle is checked against ${SMOLVM_VERSION})`}` }
          : { name: 'smolvm', ok: false, detail: `\`${this.cli.bin} --version\` said: ${(v.stdout + v.stderr).trim().slice(0, 200) || `exit ${v.exitCode}`}`, fix: 'bash scripts/smolvm.sh' },
      );
    }
    const probe = await this.host();
    const support = guestSupport(probe);
    if (probe.platform === 'linux') {
      checks.push({
        name: '/dev/kvm',
        ok: probe.kvm.present && probe.kvm.openable,
        detail: !probe.kvm.present ? 'missing' : probe.kvm.openable ? 'present, opens read/write' : `present, cannot be opened read/write (${probe.kvm.error ?? 'denied'})`,
        ...(probe.kvm.present && probe.kvm.openable ? {} : { fix: probe.kvm.present ? 'bash scripts/smolvm.sh as root (gives /dev/kvm to the kvm group), and add your user to the kvm group' : `enable KVM: ${HARDWARE_FIX}` }),
      });
    }
    const bootFix = support.fix && support.fix === HARDWARE_FIX ? `run smolmachines bottles on ${HARDWARE_FIX}; here, use --backend docker` : support.fix;
    checks.push({ name: 'a guest can boot here', ok: support.canBoot, detail: support.detail, ...(bootFix ? { fix: bootFix } : {}) });
    const d = await docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 15_000 }).catch((e: unknown) => e as Error);
    const server = d instanceof Error ? '' : d.exitCode === 0 ? d.stdout.trim() : '';
    checks.push(
      server
        ? { name: 'docker engine (for the bundle)', ok: true, detail: `reachable, version ${server}` }
        : { name: 'docker engine (for the bundle)', ok: false, detail: d instanceof Error ? d.message : `not reachable: ${d.stderr.trim().split('\n')[0] ?? ''}`, fix: 'the bundle runs as a docker container for every backend: install Docker Engine and start it (sudo systemctl start docker)' },
    );
    return checks;
  }

  /** One error when no guest can boot here: thrown before anything is created. */
  private async refuseUnbootable(): Promise<void> {
    const support = guestSupport(await this.host());
    if (support.canBoot) return;
    throw new BottleError('BACKEND_UNAVAILABLE', `no smolvm guest can boot on this machine: ${support.detail}`, {
      suggestions: [
        `Run smolmachines bottles on ${support.fix ?? 'a host with hardware virtualization'}.`,
        '`bottle doctor` shows what this host has; `--backend docker` runs the bottle as a container here.',
      ],
    });
  }

  async launch(plan: BottlePlan, options: SmolmachinesLaunchOptions): Promise<LaunchedBottle> {
    const { progress, signal } = options;
    await this.refuseUnbootable();
    // The VM boots bot-bottle's agent image; a bottle's own image (with the agent layer, whose
    // Node runs through its own loader) is not wired into the VM yet: refused, never ignored.
    if (plan.image.key) {
      throw new BottleError('BACKEND_UNAVAILABLE', `the smolmachines backend does not run a bottle's own image yet (${plan.image.key})`, {
        suggestions: ['Run this bottle with --backend docker, or remove its "image" to boot bot-bottle\'s agent image in the VM.'],
        exit: EXIT_USAGE,
      });
    }
    const slug = plan.slug;
    const ref = this.ref(machineName(slug));
    const owner = options.keep ? KEEP : ownerId();
    const labels = { ...plan.labels, [LABEL]: '1', [LABEL_SLUG]: slug, [LABEL_AGENT]: plan.agentName, [LABEL_OWNER]: owner, [LABEL_CREATED]: plan.labels[LABEL_CREATED] ?? new Date().toISOString(), [LABEL_BACKEND]: this.name };
    const place = this.socketPlace();
    // Refused here (a socket path too long) is refused before anything exists.
    const folder = newSocketFolder(place, plan.stateDir);
    const remove = () => this.removeBottle(slug);
    // The VM's process is where a guest escape would land: it gets none of the routed secrets.
    const vmmEnv = Object.fromEntries(plan.egress.secretEnv.map((n) => [n, undefined])) as unknown as Record<string, string>;

    try {
      // The state record comes first, so that an interrupted launch is always found by `gc`.
      await writeLaunchRecord(plan, { slug, agent: plan.agentName, backend: this.name, createdAt: labels[LABEL_CREATED], owner, manifestPath: plan.manifestPath });
      await writeSmolvmRecord(plan.stateDir, { machine: ref.name, socketFolder: folder });

      progress('images');
      const [images, files, , engine] = await settleAll([
        ensureImages({ env: this.env, ...options.images, ...agentImageSettings(plan), progress: (m) => progress('images', m), ...(signal ? { signal } : {}) }),
        prepareBundleFiles(plan, this.env),
        makeSocketFolder(place, folder, slug),
        engineInfo(signal),
      ] as const);
      await writeSmolvmRecord(plan.stateDir, { machine: ref.name, socketFolder: folder, image: images.agent });
      const archive = await ensureImageArchive(images.agent, imageArchiveDir(this.env), { ...(signal ? { signal } : {}), progress: (m) => progress('images', m) });
      // The VM runs on this host, with the plan's limits; the bundle runs in the docker engine's machine.
      const limits: LimitsPlan = { ...plan.limits, bundle: limitsForEngine(plan.limits, engine).bundle };
      if (limits.bundle !== plan.limits.bundle) await writePlanFile({ ...plan, limits });
      await writeBundleConfig(files, limits, options.prepareBundle ? await options.prepareBundle(plan, files.bundleDir) : {});

      progress('bundle');
      const startingBundle = startBundle(
        { plan, image: images.bundle, labels, limits: limits.bundle, mounts: files.mounts, sockets: folder, network: this.env.BOT_BOTTLE_BUNDLE_NETWORK || 'bridge' },
        this.env,
        signal,
      );
      progress('bottle');
      // smolvm's libkrun dials a mounted host socket per guest connection, so neither create nor
      // start needs the bundle's sockets to exist yet: the machine and the bundle start together.
      const startingMachine = (async () => {
        await smolvmOk(
          createArgs(machineOptions(plan, { ref, image: archive, labels, limits, socketFolder: folder })),
          'creating the smolvm machine',
          { timeoutMs: 300_000, env: vmmEnv, ...(signal ? { signal } : {}) },
          this.cli,
        );
        await smolvmOk(startArgs(ref), 'starting the smolvm machine', { timeoutMs: 300_000, env: vmmEnv, ...(signal ? { signal } : {}) }, this.cli);
      })();
      await settleAll([startingBundle, startingMachine] as const);

      const stopWaiting = new AbortController();
      const ready = waitForBundle(slug, files.logDir, { signal: signal ? AbortSignal.any([signal, stopWaiting.signal]) : stopWaiting.signal });
      // A mounted socket answers in the guest even while its host end is missing (the connection is
      // then dropped), and the guest cannot see the bundle's ready marker, so the forwarder cannot
      // hold early connections as it does over the docker volume. The launch returns once the
      // bundle serves: every connection the bottle makes from then on reaches it. (The machine's
      // boot takes longer than the bundle's start, so this rarely waits.)
      await ready;
      return launchedBottle({
        slug,
        target: new SmolvmTarget(ref, { cli: this.cli }),
        endpoints: AGENT_ENDPOINTS,
        ready,
        stopWaiting,
        keep: options.keep === true,
        progress,
        run: (argv, o) => attach(this.cli, ref, argv, { tty: o.tty, env: o.env, workdir: plan.guest.workspace }),
        remove,
      });
    } catch (e) {
      await remove().catch(() => undefined);
      throw e;
    }
  }

  /** What smolvm and docker hold for this backend's bottles, beside the records (kit's reconcile). */
  private async reconciled(): Promise<Reconciled[]> {
    const records = await readRecords(this.stateRoot(), this.name);
    const resources: Resource[] = [];
    for (const m of await this.machines()) {
      const slug = m.labels[LABEL_SLUG];
      if (!slug || m.labels[LABEL] === undefined) continue;
      resources.push({ slug, kind: 'machine', name: m.name, role: 'bottle', status: m.state, owner: m.labels[LABEL_OWNER] ?? '', agent: m.labels[LABEL_AGENT] ?? '', createdAt: m.labels[LABEL_CREATED] ?? '' });
    }
    const r = await docker(['ps', '-a', '--filter', `label=${LABEL}`, '--filter', `label=${LABEL_ROLE}=bundle`, '--format', `{{.Names}}|{{.State}}|{{.Label "${LABEL_SLUG}"}}|{{.Label "${LABEL_OWNER}"}}|{{.Label "${LABEL_AGENT}"}}|{{.Label "${LABEL_CREATED}"}}|{{.Label "${LABEL_BACKEND}"}}`]);
    if (r.exitCode !== 0) throw new BottleError('BACKEND_FAILED', `listing containers failed: ${r.stderr.trim()}`);
    for (const line of r.stdout.split('\n').filter(Boolean)) {
      const [name = '', status = '', slug = '', owner = '', agent = '', createdAt = '', backend = ''] = line.split('|');
      if (!slug) continue;
      // A bundle is ours when our record says so, or, with no record of any backend, when its label does.
      const rec = await readRecordOf(this.stateRoot(), slug);
      if (rec ? rec.backend !== this.name : backend !== this.name) continue;
      resources.push({ slug, kind: 'container', name, role: 'bundle', status, owner, agent, createdAt });
    }
    for (const f of await listSocketFolders(this.socketPlace())) resources.push({ slug: f.slug, kind: 'folder', name: f.folder, role: 'sockets', status: 'present' });
    return reconcile(records, resources);
  }

  /** The machines smolvm lists; none when smolvm is not installed (then it made none). */
  private async machines(): Promise<MachineRecord[]> {
    try {
      return parseMachineList(await smolvmOk(listArgs(this.smolvmState ? { stateDir: this.smolvmState } : {}), 'listing smolvm machines', { timeoutMs: 30_000 }, this.cli));
    } catch (e) {
      if (e instanceof BottleError && e.code === 'BACKEND_UNAVAILABLE' && /not installed/.test(e.message)) return [];
      throw e;
    }
  }

  async list(): Promise<BottleStatus[]> {
    return (await this.reconciled()).map((b) => ({ slug: b.slug, agent: b.agent, backend: this.name, state: b.state, createdAt: b.createdAt, detail: b.detail }));
  }

  async exec(slug: string, argv: readonly string[], options: { tty: boolean }): Promise<number> {
    return attach(this.cli, await this.runningMachine(slug), argv, { tty: options.tty, env: {}, workdir: GUEST_WORKSPACE });
  }

  /** `bottle port`: one `machine exec --interactive` per connection, its stdio a connection to the port on the guest's loopback. */
  async connect(slug: string, port: number): Promise<Duplex> {
    const ref = await this.runningMachine(slug);
    const args = targetExecArgs(ref, portChannelCommand(port), { user: GUEST_USER, cwd: GUEST_WORKSPACE, stdin: true }, GUEST_HOMES);
    return portChannel(spawn(this.cli.bin, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
  }

  /** The machine of a running bottle `slug`; a clear error when there is none or it is not running. */
  private async runningMachine(slug: string): Promise<MachineRef> {
    const rec = await readSmolvmRecord(path.join(this.stateRoot(), slug));
    const ref = this.ref(rec?.machine ?? machineName(slug));
    const r = await smolvm(statusArgs(ref), { timeoutMs: 30_000 }, this.cli);
    let status: { state?: string; labels?: Record<string, string> } = {};
    try {
      status = r.exitCode === 0 ? (JSON.parse(r.stdout) as typeof status) : {};
    } catch {
      status = {};
    }
    if (r.exitCode !== 0 || status.labels?.[LABEL_SLUG] !== slug) {
      throw new BottleError('BOTTLE_NOT_FOUND', `no bottle named ${slug}`, { suggestions: ['List bottles with `bottle ls`.'], exit: EXIT_USAGE });
    }
    if (status.state !== 'running') throw new BottleError('BOTTLE_NOT_FOUND', `bottle ${slug} is not running (its machine is ${status.state ?? 'in an unknown state'})`, { suggestions: [`Remove it with \`bottle stop ${slug}\`.`] });
    return ref;
  }

  async stop(slug: string): Promise<void> {
    const found = (await this.list()).some((b) => b.slug === slug);
    if (!found) throw new BottleError('BOTTLE_NOT_FOUND', `no bottle named ${slug}`, { suggestions: ['List bottles with `bottle ls`.'], exit: EXIT_USAGE });
    await this.removeBottle(slug);
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
      if (!options.dryRun) await this.removeBottle(b.slug, b.resources);
    }
    return report;
  }

  /** Removes a bottle's machine, bundle, socket folder and state dir; each step tolerates "already gone". */
  private async removeBottle(slug: string, resources: readonly Resource[] = []): Promise<void> {
    const stateDir = path.join(this.stateRoot(), slug);
    const rec = await readSmolvmRecord(stateDir);
    const machines = new Set([rec?.machine ?? machineName(slug), ...resources.filter((r) => r.kind === 'machine').map((r) => r.name)]);
    for (const name of machines) {
      // delete --force stops a running machine first.
      const r = await smolvm(deleteArgs(this.ref(name)), { timeoutMs: 120_000 }, this.cli).catch((e: unknown) => {
        if (e instanceof BottleError && /not installed/.test(e.message)) return null;
        throw e;
      });
      const code = r && r.exitCode !== 0 ? (parseSmolvmError(r.stderr)?.code ?? 'FAILED') : null;
      if (code && code !== 'NOT_FOUND') throw new BottleError('BACKEND_FAILED', `removing smolvm machine ${name} failed: ${parseSmolvmError(r!.stderr)?.message ?? r!.stderr.trim()}`, { suggestions: ['Re-run `bottle gc`; `smolvm machine ls` shows the machine.'] });
    }
    await removeBundle(slug);
    const folders = new Set([...(rec?.socketFolder ? [rec.socketFolder] : []), ...resources.filter((r) => r.kind === 'folder').map((r) => r.name)]);
    for (const f of await listSocketFolders(this.socketPlace())) if (f.slug === slug) folders.add(f.folder);
    for (const f of folders) await removeSocketFolder(f, rec?.image);
    // The state root's folder under /run (or XDG_RUNTIME_DIR) goes with its last bottle.
    const parent = this.socketPlace().parent;
    if (parent) await rmdir(parent).catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true });
  }
}

async function readRecordOf(root: string, slug: string): Promise<StateRecord | null> {
  const text = await readFile(path.join(root, slug, 'bottle.json'), 'utf8').catch(() => null);
  if (!text) return null;
  try {
    return JSON.parse(text) as StateRecord;
  } catch {
    return null;
  }
}

const SMOLVM_RECORD = 'smolvm.json';

async function writeSmolvmRecord(stateDir: string, rec: SmolvmRecord): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await writeFile(path.join(stateDir, SMOLVM_RECORD), JSON.stringify(rec, null, 2) + '\n', { mode: 0o600 });
}

async function readSmolvmRecord(stateDir: string): Promise<SmolvmRecord | null> {
  const text = await readFile(path.join(stateDir, SMOLVM_RECORD), 'utf8').catch(() => null);
  if (!text) return null;
  try {
    return JSON.parse(text) as SmolvmRecord;
  } catch {
    return null;
  }
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

/**
 * Runs argv in the machine as the agent user, in `workdir`, attached to this process's stdio:
 * `smolvm machine exec [--interactive] [--tty] --env HOME=… --env USER=… -- runuser -u node -- ARGV`.
 */
export function attachArgs(ref: MachineRef, argv: readonly string[], o: { tty: boolean; env: Readonly<Record<string, string>>; workdir: string; stdin: boolean }): string[] {
  return targetExecArgs(ref, argv, { user: GUEST_USER, env: o.env, cwd: o.workdir, stdin: o.stdin, tty: o.tty }, GUEST_HOMES);
}

function attach(cli: CliSpec, ref: MachineRef, argv: readonly string[], o: { tty: boolean; env: Readonly<Record<string, string>>; workdir: string }): Promise<number> {
  const input = stdinIsInput();
  const args = attachArgs(ref, argv, { ...o, stdin: input });
  return new Promise((resolve, reject) => {
    const child = spawn(cli.bin, args, { stdio: [input ? 'inherit' : 'ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code, sig) => resolve(code ?? (sig ? 128 + 2 : 1)));
  });
}
