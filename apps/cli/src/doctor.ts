/**
 * What `bottle doctor` checks on the host, each with the exact fix when it is missing. Every probe
 * runs a real binary with a timeout: a hung docker engine must not hang the doctor.
 */
import { execa, type Result } from 'execa';
import { isBottleError } from '@bot-bottle/core';
import { statedImageChoice, userConfigDir, userConfigFile } from '@bot-bottle/images';

export interface DoctorCheckResult {
  name: string;
  ok: boolean;
  /** A missing required check makes `bottle doctor` exit 1; an optional one only informs. */
  required: boolean;
  detail: string;
  fix?: string;
}

export const MIN_NODE_MAJOR = 22;
const PROBE_TIMEOUT_MS = 15_000;

const FIX = {
  node: `Install Node.js ${MIN_NODE_MAJOR} or newer (24 LTS recommended): nvm install 24 && nvm use 24, or see https://nodejs.org/en/download`,
  dockerClient: 'Install Docker: https://docs.docker.com/engine/install/ (Debian/Ubuntu: sudo apt-get install -y docker.io)',
  dockerEngine: 'Start the Docker engine: sudo systemctl start docker (Docker Desktop: open it), and check that DOCKER_HOST, if set, points at it',
  smolvm: 'Install smolvm (only needed for the smolmachines backend): curl -sSL https://smolmachines.com/install.sh | bash',
} as const;

type Probe = { kind: 'missing' } | { kind: 'failed'; why: string } | { kind: 'ok'; stdout: string };

async function probe(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<Probe> {
  const r: Result = await execa(file, args, { reject: false, timeout: PROBE_TIMEOUT_MS, env, extendEnv: false, stdin: 'ignore' });
  if ((r as { code?: string }).code === 'ENOENT') return { kind: 'missing' };
  if (r.timedOut) return { kind: 'failed', why: `no answer within ${PROBE_TIMEOUT_MS / 1000} s` };
  if (r.failed) {
    const text = `${String(r.stderr ?? '')}\n${String(r.stdout ?? '')}`.split('\n').map((l) => l.trim()).find((l) => l) ?? r.shortMessage ?? 'failed';
    return { kind: 'failed', why: text };
  }
  return { kind: 'ok', stdout: String(r.stdout ?? '').trim() };
}

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

export async function runDoctor(env: NodeJS.ProcessEnv = process.env, configDir = userConfigDir(env)): Promise<DoctorCheckResult[]> {
  const checks: DoctorCheckResult[] = [checkNode()];
  const [client, smolvm] = await Promise.all([probe('docker', ['version', '--format', '{{.Client.Version}}'], env), probe('smolvm', ['--version'], env)]);
  // `docker version` also asks the engine; a failure there with a client version printed still means the client exists.
  let clientOk = client.kind !== 'missing';
  if (client.kind === 'missing') checks.push({ name: 'docker client', ok: false, required: true, detail: 'not installed (docker is not on PATH)', fix: FIX.dockerClient });
  else {
    const version = await probe('docker', ['--version'], env);
    clientOk = version.kind === 'ok';
    checks.push(
      version.kind === 'ok'
        ? { name: 'docker client', ok: true, required: true, detail: version.stdout }
        : { name: 'docker client', ok: false, required: true, detail: version.kind === 'missing' ? 'not installed' : `does not run: ${version.why}`, fix: FIX.dockerClient },
    );
  }
  if (!clientOk) checks.push({ name: 'docker engine', ok: false, required: true, detail: 'not checked (no working docker client)', fix: FIX.dockerEngine });
  else {
    const info = await probe('docker', ['info', '--format', '{{.ServerVersion}}'], env);
    checks.push(
      info.kind === 'ok' && info.stdout
        ? { name: 'docker engine', ok: true, required: true, detail: `reachable, version ${info.stdout}` }
        : { name: 'docker engine', ok: false, required: true, detail: `not reachable: ${info.kind === 'failed' ? info.why : 'no answer'}`, fix: FIX.dockerEngine },
    );
  }
  checks.push(
    smolvm.kind === 'ok'
      ? { name: 'smolvm', ok: true, required: false, detail: smolvm.stdout || 'installed' }
      : { name: 'smolvm', ok: false, required: false, detail: smolvm.kind === 'missing' ? 'not installed (optional: the smolmachines backend needs it)' : `does not run: ${smolvm.why}`, fix: FIX.smolvm },
  );
  checks.push(await checkBaseImage(env, configDir));
  return checks;
}
