/**
 * The host side of a bundle, the same for every backend (each runs the bundle as the same docker
 * container): its config, the bottle's egress CA (key mode 600, on the host and in the bundle
 * only), the extra upstream CAs, the dirs the bundle writes back to (log, control), and every host
 * path it mounts, as structured mounts. `prepareBundleFiles` makes the files and the config's
 * draft; `writeBundleConfig` writes the config once, with the limits the engine's machine allows.
 */
import { copyFile, mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { BUNDLE_WORK_REPO, BottleError, CONTROL_DIR_NAME, EXIT_USAGE, bottleErrorFrom, isServiceError, type BottlePlan, type LimitsPlan } from '@bot-bottle/core';
import { SOCKET_DIR } from './names.js';

/** Where the bundle sees the host's egress dir (the CA) — a read-only mount. */
export const BUNDLE_EGRESS_DIR = '/etc/bot-bottle-egress';
/** Where the bundle sees git identity files and known_hosts — read-only mounts. */
export const BUNDLE_GIT_DIR = '/etc/bot-bottle-git';
/** The supervise folder in the bundle: `queue` (the host's queue folder) and `decisions` (read-only) under it. */
export const BUNDLE_SUPERVISE_DIR = '/run/bot-bottle-supervise';

/** ssh:// and scp-like upstreams (the ones that need a host key). */
function isSshUpstream(url: string): boolean {
  return /^(ssh|git\+ssh|ssh\+git):\/\//i.test(url) || !/^[a-z][a-z0-9+.-]*:\/\//i.test(url);
}

/** A host path (or, for docker, a volume name) seen at `guest` in a container. */
export interface Mount {
  host: string;
  guest: string;
  readOnly: boolean;
}

/** Where the bundle sees its config dir, log dir and control dir. */
export const BUNDLE_CONFIG_DIR = '/etc/bot-bottle';
export const BUNDLE_LOG_DIR = '/var/log/bot-bottle';
export const BUNDLE_CONTROL_DIR = '/run/bot-bottle-control';

export interface BundleFiles {
  bundleDir: string;
  egressDir: string;
  logDir: string;
  controlDir: string;
  /** Every host path the bundle mounts (config, CA, log, control, identity files, known_hosts, the supervise queue); not its sockets, which are the backend's. */
  mounts: Mount[];
  /** The config before the engine's limits are known (see writeBundleConfig). */
  config: BundleConfigDraft;
}

export interface BundleConfigDraft {
  slug: string;
  socketDir: string;
  logDir: string;
  controlDir: string;
  egress: Record<string, unknown>;
  gitGate: unknown;
  supervise: unknown;
}

/** Extra CAs the gateway trusts for upstreams (beside the system store): BOT_BOTTLE_UPSTREAM_CA_CERTS, ':'-separated. */
export function upstreamCaFiles(env: NodeJS.ProcessEnv): string[] {
  return (env.BOT_BOTTLE_UPSTREAM_CA_CERTS ?? '').split(':').filter(Boolean);
}

export async function prepareBundleFiles(plan: BottlePlan, env: NodeJS.ProcessEnv): Promise<BundleFiles> {
  const bundleDir = path.join(plan.stateDir, 'bundle');
  const egressDir = path.dirname(plan.egress.caCertPath);
  const logDir = path.dirname(plan.egress.auditLogPath);
  const controlDir = path.join(plan.stateDir, CONTROL_DIR_NAME);
  for (const d of [bundleDir, egressDir, logDir, controlDir]) await mkdir(d, { recursive: true, mode: 0o700 });

  // Loaded here, not at start-up: the certificate library is the heaviest import of a launch.
  const { createBottleCa } = await import('@bot-bottle/egress-gateway');
  const ca = await createBottleCa(egressDir).catch((e: unknown) => {
    throw isServiceError(e) ? bottleErrorFrom(e, 'BACKEND_FAILED', { suggestions: [`Check that you may write ${egressDir}, then launch the bottle again.`] }) : e;
  });
  if (ca.certPath !== plan.egress.caCertPath || ca.keyPath !== plan.egress.caKeyPath) {
    throw new BottleError('INTERNAL', `the egress CA landed at ${ca.certPath}, not at the planned ${plan.egress.caCertPath}`);
  }

  const extraCaFiles: string[] = [];
  const caDir = path.join(bundleDir, 'upstream-ca');
  await mkdir(caDir, { recursive: true });
  for (const [i, file] of upstreamCaFiles(env).entries()) {
    const text = await readFile(file, 'utf8').catch(() => {
      throw new BottleError('CA_CERT_INVALID', `upstream CA ${file} (from BOT_BOTTLE_UPSTREAM_CA_CERTS) cannot be read`, { suggestions: ['Fix the path, or unset BOT_BOTTLE_UPSTREAM_CA_CERTS.'], exit: EXIT_USAGE });
    });
    if (!text.includes('-----BEGIN CERTIFICATE-----')) {
      throw new BottleError('CA_CERT_INVALID', `upstream CA ${file} (from BOT_BOTTLE_UPSTREAM_CA_CERTS) is not a PEM certificate`, {
        suggestions: ['Name PEM files (-----BEGIN CERTIFICATE-----) in BOT_BOTTLE_UPSTREAM_CA_CERTS (":"-separated), or unset it.'],
        exit: EXIT_USAGE,
      });
    }
    const name = `${i}.crt`;
    await copyFile(file, path.join(caDir, name));
    extraCaFiles.push(`/etc/bot-bottle/upstream-ca/${name}`);
  }

  // Each identity file and known_hosts is mounted read-only into the bundle (never the bottle);
  // the gate's config names them by their mount paths.
  const mounts: Mount[] = [
    { host: bundleDir, guest: BUNDLE_CONFIG_DIR, readOnly: true },
    { host: egressDir, guest: BUNDLE_EGRESS_DIR, readOnly: true },
    { host: logDir, guest: BUNDLE_LOG_DIR, readOnly: false },
    { host: controlDir, guest: BUNDLE_CONTROL_DIR, readOnly: false },
  ];
  // The host repo's exchange copy (--copy-cwd in a git repo): read-write, for git-gate alone.
  if (plan.workBack) mounts.push({ host: plan.workBack.exchange, guest: BUNDLE_WORK_REPO, readOnly: false });
  const upstreams = plan.gitGate.upstreams.map((u, i) => {
    const key = u.identityFile ? `${BUNDLE_GIT_DIR}/keys/${i}` : null;
    const kh = u.knownHosts ? `${BUNDLE_GIT_DIR}/known_hosts/${i}` : null;
    if (u.identityFile) mounts.push({ host: u.identityFile, guest: key!, readOnly: true });
    if (u.knownHosts) mounts.push({ host: u.knownHosts, guest: kh!, readOnly: true });
    return { ...u, identityFile: key, knownHosts: kh };
  });
  const userKnownHosts = env.BOT_BOTTLE_KNOWN_HOSTS || path.join(env.HOME || homedir(), '.ssh', 'known_hosts');
  let defaultKnownHosts: string | null = null;
  const needDefault = plan.gitGate.upstreams.filter((u) => !u.knownHosts && isSshUpstream(u.upstream));
  if (needDefault.length && existsSync(userKnownHosts)) {
    defaultKnownHosts = `${BUNDLE_GIT_DIR}/user_known_hosts`;
    mounts.push({ host: userKnownHosts, guest: defaultKnownHosts, readOnly: true });
  } else if (needDefault.length) {
    throw new BottleError('LAUNCH_ENV_MISSING', `git entry ${needDefault.map((u) => `"${u.name}"`).join(', ')} is an ssh upstream and no known_hosts is available to check its host key`, {
      details: [`looked for ${userKnownHosts}`],
      suggestions: [
        'Set "KnownHosts" on the git entry to a known_hosts file for that host, or add the host to ~/.ssh/known_hosts (ssh-keyscan HOST, then check the fingerprint).',
        'The gate never trusts an unknown host key.',
      ],
      exit: EXIT_USAGE,
    });
  }

  // The supervise queue: the bundle's supervise user (a uid of the bundle image, not this user)
  // writes requests into the queue folder, so it is open to all (777) inside the state dir, which
  // is 700 and so closed to every other user of this machine; in the bundle only the supervise
  // user reaches it. The decisions folder is this user's alone to write, and read-only in the bundle.
  if (plan.supervise) {
    await mkdir(path.dirname(plan.supervise.queueDir), { recursive: true, mode: 0o700 });
    await mkdir(plan.supervise.queueDir, { recursive: true });
    await chmod(plan.supervise.queueDir, 0o777);
    await mkdir(plan.supervise.decisionsDir, { recursive: true });
    await chmod(plan.supervise.decisionsDir, 0o755);
    mounts.push({ host: plan.supervise.queueDir, guest: `${BUNDLE_SUPERVISE_DIR}/queue`, readOnly: false }, { host: plan.supervise.decisionsDir, guest: `${BUNDLE_SUPERVISE_DIR}/decisions`, readOnly: true });
  }

  const config: BundleConfigDraft = {
    slug: plan.slug,
    socketDir: SOCKET_DIR,
    logDir: BUNDLE_LOG_DIR,
    controlDir: BUNDLE_CONTROL_DIR,
    egress: {
      ca: { cert: `${BUNDLE_EGRESS_DIR}/${path.basename(ca.certPath)}`, key: `${BUNDLE_EGRESS_DIR}/${path.basename(ca.keyPath)}` },
      routes: plan.egress.routes,
      secretEnv: plan.egress.secretEnv,
      extraCaFiles,
    },
    gitGate: upstreams.length ? { upstreams, defaultKnownHosts } : null,
    supervise: plan.supervise ? { dir: BUNDLE_SUPERVISE_DIR, credentials: plan.supervise.credentials } : null,
  };
  // The bundle reads these as root; the bottle never mounts any of them.
  await chmod(bundleDir, 0o755);
  return { bundleDir, egressDir, logDir, controlDir, mounts, config };
}

/**
 * Writes the bundle's config, once: the draft, the gateway's process count from the limits the
 * bundle really runs with (the engine's machine may be smaller than the planner's), and `extra`
 * keys a launch adds (a test's broken config, say).
 */
export async function writeBundleConfig(files: BundleFiles, limits: LimitsPlan, extra: Record<string, unknown> = {}): Promise<string> {
  const config = {
    ...files.config,
    // One gateway process per core of the bundle's quota: the bundle's cores are its own (the
    // gateway's "auto", half the cores, is for a gateway sharing a machine with its client).
    egress: { ...files.config.egress, workers: Math.max(1, Math.floor(limits.bundle.cpus)) },
    ...extra,
  };
  const file = path.join(files.bundleDir, 'bundle.json');
  await writeFile(file, JSON.stringify(config, null, 2) + '\n', { mode: 0o644 });
  return file;
}
