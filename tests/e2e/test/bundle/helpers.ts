/**
 * Real bottles for the bundle's tests: the docker backend launches a bottle and its bundle, and a
 * test-made HTTPS upstream (its own container, its own CA) stands in for the internet. The bundle
 * and the upstream share a test-made `--internal` network, so even a broken guard cannot send a
 * packet off this machine. Everything made here carries `bot-bottle-test=1` and is removed.
 */
import claude from '@bot-bottle/agent-claude';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadManifest, makePlan, parseAuditEntry, runProvisioners, validateManifest, type BottlePlan, type EgressAuditEntry, type LaunchedBottle } from '@bot-bottle/core';
import caProvisioner from '@bot-bottle/provisioner-ca';
import { DockerBackend, docker, dockerOk, ensureImages, type ImageRefs } from '@bot-bottle/backend-docker';

export { docker, dockerOk };
export const TEST_LABEL_KEY = 'bot-bottle-test';
export const TEST_LABEL = `${TEST_LABEL_KEY}=1`;
/** This test process's own label, so clean-up never touches what another test run made. */
export const RUN_LABEL_KEY = 'bot-bottle-test.run';
export const RUN_ID = randomBytes(4).toString('hex');
const RUN_LABEL = `${RUN_LABEL_KEY}=${RUN_ID}`;
const labels = ['--label', TEST_LABEL, '--label', RUN_LABEL];
const FIXTURES = path.join(import.meta.dirname, 'fixtures');

export function uniq(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

let images: Promise<ImageRefs> | undefined;
/** Builds (once per process) or finds the images, with the base and build CAs from the environment. */
export function testImages(): Promise<ImageRefs> {
  images ??= ensureImages({ progress: (m) => process.stderr.write(`  ${m}\n`) });
  return images;
}

export interface Upstream {
  /** Container name, which is also its DNS name on the test network and its certificate's name. */
  name: string;
  /** `https://name:8443`, for a route's `to:`. */
  url: string;
  ip: string;
  /** The test CA's certificate file (for BOT_BOTTLE_UPSTREAM_CA_CERTS). */
  caFile: string;
  /** Every request it received so far, in order. */
  requests(): Promise<UpstreamRecord[]>;
  /** Every line it logged (requests and SSE markers). */
  lines(): Promise<Record<string, unknown>[]>;
}

export interface UpstreamRecord {
  at: number;
  method: string;
  url: string;
  headers: Record<string, string | string[]>;
  bodyBytes: number;
  body: string;
}

export interface World {
  network: string;
  upstream: Upstream;
  dir: string;
  stateHome: string;
  cleanup(): Promise<void>;
}

/** A test CA and a server certificate for `name`, made with the openssl CLI (independent of the gateway's code). */
function makePki(dir: string, name: string): void {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=bot-bottle test upstream CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${name}`);
  execFileSync('sh', ['-c', `printf 'subjectAltName=DNS:${name}\\nextendedKeyUsage=serverAuth\\nbasicConstraints=CA:FALSE\\n' > ext.cnf`], { cwd: dir });
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'ext.cnf');
}

/** The test network (internal: no way off the machine) and the HTTPS upstream container on it. */
export async function startWorld(): Promise<World> {
  const img = await testImages();
  const dir = await mkdtemp(path.join(tmpdir(), 'bbtest-bundle-'));
  const stateHome = path.join(dir, 'state');
  const network = uniq('bbtest-egress');
  const name = uniq('bbtest-upstream');
  const srv = path.join(dir, 'srv');
  execFileSync('mkdir', ['-p', srv, stateHome]);
  makePki(srv, name);
  for (const f of ['upstream.cjs', 'agent-apis.cjs']) await copyFile(path.join(FIXTURES, f), path.join(srv, f));
  // The container runs as node: it reads its key through the mount.
  await chmod(path.join(srv, 'server.key'), 0o644);
  await dockerOk(['network', 'create', '--internal', ...labels, network], 'creating the test network');
  await dockerOk(['run', '-d', ...labels, '--name', name, '--network', network, '-u', 'node', '-v', `${srv}:/srv:ro`, img.runtime, 'node', '/srv/upstream.cjs'], 'starting the test upstream');
  const ip = (await dockerOk(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', name], 'inspect')).trim();
  const lines = async () => {
    const r = await docker(['logs', name]);
    return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  };
  for (let i = 0; i < 100 && !(await lines()).some((l) => l.listening); i++) await new Promise((r) => setTimeout(r, 100));
  const upstream: Upstream = {
    name,
    url: `https://${name}:8443`,
    ip,
    caFile: path.join(srv, 'ca.crt'),
    lines,
    requests: async () => (await lines()).filter((l) => typeof l.method === 'string') as unknown as UpstreamRecord[],
  };
  return {
    network,
    upstream,
    dir,
    stateHome,
    async cleanup() {
      await removeTestResources();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface TestBottle {
  bottle: LaunchedBottle;
  plan: BottlePlan;
  backend: DockerBackend;
  /** The whole audit log so far. */
  audit(): Promise<AuditRecord[]>;
}

/** An egress line of the bottle's audit log (git-gate lines are left out by `audit()`). */
export type AuditRecord = EgressAuditEntry;

/**
 * Launches agent `demo` of `manifest` in a real bottle whose bundle joins the world's network and
 * trusts its upstream CA, then installs the egress CA with the real `ca` provisioner.
 * `secrets` are the host env values of the routes' `auth.env` variables. `manifest` may be the path
 * of a manifest file (the plan then names it, as a launch by `bottle run` does).
 */
export async function launchBottle(world: World, manifest: object | string, secrets: Record<string, string>): Promise<TestBottle> {
  await testImages();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    XDG_STATE_HOME: world.stateHome,
    BOT_BOTTLE_BUNDLE_NETWORK: world.network,
    BOT_BOTTLE_UPSTREAM_CA_CERTS: world.upstream.caFile,
    ...secrets,
  };
  const loaded = typeof manifest === 'string' ? await loadManifest(manifest) : await validateManifest(manifest, '<test>', world.dir);
  // Claude Code's definition, as `bottle run` resolves the default "cli".
  const plan = makePlan({ manifest: loaded, agentName: 'demo', copyCwd: false, userCwd: world.dir }, { env, backend: 'docker', agent: { definition: claude, packageName: '@bot-bottle/agent-claude' } });
  if (plan.launchProblems.length) throw new Error(`launch problems: ${plan.launchProblems.join('; ')}`);
  plan.labels[TEST_LABEL_KEY] = '1';
  plan.labels[RUN_LABEL_KEY] = RUN_ID;
  const backend = new DockerBackend(env);
  const bottle = await backend.launch(plan, { progress: () => undefined });
  try {
    await runProvisioners([{ definition: caProvisioner, options: {}, packageName: '@bot-bottle/provisioner-ca' }], {
      plan,
      target: bottle.target,
      endpoints: bottle.endpoints,
      hostEnv: env,
    });
  } catch (e) {
    await bottle.destroy();
    throw e;
  }
  return {
    bottle,
    plan,
    backend,
    async audit() {
      const { readFile } = await import('node:fs/promises');
      const text = await readFile(plan.egress.auditLogPath, 'utf8').catch(() => '');
      return text.split('\n').map(parseAuditEntry).filter((e): e is AuditRecord => e?.source === 'egress');
    },
  };
}

/** Runs a shell snippet in the bottle as the agent user, with the bottle's own env (proxy and all). */
export function inBottle(b: TestBottle, script: string, timeoutMs = 60_000, env: Record<string, string> = {}) {
  return b.bottle.target.exec(['sh', '-c', script], { user: 'node', env: { HOME: '/home/node', USER: 'node', ...env }, timeoutMs });
}

/** Runs a shell snippet in the bottle as root. */
export function inBottleAsRoot(b: TestBottle, script: string, timeoutMs = 120_000) {
  return b.bottle.target.exec(['sh', '-c', script], { timeoutMs });
}

/** Waits until the audit log has an entry `match` accepts (the gateway logs when an exchange ends). */
export async function auditEntry(b: TestBottle, match: (e: AuditRecord) => boolean, timeoutMs = 15_000): Promise<AuditRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = (await b.audit()).find(match);
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`no audit entry matched; the log holds:\n${(await b.audit()).map((e) => JSON.stringify(e)).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Removes every container, volume and network this test process labelled. */
export async function removeTestResources(): Promise<void> {
  const c = await docker(['ps', '-aq', '--filter', `label=${RUN_LABEL}`]);
  const ids = c.stdout.split('\n').filter(Boolean);
  if (ids.length) await docker(['rm', '-f', '-v', ...ids], { timeoutMs: 60_000 });
  const v = await docker(['volume', 'ls', '-q', '--filter', `label=${RUN_LABEL}`]);
  const vols = v.stdout.split('\n').filter(Boolean);
  if (vols.length) await docker(['volume', 'rm', '-f', ...vols]);
  const n = await docker(['network', 'ls', '-q', '--filter', `label=${RUN_LABEL}`]);
  const nets = n.stdout.split('\n').filter(Boolean);
  if (nets.length) await docker(['network', 'rm', ...nets]);
}

export async function writeText(file: string, text: string): Promise<string> {
  await writeFile(file, text);
  return file;
}
