/**
 * The host side of a bundle: its config, the bottle's egress CA (key mode 600, on the host and in
 * the bundle only), the extra upstream CAs, and the dirs the bundle writes back to (log, control).
 */
import { copyFile, mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { BottleError, CONTROL_DIR_NAME, EXIT_USAGE, bottleErrorFrom, isServiceError, type BottlePlan } from '@bot-bottle/core';
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

export interface BundleDirs {
  bundleDir: string;
  egressDir: string;
  logDir: string;
  controlDir: string;
  /** `-v` arguments for the files the bundle alone mounts (identity files, known_hosts, the supervise queue). */
  mounts: string[];
}

/** Extra CAs the gateway trusts for upstreams (beside the system store): BOT_BOTTLE_UPSTREAM_CA_CERTS, ':'-separated. */
export function upstreamCaFiles(env: NodeJS.ProcessEnv): string[] {
  return (env.BOT_BOTTLE_UPSTREAM_CA_CERTS ?? '').split(':').filter(Boolean);
}

export async function prepareBundleFiles(plan: BottlePlan, env: NodeJS.ProcessEnv): Promise<BundleDirs> {
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
  const mounts: string[] = [];
  const upstreams = plan.gitGate.upstreams.map((u, i) => {
    const key = u.identityFile ? `${BUNDLE_GIT_DIR}/keys/${i}` : null;
    const kh = u.knownHosts ? `${BUNDLE_GIT_DIR}/known_hosts/${i}` : null;
    if (u.identityFile) mounts.push('-v', `${u.identityFile}:${key}:ro`);
    if (u.knownHosts) mounts.push('-v', `${u.knownHosts}:${kh}:ro`);
    return { ...u, identityFile: key, knownHosts: kh };
  });
  const userKnownHosts = env.BOT_BOTTLE_KNOWN_HOSTS || path.join(env.HOME || homedir(), '.ssh', 'known_hosts');
  let defaultKnownHosts: string | null = null;
  const needDefault = plan.gitGate.upstreams.filter((u) => !u.knownHosts && isSshUpstream(u.upstream));
  if (needDefault.length && existsSync(userKnownHosts)) {
    defaultKnownHosts = `${BUNDLE_GIT_DIR}/user_known_hosts`;
    mounts.push('-v', `${userKnownHosts}:${defaultKnownHosts}:ro`);
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
    mounts.push('-v', `${plan.supervise.queueDir}:${BUNDLE_SUPERVISE_DIR}/queue`, '-v', `${plan.supervise.decisionsDir}:${BUNDLE_SUPERVISE_DIR}/decisions:ro`);
  }

  const config = {
    slug: plan.slug,
    socketDir: SOCKET_DIR,
    logDir: '/var/log/bot-bottle',
    controlDir: '/run/bot-bottle-control',
    egress: {
      ca: { cert: `${BUNDLE_EGRESS_DIR}/${path.basename(ca.certPath)}`, key: `${BUNDLE_EGRESS_DIR}/${path.basename(ca.keyPath)}` },
      routes: plan.egress.routes,
      secretEnv: plan.egress.secretEnv,
      extraCaFiles,
      // One gateway process per core of the bundle's quota: the bundle's cores are its own (the
      // gateway's "auto", half the cores, is for a gateway sharing a machine with its client).
      workers: Math.max(1, Math.floor(plan.limits.bundle.cpus)),
    },
    gitGate: upstreams.length ? { upstreams, defaultKnownHosts } : null,
    supervise: plan.supervise ? { dir: BUNDLE_SUPERVISE_DIR } : null,
  };
  await writeFile(path.join(bundleDir, 'bundle.json'), JSON.stringify(config, null, 2) + '\n', { mode: 0o644 });
  // The bundle reads these as root; the bottle never mounts any of them.
  await chmod(bundleDir, 0o755);
  return { bundleDir, egressDir, logDir, controlDir, mounts };
}
