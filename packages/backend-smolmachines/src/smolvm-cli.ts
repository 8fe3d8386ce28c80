/**
 * The smolvm CLI as argv arrays — one builder per `smolvm machine` verb this backend uses, from
 * typed options — and smolvm's CliSpec for the shared layer's one CLI runner (a timeout on every
 * call, smolvm's own failures made into fixes).
 *
 * Checked against smolvm 1.32.2, the engine inside the PyPI wheel `smolmachines` 1.32.2 that
 * scripts/smolvm.sh installs: every flag below is in that binary's `smolvm machine <verb> --help`,
 * and create, ls, status, stop and delete were run against it (test/integration/smolvm-cli.test.ts).
 * Verb by verb, the flags used (short forms avoided: `machine exec` has no `-n`):
 *   machine create --name N [--image I] [--cpus N] [--mem MiB] [--label K=V]... [--env K=V]...
 *                  [--workdir DIR] [--mount-socket HOST:GUEST]... [--net --net-backend tsi|virtio-net
 *                  --allow-cidr C --allow-host H --outbound-localhost-only] [-- COMMAND...]
 *   machine start --name N          machine stop --name N [--timeout SECONDS]
 *   machine delete --name N --force machine ls --json     machine status --name N --json
 *   machine exec --name N [--env K=V]... [--workdir DIR] [--interactive] [--tty] [--timeout 500ms] -- ARGV
 *   machine cp [--mode OCTAL] [--uid U] [--gid G] HOST_FILE N:/GUEST/PATH
 * and on every verb `--error-format json` (a failure is `{"error":{"code","message"}}` on stderr,
 * with a stable code) and `--state-dir DIR` (all of smolvm's state under DIR instead of ~).
 */
import path from 'node:path';
import * as v from 'valibot';
import { BottleError } from '@bot-bottle/core';
import { runCli, runCliOk, type CliCallOptions, type CliResult, type CliSpec } from '@bot-bottle/backend-kit';

/** The smolvm release these builders were checked against. */
export const SMOLVM_VERSION = '1.32.2';
/** The smolvm client to run (default `smolvm` on PATH: the wrapper scripts/smolvm.sh writes). */
export const SMOLVM = process.env.BOT_BOTTLE_SMOLVM || 'smolvm';
export const DEFAULT_TIMEOUT_MS = 120_000;

/** Which smolvm state a call works on. */
export interface EngineOptions {
  /** `--state-dir`: machines, images and smolvm's database under this folder instead of the user's home. */
  stateDir?: string;
}

export interface MachineRef extends EngineOptions {
  name: string;
}

/**
 * The guest's network. Absent (the default, and what smolvm does without `--net`): no network
 * device at all, only the vsock smolvm's own agent uses — the VMM logs "configured vsock without
 * guest networking". `tsi`: the guest's inet sockets become host sockets (libkrun's TSI), so the
 * guest sees what the host sees, loopback included. `virtio-net`: a NIC behind smolvm's host-side
 * network stack, whose gateway (100.96.0.1, `host.smolvm.internal`) relays to the host's loopback;
 * an allow-list (`--allow-cidr`, `--allow-host`, `--outbound-localhost-only`) needs it, and smolvm
 * picks it by itself for one unless another backend is named.
 */
export type GuestNetwork =
  | { backend: 'tsi' }
  | { backend: 'virtio-net'; allowCidrs?: readonly string[]; allowHosts?: readonly string[]; outboundLocalhostOnly?: boolean };

/** A host unix socket the guest reaches at guestPath (`--mount-socket`), bridged over vsock, no network needed. */
export interface MountedSocket {
  hostPath: string;
  guestPath: string;
}

export interface CreateOptions extends MachineRef {
  /** A registry ref, a `docker save` tarball or a rootfs directory; none boots smolvm's bare agent rootfs. */
  image?: string;
  cpus?: number;
  memMib?: number;
  /** Read back by `machine ls --json`; smolvm never interprets them. */
  labels?: Readonly<Record<string, string>>;
  /** The workload's environment (the command after `--`), persisted in the machine's record. */
  env?: Readonly<Record<string, string>>;
  workdir?: string;
  mountSockets?: readonly MountedSocket[];
  network?: GuestNetwork;
  /** The persistent workload, launched on every start; without it the image's ENTRYPOINT/CMD runs. */
  command?: readonly string[];
}

export interface ExecArgsOptions extends MachineRef {
  argv: readonly string[];
  env?: Readonly<Record<string, string>>;
  workdir?: string;
  /** Forward this process's stdin to the command (without it the command's stdin is closed). */
  interactive?: boolean;
  tty?: boolean;
  /** Kill the command in the guest after this long. */
  timeoutMs?: number;
}

export interface CopyInOptions extends MachineRef {
  /** One host file: `machine cp` streams a single file, it does not copy directories. */
  hostPath: string;
  guestPath: string;
  /** Octal mode, owner and group for the uploaded file; without them it lands as root, mode from smolvm. */
  mode?: number;
  uid?: number;
  gid?: number;
}

// ---------------------------------------------------------------------------------------------
// Checks. Names and paths here come from the plan, but some (host paths) from the user's machine:
// a value smolvm would read differently from what we meant is refused, never passed on.
// ---------------------------------------------------------------------------------------------

/** smolvm 1.32.2 takes letters, digits, `-` and `_` (it refuses `.`, `:`, `/` and spaces); a leading `-` would read as a flag. */
const MACHINE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;

function internal(message: string): BottleError {
  return new BottleError('INTERNAL', message, { suggestions: ['This is a bug in bot-bottle; please report it with the command you ran.'] });
}

function checkName(name: string): string {
  if (!MACHINE_NAME.test(name)) throw internal(`"${name}" is not a smolvm machine name (letters, digits, - and _, at most 63, not starting with -)`);
  return name;
}

function checkGuestPath(p: string, what: string): string {
  if (!path.posix.isAbsolute(p) || p.includes('\0')) throw internal(`${what} "${p}" is not an absolute guest path`);
  return p;
}

/**
 * A host path as an argument smolvm reads as we mean it. `machine cp` takes a source with a `:` for
 * `MACHINE:PATH` (a download) and `--mount-socket` splits at the first `:`, so a host path with one
 * cannot be named to smolvm; a relative path could start with `-` and read as a flag.
 */
function checkHostPath(p: string, what: string): string {
  if (!path.isAbsolute(p) || p.includes('\0')) throw internal(`${what} "${p}" is not an absolute host path`);
  if (p.includes(':')) {
    throw new BottleError('HOST_IO_FAILED', `${what} ${p} has a ":" in it, which smolvm reads as MACHINE:PATH`, {
      suggestions: ['Move or rename it to a path without ":" and run the command again.'],
    });
  }
  return p;
}

function envArgs(env: Readonly<Record<string, string>> | undefined): string[] {
  return Object.entries(env ?? {}).flatMap(([k, val]) => {
    if (!ENV_NAME.test(k)) throw internal(`"${k}" is not an environment variable name`);
    if (val.includes('\0')) throw internal(`the value of ${k} has a NUL byte`);
    return ['--env', `${k}=${val}`];
  });
}

function positiveInt(n: number, what: string): string {
  if (!Number.isInteger(n) || n < 1) throw internal(`${what} must be a whole number above 0 (got ${n})`);
  return String(n);
}

/** `machine VERB --error-format json [--state-dir DIR]`: every call starts this way. */
function verb(name: string, o: EngineOptions): string[] {
  const args = ['machine', name, '--error-format', 'json'];
  if (o.stateDir !== undefined) args.push('--state-dir', checkHostPath(o.stateDir, 'the smolvm state dir'));
  return args;
}

// ---------------------------------------------------------------------------------------------
// One builder per verb.
// ---------------------------------------------------------------------------------------------

export function createArgs(o: CreateOptions): string[] {
  const args = [...verb('create', o), '--name', checkName(o.name)];
  if (o.image !== undefined) {
    // A path is a tarball or rootfs dir; anything else a registry reference. A bare word that is a
    // local file must be given as a path, so a path here is always absolute.
    const image = o.image.startsWith('/') || o.image.startsWith('.') ? checkHostPath(path.resolve(o.image), 'the image') : o.image;
    if (image.startsWith('-')) throw internal(`"${image}" is not an image reference`);
    args.push('--image', image);
  }
  if (o.cpus !== undefined) args.push('--cpus', positiveInt(o.cpus, 'cpus'));
  if (o.memMib !== undefined) args.push('--mem', positiveInt(o.memMib, 'memory (MiB)'));
  for (const [k, val] of Object.entries(o.labels ?? {})) {
    if (!LABEL_KEY.test(k) || val.includes('\0')) throw internal(`"${k}" is not a label key`);
    args.push('--label', `${k}=${val}`);
  }
  args.push(...envArgs(o.env));
  if (o.workdir !== undefined) args.push('--workdir', checkGuestPath(o.workdir, 'the working dir'));
  for (const s of o.mountSockets ?? []) {
    const guest = checkGuestPath(s.guestPath, 'the guest socket');
    // smolvm encodes published sockets for its guest agent with ';' and '|' as separators.
    if (/[;|:]/.test(guest)) throw internal(`the guest socket path "${guest}" has ";", "|" or ":"`);
    args.push('--mount-socket', `${checkHostPath(s.hostPath, 'the host socket')}:${guest}`);
  }
  args.push(...networkArgs(o.network));
  if (o.command?.length) args.push('--', ...o.command);
  return args;
}

/** No flags at all for no network: smolvm adds a network device only when a flag asks for one. */
function networkArgs(n: GuestNetwork | undefined): string[] {
  if (!n) return [];
  if (n.backend === 'tsi') return ['--net', '--net-backend', 'tsi'];
  const args = ['--net', '--net-backend', 'virtio-net'];
  for (const c of n.allowCidrs ?? []) args.push('--allow-cidr', c);
  for (const h of n.allowHosts ?? []) args.push('--allow-host', h);
  if (n.outboundLocalhostOnly) args.push('--outbound-localhost-only');
  return args;
}

export function startArgs(o: MachineRef): string[] {
  return [...verb('start', o), '--name', checkName(o.name)];
}

/** `timeoutSec`: how long the workload gets after its stop signal before it is killed (0: at once). */
export function stopArgs(o: MachineRef & { timeoutSec?: number }): string[] {
  const args = [...verb('stop', o), '--name', checkName(o.name)];
  if (o.timeoutSec !== undefined) {
    if (!Number.isInteger(o.timeoutSec) || o.timeoutSec < 0) throw internal(`stop timeout must be whole seconds (got ${o.timeoutSec})`);
    args.push('--timeout', String(o.timeoutSec));
  }
  return args;
}

/** `--force`: smolvm asks for confirmation otherwise. */
export function deleteArgs(o: MachineRef): string[] {
  return [...verb('delete', o), '--name', checkName(o.name), '--force'];
}

export function execArgs(o: ExecArgsOptions): string[] {
  if (o.argv.length === 0) throw internal('exec needs a command');
  const args = [...verb('exec', o), '--name', checkName(o.name), ...envArgs(o.env)];
  if (o.workdir !== undefined) args.push('--workdir', checkGuestPath(o.workdir, 'the working dir'));
  if (o.interactive) args.push('--interactive');
  if (o.tty) args.push('--tty');
  // smolvm reads a humantime duration ("500ms", "30s"); a timed-out command is killed in the guest.
  if (o.timeoutMs !== undefined) args.push('--timeout', `${positiveInt(Math.ceil(o.timeoutMs), 'exec timeout (ms)')}ms`);
  // `--` always: a command starting with `-` must not be read as one of exec's flags.
  return [...args, '--', ...o.argv];
}

export function copyInArgs(o: CopyInOptions): string[] {
  const args = verb('cp', o);
  if (o.mode !== undefined) {
    if (!Number.isInteger(o.mode) || o.mode < 0 || o.mode > 0o7777) throw internal(`${o.mode} is not a file mode`);
    args.push('--mode', o.mode.toString(8).padStart(3, '0'));
  }
  if (o.uid !== undefined) args.push('--uid', String(o.uid));
  if (o.gid !== undefined) args.push('--gid', String(o.gid));
  return [...args, checkHostPath(o.hostPath, 'the file to copy'), `${checkName(o.name)}:${checkGuestPath(o.guestPath, 'the copy destination')}`];
}

export function listArgs(o: EngineOptions = {}): string[] {
  return [...verb('ls', o), '--json'];
}

export function statusArgs(o: MachineRef): string[] {
  return [...verb('status', o), '--name', checkName(o.name), '--json'];
}

// ---------------------------------------------------------------------------------------------
// A Target's calls as smolvm argv.
// ---------------------------------------------------------------------------------------------

/** The homes of the guest users a Target runs commands as (the plan's agent user, and root). */
export type GuestHomes = Readonly<Record<string, string>>;

export interface TargetExecOptions {
  env?: Readonly<Record<string, string>>;
  user?: string;
  cwd?: string;
  /** Whether the command gets stdin (the Target feeds ExecOptions.stdin through it). */
  stdin?: boolean;
  /** A terminal for the command (attach to a TTY). */
  tty?: boolean;
  timeoutMs?: number;
}

/**
 * `Target.exec` as one `machine exec`. A command as another user than root runs under
 * `runuser -u USER --`, with HOME and USER for that user passed by smolvm (`--env`): runuser switches
 * the uid without a login shell and keeps root's HOME=/root, so `git config --global` and
 * `claude mcp add --scope user` would write root's files. The caller's env comes after and wins.
 */
export function targetExecArgs(machine: MachineRef, argv: readonly string[], o: TargetExecOptions, homes: GuestHomes): string[] {
  let command = [...argv];
  let env: Record<string, string> = { ...(o.env ?? {}) };
  if (o.user !== undefined && o.user !== 'root') {
    const home = homes[o.user];
    if (home === undefined) throw internal(`no home is known for guest user "${o.user}"`);
    if (!/^[a-z_][a-z0-9_-]*$/.test(o.user)) throw internal(`"${o.user}" is not a guest user name`);
    command = ['runuser', '-u', o.user, '--', ...command];
    env = { HOME: home, USER: o.user, ...env };
  }
  return execArgs({
    ...machine,
    argv: command,
    env,
    ...(o.cwd !== undefined ? { workdir: o.cwd } : {}),
    ...(o.stdin ? { interactive: true } : {}),
    ...(o.tty ? { tty: true } : {}),
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
  });
}

/**
 * `Target.copyIn` of one file: `machine cp` with no owner or mode, so it lands as root, as the
 * Target contract says; the provisioner that copied it chowns it. (A directory cannot go through
 * `machine cp`; the backend sends it as a tar stream over `machine exec --interactive`.)
 */
export function targetCopyFileArgs(machine: MachineRef, hostPath: string, guestPath: string): string[] {
  return copyInArgs({ ...machine, hostPath, guestPath });
}

/**
 * The receiving end of `Target.copyIn` of a directory: `machine cp` uploads one file (smolvm's cp
 * opens its source as a file and streams it), so a tree goes as a tar stream on the stdin of one
 * `machine exec --interactive`, the way the docker backend's exec channel sends it. It lands as
 * guestPath itself; as root, tar keeps the host modes, and `--no-same-owner` makes the files root's
 * (not the host uids in the archive) until the provisioner chowns them. The path is an argument of
 * the script, never part of it.
 */
export function targetCopyDirArgs(machine: MachineRef, guestPath: string): string[] {
  const script = 'mkdir -p -- "$1" && exec tar -x --no-same-owner -f - -C "$1"';
  return execArgs({ ...machine, argv: ['sh', '-c', script, 'sh', checkGuestPath(guestPath, 'the copy destination')], interactive: true });
}

// ---------------------------------------------------------------------------------------------
// What smolvm prints.
// ---------------------------------------------------------------------------------------------

/**
 * One machine of `machine ls --json`. Loose on purpose: smolvm's records carry ~40 fields that
 * change between releases; these are the ones the backend reads.
 */
const MachineRecordSchema = v.looseObject({
  name: v.string(),
  state: v.string(),
  labels: v.optional(v.record(v.string(), v.string()), {}),
  pid: v.nullish(v.number()),
  network: v.optional(v.boolean()),
  image: v.nullish(v.string()),
});
export type MachineRecord = v.InferOutput<typeof MachineRecordSchema>;

/** `machine ls --json` as records; smolvm printing something else is a BACKEND_FAILED naming it. */
export function parseMachineList(stdout: string): MachineRecord[] {
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    json = undefined;
  }
  const r = v.safeParse(v.array(MachineRecordSchema), json);
  if (!r.success) {
    throw new BottleError('BACKEND_FAILED', `\`smolvm machine ls --json\` printed something other than a list of machines: ${stdout.trim().slice(0, 200) || '(nothing)'}`, {
      suggestions: [`bot-bottle drives smolvm ${SMOLVM_VERSION}; check \`smolvm --version\` (bash scripts/smolvm.sh installs that one).`],
    });
  }
  return r.output;
}

const ErrorSchema = v.object({ error: v.object({ code: v.string(), message: v.string() }) });

/** The `{"error":{"code","message"}}` line `--error-format json` puts on stderr, if there is one. */
export function parseSmolvmError(stderr: string): { code: string; message: string } | undefined {
  for (const line of stderr.trim().split('\n').reverse()) {
    if (!line.startsWith('{')) continue;
    try {
      const r = v.safeParse(ErrorSchema, JSON.parse(line));
      if (r.success) return r.output.error;
    } catch {
      // not JSON: a log line
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Running smolvm: through the shared layer's one CLI runner, with smolvm's own failures.
// ---------------------------------------------------------------------------------------------

export type SmolvmResult = CliResult;
export type SmolvmCallOptions = CliCallOptions;

function notInstalled(bin: string): BottleError {
  const named = bin === 'smolvm' ? 'no `smolvm` on PATH' : `no ${bin}, which BOT_BOTTLE_SMOLVM names`;
  return new BottleError('BACKEND_UNAVAILABLE', `smolvm is not installed (${named})`, {
    suggestions: [
      `From a bot-bottle checkout: \`bash scripts/smolvm.sh\` installs smolvm ${SMOLVM_VERSION} (the PyPI wheel smolmachines) and a \`smolvm\` wrapper; \`source scripts/env.sh\` puts it on PATH.`,
      'Then run `bottle doctor`.',
    ],
  });
}

/** smolvm cannot open /dev/kvm for this user, or for the uid it drops each VM's process to when run as root. */
const KVM_DENIED = /KvmOpen\(Error\(13\)\)|Cannot access \/dev\/kvm|\/dev\/kvm.*permission denied/i;
const KVM_MISSING = /KVM not available|\/dev\/kvm.*(No such file|not found)/i;

export function kvmUnavailable(detail: string): BottleError {
  const missing = KVM_MISSING.test(detail);
  return new BottleError('BACKEND_UNAVAILABLE', missing ? 'this machine has no KVM (/dev/kvm), which smolvm needs' : 'smolvm cannot open /dev/kvm (permission denied)', {
    details: [detail.trim().split('\n').slice(-1)[0] ?? ''].filter(Boolean),
    suggestions: missing
      ? ['Enable virtualization for this machine (nested virtualization in a cloud VM), or use the docker backend.']
      : ['Run `bash scripts/smolvm.sh` as root: it gives /dev/kvm to the kvm group (read/write), which smolvm keeps for its VM processes.'],
  });
}

/**
 * The smolvm CLI for the shared runner: `bin` is BOT_BOTTLE_SMOLVM (another client: the test
 * double, a wrapper) or `smolvm` on PATH. A failure that means smolvm cannot run VMs at all (no
 * KVM, KVM denied) is one BottleError with the fix; any other failure is the caller's to read.
 */
export function smolvmCli(bin: string = process.env.BOT_BOTTLE_SMOLVM || 'smolvm'): CliSpec {
  return {
    bin,
    name: 'smolvm',
    defaultTimeoutMs: DEFAULT_TIMEOUT_MS,
    verbWords: 2,
    notInstalled: () => notInstalled(bin),
    unavailable: (stderr) => (KVM_DENIED.test(stderr) || KVM_MISSING.test(stderr) ? kvmUnavailable(stderr) : null),
    timeoutHint: 'Re-run with BOTTLE_DEBUG=1; `smolvm machine ls` shows the machines.',
  };
}

/** The smolvm client this process runs by default (BOT_BOTTLE_SMOLVM, else `smolvm` on PATH). */
export const SMOLVM_CLI: CliSpec = smolvmCli(SMOLVM);

/** Runs smolvm; never throws for a non-zero exit (callers decide), only when smolvm cannot run at all. */
export function smolvm(args: readonly string[], options: SmolvmCallOptions = {}, cli: CliSpec = SMOLVM_CLI): Promise<SmolvmResult> {
  return runCli(cli, args, options);
}

/** Runs smolvm and throws a BottleError with smolvm's own message (its JSON error line) when it fails. */
export function smolvmOk(args: readonly string[], what: string, options: SmolvmCallOptions = {}, cli: CliSpec = SMOLVM_CLI): Promise<string> {
  return runCliOk(cli, args, what, options, (stderr) => parseSmolvmError(stderr)?.message ?? null);
}
