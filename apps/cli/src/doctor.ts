/**
 * What `bottle doctor` checks on the host, each with the exact fix when it is missing: Node, each
 * backend's own doctor (its engine, what it needs of the host), the images' base. Every probe a
 * backend runs has a timeout: a hung engine must not hang the doctor.
 */
import { isBottleError, type LoadedManifest } from '@bot-bottle/core';
import { statedImageChoice, userConfigDir, userConfigFile } from '@bot-bottle/images';
import { imageStatus, manifestImages } from './bottle-images.js';

export interface DoctorCheckResult {
  name: string;
  ok: boolean;
  /** A missing required check makes `bottle doctor` exit 1; an optional one only informs. */
  required: boolean;
  /** The backend whose check it is, for a backend's own checks. */
  backend?: string;
  detail: string;
  fix?: string;
}

export const MIN_NODE_MAJOR = 22;

const FIX = {
  node: `Install Node.js ${MIN_NODE_MAJOR} or newer (24 LTS recommended): nvm install 24 && nvm use 24, or see https://nodejs.org/en/download`,
} as const;

export function checkNode(version = process.versions.node): DoctorCheckResult {
  const major = Number(version.split('.')[0]);
  const ok = major >= MIN_NODE_MAJOR;
  return { name: 'node', ok, required: true, detail: ok ? `v${version}` : `v${version} is too old (need >= ${MIN_NODE_MAJOR})`, ...(ok ? {} : { fix: FIX.node }) };
}

/** Which base the images are built from (flag-free: the environment, then the user's config); nothing is detected here. */
export async function checkBaseImage(env: NodeJS.ProcessEnv, configDir: string): Promise<DoctorCheckResult> {
  const name = 'base image';
  try {
    const stated = await statedImageChoice({ env, configDir });
    if (!stated.base) {
      return { name, ok: false, required: false, detail: `not chosen yet (nothing recorded in ${userConfigFile(configDir)})`, fix: 'bottle image build (it detects the base, records it, and builds the images)' };
    }
    const [base, from] = stated.base;
    const cas = stated.caCerts ? `, ${stated.caCerts[0].length} extra CA(s) from ${stated.caCerts[1] === 'env' ? 'BOT_BOTTLE_BUILD_CA_CERTS' : stated.caCerts[1]}` : '';
    return { name, ok: true, required: false, detail: `${base} (from ${from === 'env' ? 'BOT_BOTTLE_BASE_IMAGE' : userConfigFile(configDir)}${cas})` };
  } catch (e) {
    if (!isBottleError(e)) throw e;
    return { name, ok: false, required: false, detail: e.message, ...(e.suggestions[0] ? { fix: e.suggestions[0] } : {}) };
  }
}

/**
 * The images the manifest's bottles name: each there (with the agent layer), or missing with the fix.
 * They only inform: a launch builds or pulls what it can.
 */
export async function checkBottleImages(manifest: LoadedManifest | Error | null): Promise<DoctorCheckResult[]> {
  if (manifest === null) return [];
  if (manifest instanceof Error) {
    return [{ name: 'manifest', ok: false, required: false, detail: manifest.message, fix: isBottleError(manifest) && manifest.suggestions[0] ? manifest.suggestions[0] : 'Fix the manifest (`bottle validate` names each problem).' }];
  }
  return Promise.all(
    manifestImages(manifest).map(async ({ bottles, image }) => {
      const s = await imageStatus(image);
      return { name: `image of ${bottles.length > 1 ? 'bottles' : 'bottle'} ${bottles.join(', ')}`, ok: s.ok, required: false, detail: s.detail, ...(s.fix ? { fix: s.fix } : {}) };
    }),
  );
}

/** One backend's checks, as `bottle doctor` reports them: required for the backend a launch would use now. */
export interface BackendDoctor {
  name: string;
  description: string;
  chosen: boolean;
  doctor(): Promise<{ name: string; ok: boolean; detail: string; fix?: string }[]>;
}

/**
 * Node, then each installed backend's own checks (the one a launch would use now is required, the
 * others inform), then the images the manifest's bottles name (when there is a manifest), then the
 * images' base.
 */
export async function runDoctor(backends: readonly BackendDoctor[], env: NodeJS.ProcessEnv = process.env, configDir = userConfigDir(env), manifest: LoadedManifest | Error | null = null): Promise<DoctorCheckResult[]> {
  const checks: DoctorCheckResult[] = [checkNode()];
  const results = await Promise.all(
    backends.map(async (b) => {
      try {
        return await b.doctor();
      } catch (e) {
        if (!isBottleError(e)) throw e;
        return [{ name: b.name, ok: false, detail: e.message, ...(e.suggestions[0] ? { fix: e.suggestions[0] } : {}) }];
      }
    }),
  );
  backends.forEach((b, i) => {
    for (const c of results[i]!) {
      checks.push({ name: c.name, ok: c.ok, required: b.chosen, backend: b.name, detail: b.chosen || c.ok ? c.detail : `${c.detail} (optional: the ${b.name} backend needs it)`, ...(c.fix ? { fix: c.fix } : {}) });
    }
  });
  // The bottles' own images before the base, which stays last.
  checks.push(...(await checkBottleImages(manifest)));
  checks.push(await checkBaseImage(env, configDir));
  return checks;
}
