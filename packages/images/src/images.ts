/**
 * The images a bottle needs, built here from the Dockerfiles in this package. Each tag is a hash of
 * everything that goes into the image (base, Dockerfile, extra CAs, the bundle's code), so an
 * unchanged image is never rebuilt and a changed input always is. The base and the CAs are the
 * user's recorded choice (see image-config.ts); the bundle's code is what is installed next to
 * this package (see bundle-closure.ts).
 */
import { createHash } from 'node:crypto';
import { copyFile, cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { BottleError, EXIT_INTERRUPTED, EXIT_USAGE, type AgentInstall } from '@bot-bottle/core';
import claude from '@bot-bottle/agent-claude';
import { docker } from '@bot-bottle/backend-kit';
import { collectClosure, hashClosure, layoutClosure, verifyLayout, writeLayout } from './bundle-closure.js';
import {
  DEFAULT_BASE_IMAGE,
  detectBase,
  ensureBasePresent,
  hostCaCerts,
  statedImageChoice,
  userConfigDir,
  writeImageConfig,
  type ChoiceSource,
  type ImageChoice,
} from './image-config.js';

export { DEFAULT_BASE_IMAGE };
export { CLAUDE_CODE_VERSION } from '@bot-bottle/agent-claude';
/** The agent an agent image installs when none is named: Claude Code, as its definition pins it. */
export const DEFAULT_AGENT: ImageAgent = { name: claude.name, install: claude.install };
const IMAGES_DIR = fileURLToPath(new URL('../images/', import.meta.url));
/** This package's folder: the bundle's code is looked up from here, as Node would from this code. */
const PACKAGE_DIR = fileURLToPath(new URL('../', import.meta.url));

export interface ImageSettings {
  /** Base image; "auto" forgets the recorded choice and detects again. Else BOT_BOTTLE_BASE_IMAGE, the user's config, detection. */
  base?: string;
  /** Extra CA certificate files trusted during builds. Else BOT_BOTTLE_BUILD_CA_CERTS (':'-separated), the user's config, the host's. */
  caCerts?: readonly string[];
  /** The user's config dir (default: oclif's for `bottle`, see userConfigDir). */
  configDir?: string;
  /** Where the environment settings are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /**
   * Record the choice in the user's config once the images are there. Default: only what had to be
   * detected, so that the next launch does not detect again.
   */
  record?: boolean;
  progress?: (message: string) => void;
  /** Stream build output to stderr. */
  verbose?: boolean;
  signal?: AbortSignal;
  /** The agent the agent image installs (its definition's name and install); default Claude Code. */
  agent?: ImageAgent;
}

/** An agent as an image installs it: `bot-bottle-agent-<name>:<hash>`. */
export interface ImageAgent {
  name: string;
  install: AgentInstall;
}

export interface ImageRefs {
  runtime: string;
  agent: string;
  bundle: string;
}

export interface EnsuredImages extends ImageRefs {
  built: string[];
  /** What the images were built from, and where each setting came from. */
  choice: ImageChoice;
  /** The config file the choice was written to, when it was. */
  recorded?: string;
}

export function hash(parts: readonly (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 12);
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(path.join(entry.parentPath, entry.name));
  }
  return out.sort();
}

export async function hashDir(dir: string): Promise<string[]> {
  const parts: string[] = [];
  for (const f of await filesUnder(dir)) parts.push(path.relative(dir, f), hash([await readFile(f)]));
  return parts;
}

const CA_FIX: Record<ChoiceSource, string> = {
  flag: 'Fix the path given with --ca-cert (PEM files).',
  env: 'Fix BOT_BOTTLE_BUILD_CA_CERTS (":"-separated PEM files).',
  config: 'Run `bottle image build --base auto` to choose again, or give the CAs with --ca-cert.',
  detected: 'Fix or remove that file, or give the CAs with --ca-cert.',
};

async function readCaCerts(files: readonly string[], from: ChoiceSource): Promise<{ name: string; content: Buffer }[]> {
  const out: { name: string; content: Buffer }[] = [];
  for (const [i, f] of files.entries()) {
    const content = await readFile(f).catch(() => {
      throw new BottleError('CA_CERT_INVALID', `extra CA certificate ${f} cannot be read`, { suggestions: [CA_FIX[from]], exit: EXIT_USAGE });
    });
    if (!content.includes('-----BEGIN CERTIFICATE-----')) {
      throw new BottleError('CA_CERT_INVALID', `extra CA certificate ${f} is not a PEM certificate`, { suggestions: ['Give PEM files (-----BEGIN CERTIFICATE-----).', CA_FIX[from]], exit: EXIT_USAGE });
    }
    out.push({ name: `extra-${i}-${path.basename(f).replace(/\.(pem|crt)$/, '')}.crt`, content });
  }
  return out;
}

export async function imageExists(ref: string): Promise<boolean> {
  return (await docker(['image', 'inspect', '--format', '{{.Id}}', ref], { timeoutMs: 30_000 })).exitCode === 0;
}

export interface BuildOptions {
  /** A Dockerfile elsewhere than the context's own. */
  dockerfile?: string;
  target?: string;
  labels?: Record<string, string>;
  /** Shows docker's "Step N/M" lines as progress (long builds of the user's images). */
  steps?: boolean;
  /** What a failure suggests instead of the proxy and base hints. */
  suggestions?: readonly string[];
  /** Turns a failed build's output into a more precise error (a layer that refused the image). */
  explain?: (output: string) => BottleError | null;
}

export async function build(ref: string, context: string, buildArgs: Record<string, string>, settings: ImageSettings, what: string, o: BuildOptions = {}): Promise<void> {
  settings.progress?.(`building ${what} image ${ref}`);
  const args = ['build', '--force-rm', '--label', 'bot-bottle.image=1', '-t', ref];
  for (const [k, val] of Object.entries(o.labels ?? {})) args.push('--label', `${k}=${val}`);
  for (const [k, val] of Object.entries(buildArgs)) args.push('--build-arg', `${k}=${val}`);
  if (o.dockerfile) args.push('-f', o.dockerfile);
  if (o.target) args.push('--target', o.target);
  args.push(context);
  const child = execa(process.env.BOT_BOTTLE_DOCKER || 'docker', args, {
    reject: false,
    all: true,
    stdin: 'ignore',
    timeout: 30 * 60_000,
    ...(settings.signal ? { cancelSignal: settings.signal } : {}),
  });
  if (settings.verbose) child.all?.pipe(process.stderr);
  else if (o.steps && settings.progress) {
    let partial = '';
    child.all?.on('data', (chunk: Buffer) => {
      const lines = (partial + String(chunk)).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^Step (\d+\/\d+) : (.*)$/.exec(line.trim());
        if (m) settings.progress?.(`${what}: step ${m[1]} ${m[2]!.length > 100 ? `${m[2]!.slice(0, 100)}...` : m[2]}`);
      }
    });
  }
  const r = await child;
  if ((r as { code?: string }).code === 'ENOENT') throw new BottleError('BACKEND_UNAVAILABLE', 'docker is not installed', { suggestions: ['Install Docker, then run `bottle doctor`.'] });
  if (r.isCanceled) throw new BottleError('INTERRUPTED', `building ${what} image was interrupted`, { exit: EXIT_INTERRUPTED });
  if (r.exitCode !== 0) {
    const output = String(r.all ?? '');
    const explained = o.explain?.(output);
    if (explained) throw explained;
    const tail = output.trim().split('\n').slice(-12);
    throw new BottleError('IMAGE_BUILD_FAILED', `building the ${what} image failed (docker exited ${r.exitCode})`, {
      details: tail,
      suggestions: o.suggestions ?? [
        'Behind an intercepting proxy? Give its CA: bottle image build --ca-cert /path/ca.crt (or BOT_BOTTLE_BUILD_CA_CERTS).',
        'No registry reachable? Build the base from Debian instead: bottle image build --base auto (as root, with debootstrap installed).',
      ],
    });
  }
}

/** Ensures the runtime, agent and bundle images exist, building what is missing. */
export async function ensureImages(settings: ImageSettings = {}): Promise<EnsuredImages> {
  const env = settings.env ?? process.env;
  const configDir = settings.configDir ?? userConfigDir(env);
  // The bundle's code is read while docker answers about the base (it costs a few hundred ms).
  const bundleCode = (async () => {
    const closure = await collectClosure('@bot-bottle/bundle', PACKAGE_DIR, { forTagOnly: true });
    const placements = layoutClosure(closure);
    return { closure, placements, parts: await hashClosure(closure, placements) };
  })();
  // Not awaited until after the base is settled: keep a failure from going unhandled meanwhile.
  bundleCode.catch(() => undefined);
  const detect = { env, ...(settings.progress ? { progress: settings.progress } : {}), ...(settings.signal ? { signal: settings.signal } : {}), ...(settings.verbose ? { verbose: true } : {}) };
  const stated = await statedImageChoice({ ...detect, configDir, ...(settings.base ? { base: settings.base } : {}), ...(settings.caCerts ? { caCerts: settings.caCerts } : {}) });
  // The CAs are read first: a wrong file is the user's input, reported before docker is asked anything.
  const [caFiles, caFrom] = stated.caCerts ?? [await hostCaCerts(), 'detected' as const];
  const cas = await readCaCerts(caFiles, caFrom);
  const [statedBase, baseFrom] = stated.base ?? [await detectBase(detect), 'detected' as const];
  // One docker call in the usual case (the base is there); a Debian base that was removed is made again.
  const baseIdOf = async (ref: string) => (await docker(['image', 'inspect', '--format', '{{.Id}}', ref], { timeoutMs: 30_000 })).stdout.trim();
  let base = statedBase;
  let baseId = await baseIdOf(base);
  if (!baseId) {
    base = await ensureBasePresent(statedBase, detect);
    baseId = await baseIdOf(base);
  }
  const choice: ImageChoice = { base, caCerts: caFiles, from: { base: baseFrom, caCerts: caFrom } };
  const built: string[] = [];

  const runtimeDockerfile = await readFile(path.join(IMAGES_DIR, 'runtime', 'Dockerfile'));
  const runtime = `bot-bottle-runtime:${hash([base, baseId, runtimeDockerfile, ...cas.flatMap((c) => [c.name, c.content])])}`;

  const agentFiles = await hashDir(path.join(IMAGES_DIR, 'agent'));
  const { name: agentName, install } = settings.agent ?? DEFAULT_AGENT;
  const installParts = 'npm' in install ? ['npm', install.npm, install.version, install.bin] : ['dir', install.bin, ...(await hashDir(install.dir).catch(() => {
    throw new BottleError('IMAGE_BUILD_FAILED', `agent ${agentName}: its folder ${install.dir} cannot be read`, { suggestions: [`Reinstall the plugin that provides the agent ${agentName}.`] });
  }))];
  const agent = `bot-bottle-agent-${agentName}:${hash([runtime, ...installParts, ...agentFiles])}`;

  // The bundle's code: @bot-bottle/bundle and its dependencies as installed next to this package.
  const { closure, parts } = await bundleCode;
  const bundle = `bot-bottle-bundle:${hash([runtime, ...(await hashDir(path.join(IMAGES_DIR, 'bundle'))), ...parts])}`;

  const done = async (): Promise<EnsuredImages> => {
    const record = settings.record ?? (baseFrom === 'detected' || caFrom === 'detected');
    const recorded = record ? await writeImageConfig(configDir, { base, caCerts: caFiles }) : undefined;
    return { runtime, agent, bundle, built, choice, ...(recorded ? { recorded } : {}) };
  };
  // The usual case, every image present, costs one docker call.
  if ((await docker(['image', 'inspect', '--format', '{{.Id}}', runtime, agent, bundle], { timeoutMs: 30_000 })).exitCode === 0) {
    return done();
  }
  const work = await mkdtemp(path.join(tmpdir(), 'bot-bottle-build-'));
  try {
    if (!(await imageExists(runtime))) {
      const ctx = path.join(work, 'runtime');
      await mkdir(path.join(ctx, 'extra-ca'), { recursive: true });
      await copyFile(path.join(IMAGES_DIR, 'runtime', 'Dockerfile'), path.join(ctx, 'Dockerfile'));
      for (const c of cas) await writeFile(path.join(ctx, 'extra-ca', c.name), c.content);
      await build(runtime, ctx, { BASE: base }, settings, 'runtime');
      built.push(runtime);
    }
    if (!(await imageExists(agent))) {
      const ctx = path.join(work, 'agent');
      await cp(path.join(IMAGES_DIR, 'agent'), ctx, { recursive: true });
      await mkdir(path.join(ctx, 'agent-files'), { recursive: true });
      if ('dir' in install) await cp(install.dir, path.join(ctx, 'agent-files'), { recursive: true, dereference: true });
      const args: Record<string, string> = 'npm' in install ? { AGENT_PACKAGE: install.npm, AGENT_VERSION: install.version, AGENT_BIN: install.bin } : { AGENT_BIN: install.bin };
      await build(agent, ctx, { RUNTIME: runtime, ...args }, settings, `agent (${agentName})`);
      built.push(agent);
    }
    if (!(await imageExists(bundle))) {
      const ctx = path.join(work, 'bundle');
      const app = path.join(ctx, 'app');
      await mkdir(app, { recursive: true });
      await copyFile(path.join(IMAGES_DIR, 'bundle', 'Dockerfile'), path.join(ctx, 'Dockerfile'));
      settings.progress?.(`collecting the bundle code (${closure.packages.size} packages)`);
      // The tag was worked out without listing installed packages' files: list and check them all now.
      const full = await collectClosure('@bot-bottle/bundle', PACKAGE_DIR);
      const fullPlacements = layoutClosure(full);
      await writeLayout(app, full, fullPlacements);
      await verifyLayout(app, full, fullPlacements);
      await build(bundle, ctx, { RUNTIME: runtime }, settings, 'bundle');
      built.push(bundle);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return done();
}

export async function imageSize(ref: string): Promise<number> {
  const r = await docker(['image', 'inspect', '--format', '{{.Size}}', ref]);
  return Number(r.stdout.trim()) || 0;
}


/** The image settings for the agent a plan runs: its definition's install, or the default (Claude Code) when the plan has none. */
export function agentImageSettings(plan: { agent: { cli: string; install: AgentInstall | null } }): { agent?: ImageAgent } {
  return plan.agent.install ? { agent: { name: plan.agent.cli, install: plan.agent.install } } : {};
}
