/**
 * The host side of a bundle: its config, the bottle's egress CA (key mode 600, on the host and in
 * the bundle only), the extra upstream CAs, and the dirs the bundle writes back to (log, control).
 */
import { copyFile, mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { BottleError, type BottlePlan } from '@bot-bottle/core';
import { createBottleCa } from '@bot-bottle/egress-gateway';
import { SOCKET_DIR } from './names.js';

/** Where the bundle sees the host's egress dir (the CA) — a read-only mount. */
export const BUNDLE_EGRESS_DIR = '/etc/bot-bottle-egress';

export interface BundleDirs {
  bundleDir: string;
  egressDir: string;
  logDir: string;
  controlDir: string;
}

/** Extra CAs the gateway trusts for upstreams (beside the system store): BOT_BOTTLE_UPSTREAM_CA_CERTS, ':'-separated. */
export function upstreamCaFiles(env: NodeJS.ProcessEnv): string[] {
  return (env.BOT_BOTTLE_UPSTREAM_CA_CERTS ?? '').split(':').filter(Boolean);
}

export async function prepareBundleFiles(plan: BottlePlan, env: NodeJS.ProcessEnv): Promise<BundleDirs> {
  const bundleDir = path.join(plan.stateDir, 'bundle');
  const egressDir = path.dirname(plan.egress.caCertPath);
  const logDir = path.dirname(plan.egress.auditLogPath);
  const controlDir = path.join(plan.stateDir, 'control');
  for (const d of [bundleDir, egressDir, logDir, controlDir]) await mkdir(d, { recursive: true, mode: 0o700 });

  const ca = await createBottleCa(egressDir);
  if (ca.certPath !== plan.egress.caCertPath || ca.keyPath !== plan.egress.caKeyPath) {
    throw new BottleError('INTERNAL', `the egress CA landed at ${ca.certPath}, not at the planned ${plan.egress.caCertPath}`);
  }

  const extraCaFiles: string[] = [];
  const caDir = path.join(bundleDir, 'upstream-ca');
  await mkdir(caDir, { recursive: true });
  for (const [i, file] of upstreamCaFiles(env).entries()) {
    const text = await readFile(file, 'utf8').catch(() => {
      throw new BottleError('USAGE', `upstream CA ${file} (from BOT_BOTTLE_UPSTREAM_CA_CERTS) cannot be read`, { suggestions: ['Fix the path, or unset BOT_BOTTLE_UPSTREAM_CA_CERTS.'], exit: 2 });
    });
    if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new BottleError('USAGE', `upstream CA ${file} is not a PEM certificate`, { exit: 2 });
    const name = `${i}.crt`;
    await copyFile(file, path.join(caDir, name));
    extraCaFiles.push(`/etc/bot-bottle/upstream-ca/${name}`);
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
    },
  };
  await writeFile(path.join(bundleDir, 'bundle.json'), JSON.stringify(config, null, 2) + '\n', { mode: 0o644 });
  // The bundle reads these as root; the bottle never mounts any of them.
  await chmod(bundleDir, 0o755);
  return { bundleDir, egressDir, logDir, controlDir };
}
