/**
 * Starts the bundle's services, each on a unix socket in the socket dir that only its own bottle
 * mounts: the bundle listens on no network port, so no other container (and no other bottle) can
 * call it. Control sockets live in a separate dir that only the host sees.
 *
 * This process is the supervisor, the only one that stays root. It holds no secret beyond the
 * environment docker started it with, parses nothing the bottle sends, and runs each service as a
 * process of its own:
 * - the egress gateway (egress-service.ts): gets the secrets on stdin, reads the CA key and binds
 *   its admin socket as root, then becomes EGRESS_USER before it binds the bottle's socket;
 * - git-gate (git-service.ts): runs as GIT_USER from the start, with an environment free of
 *   secrets, its own copies of the identity files, and no way to read the CA key;
 * - the supervise MCP server (supervise-service.ts): runs as SUPERVISE_USER from the start, with
 *   an environment free of secrets; it writes the agent's requests to a host folder and reads
 *   decisions from another, and cannot reach the gateway's admin socket.
 * Nothing here follows a path in the socket folder (socket-dir.ts).
 */
import { chownSync, chmodSync, closeSync, constants, fchownSync, lstatSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AUDIT_LOG_NAME, BUNDLE_SERVICES, ServiceError, type BundleServiceName } from '@bot-bottle/core/service';
import { parseGitGateConfig } from '@bot-bottle/git-gate';
import { ADMIN_SOCKET_NAME, AUDIT_FD, EGRESS_USER, GIT_FILES_DIR, GIT_GATE_DATA_DIR, GIT_USER, SUPERVISE_DECISIONS, SUPERVISE_QUEUE, SUPERVISE_USER, type BundleConfig } from './config.js';
import type { EgressServiceInput } from './egress-service.js';
import type { GitServiceInput } from './git-service.js';
import type { SuperviseServiceInput } from './supervise-service.js';
import { startService, type RunningService } from './service-process.js';
import { prepareSocketDir } from './socket-dir.js';
import { serviceEnv, serviceUser, type ServiceUser } from './users.js';

export interface RunningBundle {
  sockets: Partial<Record<BundleServiceName, string>>;
  /** The service processes, by name (their pids are what the tests look at). */
  services: RunningService[];
  /** Settles with a reason when a service ends by itself: the bundle is then of no use. */
  stopped: Promise<string>;
  close(): Promise<void>;
}

export interface BundleOptions {
  /** Where the service users are looked up (tests). */
  passwdFile?: string;
  /** Where the git user's copies of its files go (tests). */
  gitFilesDir?: string;
}

const script = (name: string) => fileURLToPath(new URL(`./${name}.js`, import.meta.url));

/**
 * Copies each identity file and known_hosts the gate names into a folder of the git user's own
 * (files 600, folder 700): ssh takes a key only from a file its user owns and nobody else reads,
 * and the mounted originals belong to the host user. Returns the gate config with the copies'
 * paths. Runs before any process of the git user exists, in a folder only root can write to.
 */
export function copyGitFiles(gitGate: NonNullable<BundleConfig['gitGate']>, user: Pick<ServiceUser, 'uid' | 'gid'>, dir: string): NonNullable<BundleConfig['gitGate']> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { mode: 0o700 });
  const copy = (src: string | null, name: string): string | null => {
    if (src === null) return null;
    const dst = path.join(dir, name);
    writeFileSync(dst, readFileSync(src), { mode: 0o600, flag: 'wx' });
    chownSync(dst, user.uid, user.gid);
    return dst;
  };
  const upstreams = gitGate.upstreams.map((u, i) => ({ ...u, identityFile: copy(u.identityFile, `key-${i}`), knownHosts: copy(u.knownHosts, `known_hosts-${i}`) }));
  const defaultKnownHosts = copy(gitGate.defaultKnownHosts ?? null, 'known_hosts');
  chownSync(dir, user.uid, user.gid);
  return { ...gitGate, upstreams, defaultKnownHosts };
}

/** The mirrors' folder, owned by the git user (mode 700); a symlink there is refused. */
function prepareDataDir(dir: string, user: Pick<ServiceUser, 'uid' | 'gid'>): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (lstatSync(dir).isSymbolicLink()) throw new ServiceError(`git-gate's data folder ${dir} is a symbolic link; the bundle uses only folders it made`);
  // Through root's ownership: changing the mode of a folder root does not own takes CAP_FOWNER,
  // which the bundle does not keep.
  chownSync(dir, 0, 0);
  chmodSync(dir, 0o700);
  chownSync(dir, user.uid, user.gid);
}

/**
 * The supervise folder (the parent of its two host mounts) becomes the supervise user's, mode 700:
 * the queue folder the host made writable is then reachable by that user alone in the bundle.
 */
export function prepareSuperviseDir(dir: string, user: Pick<ServiceUser, 'uid' | 'gid'>): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (lstatSync(dir).isSymbolicLink()) throw new ServiceError(`the supervise folder ${dir} is a symbolic link; the bundle uses only folders it made`);
  chownSync(dir, 0, 0);
  chmodSync(dir, 0o700);
  chownSync(dir, user.uid, user.gid);
}

/**
 * Opens the audit log for appending (never through a link). It belongs to whoever owns its folder —
 * the host user who launched the bottle, on a rootful engine too — so `bottle logs` reads it
 * without root; the owner is set on the open descriptor.
 */
export function openAuditLog(logDir: string): number {
  const fd = openSync(path.join(logDir, AUDIT_LOG_NAME), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o640);
  const owner = lstatSync(logDir);
  fchownSync(fd, owner.uid, owner.gid);
  return fd;
}

export async function startBundle(config: BundleConfig, env: NodeJS.ProcessEnv = process.env, options: BundleOptions = {}): Promise<RunningBundle> {
  const withGit = config.gitGate !== null && config.gitGate.upstreams.length > 0;
  const egressUser = serviceUser(EGRESS_USER, options.passwdFile);
  const gitUser = withGit ? serviceUser(GIT_USER, options.passwdFile) : null;
  const superviseUser = config.supervise ? serviceUser(SUPERVISE_USER, options.passwdFile) : null;

  mkdirSync(config.socketDir, { recursive: true });
  mkdirSync(config.controlDir, { recursive: true, mode: 0o700 });
  mkdirSync(config.logDir, { recursive: true });
  // The egress user owns the socket folder; the git user's group may add its socket to it, and so
  // may the supervise user when it runs (no group holds both; sticky: none removes another's).
  prepareSocketDir(config.socketDir, { uid: egressUser.uid, gid: gitUser?.gid ?? egressUser.gid }, superviseUser ? 0o1777 : 0o1775);
  if (config.supervise && superviseUser) prepareSuperviseDir(config.supervise.dir, superviseUser);

  const secretNames = config.egress.secretEnv ?? [];
  const secrets: Record<string, string> = {};
  for (const name of secretNames) if (env[name] !== undefined) secrets[name] = env[name]!;

  let gitInput: GitServiceInput | null = null;
  if (withGit && gitUser) {
    const dataDir = config.gitGateDataDir ?? GIT_GATE_DATA_DIR;
    const gitSocket = path.join(config.socketDir, BUNDLE_SERVICES.git.socket);
    // The files are checked (as root, with the gate's own messages) before they are copied.
    parseGitGateConfig({ ...config.gitGate, listen: { socket: gitSocket }, dataDir, auditLog: null }, 'bundle.json gitGate');
    const gitGate = copyGitFiles(config.gitGate!, gitUser, options.gitFilesDir ?? GIT_FILES_DIR);
    prepareDataDir(dataDir, gitUser);
    // The git service tries to open the CA key as its user and refuses to start if it can.
    gitInput = { gitGate: { ...gitGate, listen: { socket: gitSocket }, dataDir, auditLog: `/dev/fd/${AUDIT_FD}` }, mustNotRead: [config.egress.ca.key] };
  }

  // The services cannot open the log (a host folder closed to them): they get it open.
  const auditFd = openAuditLog(config.logDir);
  const services: RunningService[] = [];
  const sockets: Partial<Record<BundleServiceName, string>> = {};
  try {
    const egressInput: EgressServiceInput = {
      egress: config.egress,
      socket: path.join(config.socketDir, BUNDLE_SERVICES.egress.socket),
      adminSocket: path.join(config.controlDir, ADMIN_SOCKET_NAME),
      secrets,
      user: { uid: egressUser.uid, gid: egressUser.gid },
      auditFd: AUDIT_FD,
    };
    services.push(startService({ name: 'egress gateway', script: script('egress-service'), input: egressInput, env: serviceEnv(env, egressUser, secretNames), auditFd }));
    sockets.egress = egressInput.socket;
    if (gitInput && gitUser) {
      services.push(startService({ name: 'git-gate', script: script('git-service'), input: gitInput, env: serviceEnv(env, gitUser, secretNames), user: gitUser, auditFd }));
      sockets.git = path.join(config.socketDir, BUNDLE_SERVICES.git.socket);
    }
    if (config.supervise && superviseUser) {
      const superviseInput: SuperviseServiceInput = {
        socket: path.join(config.socketDir, BUNDLE_SERVICES.supervise.socket),
        queueDir: path.join(config.supervise.dir, SUPERVISE_QUEUE),
        decisionsDir: path.join(config.supervise.dir, SUPERVISE_DECISIONS),
        routes: config.egress.routes,
        repos: (config.gitGate?.upstreams ?? []).map((u) => ({ name: u.name, push: u.push, protect: u.protect })),
        credentials: config.supervise.credentials ?? [],
        auditFd: AUDIT_FD,
      };
      services.push(startService({ name: 'supervise server', script: script('supervise-service'), input: superviseInput, env: serviceEnv(env, superviseUser, secretNames), user: superviseUser, auditFd }));
      sockets.supervise = superviseInput.socket;
    }
  } finally {
    closeSync(auditFd); // each service holds its own copy
  }

  const close = async () => {
    await Promise.all(services.map((s) => s.stop()));
  };
  const started = await Promise.allSettled(services.map((s) => s.ready));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await close();
    throw failed.reason;
  }
  return {
    sockets,
    services,
    stopped: Promise.race(services.map((s) => s.exited.then((how) => `the ${s.name} ${how}`))),
    close,
  };
}
