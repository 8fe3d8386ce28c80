/**
 * The images a bottle needs, built here from the Dockerfiles in this package. Each tag is a hash of
 * everything that goes into the image (base, Dockerfile, extra CAs, the bundle's code), so an
 * unchanged image is never rebuilt and a changed input always is.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { BottleError, EXIT_INTERRUPTED, EXIT_USAGE } from '@bot-bottle/core';
import { docker } from './docker-cli.js';

export const DEFAULT_BASE_IMAGE = 'node:24-bookworm-slim';
/** The Claude Code release the agent image installs; bump deliberately (it changes the image tag). */
export const CLAUDE_CODE_VERSION = '2.1.330';
const IMAGES_DIR = fileURLToPath(new URL('../images/', import.meta.url));

export interface ImageSettings {
  /** Base image (default node:24-bookworm-slim, or BOT_BOTTLE_BASE_IMAGE). */
  base?: string;
  /** Extra CA certificate files trusted during builds (or BOT_BOTTLE_BUILD_CA_CERTS, ':'-separated). */
  caCerts?: readonly string[];
  progress?: (message: string) => void;
  /** Stream build output to stderr. */
  verbose?: boolean;
  signal?: AbortSignal;
}

export interface ImageRefs {
  runtime: string;
  agent: string;
  bundle: string;
}

export function imageSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): Pick<ImageSettings, 'base' | 'caCerts'> {
  return {
    base: env.BOT_BOTTLE_BASE_IMAGE || DEFAULT_BASE_IMAGE,
    caCerts: (env.BOT_BOTTLE_BUILD_CA_CERTS ?? '').split(':').filter(Boolean),
  };
}

function hash(parts: readonly (string | Buffer)[]): string {
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

async function hashDir(dir: string): Promise<string[]> {
  const parts: string[] = [];
  for (const f of await filesUnder(dir)) parts.push(path.relative(dir, f), hash([await readFile(f)]));
  return parts;
}

async function readCaCerts(files: readonly string[]): Promise<{ name: string; content: Buffer }[]> {
  const out: { name: string; content: Buffer }[] = [];
  for (const [i, f] of files.entries()) {
    const content = await readFile(f).catch(() => {
      throw new BottleError('CA_CERT_INVALID', `extra CA certificate ${f} cannot be read`, {
        suggestions: ['Fix the path given with --ca-cert or BOT_BOTTLE_BUILD_CA_CERTS (":"-separated PEM files).'],
        exit: EXIT_USAGE,
      });
    });
    if (!content.includes('-----BEGIN CERTIFICATE-----')) {
      throw new BottleError('CA_CERT_INVALID', `extra CA certificate ${f} is not a PEM certificate`, { suggestions: ['Give PEM files (-----BEGIN CERTIFICATE-----).'], exit: EXIT_USAGE });
    }
    out.push({ name: `extra-${i}-${path.basename(f).replace(/\.(pem|crt)$/, '')}.crt`, content });
  }
  return out;
}

/** The workspace checkout the bundle's code comes from (its packages and lockfile). */
function workspaceRoot(): string | null {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'pnpm-workspace.yaml'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** Workspace packages the bundle is made of (it and its workspace dependencies, recursively). */
async function bundlePackageDirs(root: string): Promise<string[]> {
  const byName = new Map<string, string>();
  for (const group of ['packages']) {
    for (const name of await readdir(path.join(root, group))) {
      const dir = path.join(root, group, name);
      const pj = await readFile(path.join(dir, 'package.json'), 'utf8').catch(() => null);
      if (pj) byName.set(JSON.parse(pj).name, dir);
    }
  }
  const seen = new Set<string>();
  const visit = async (name: string) => {
    const dir = byName.get(name);
    if (!dir || seen.has(dir)) return;
    seen.add(dir);
    const pj = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8'));
    for (const dep of Object.keys(pj.dependencies ?? {})) await visit(dep);
  };
  await visit('@bot-bottle/bundle');
  return [...seen].sort();
}

async function imageExists(ref: string): Promise<boolean> {
  return (await docker(['image', 'inspect', '--format', '{{.Id}}', ref], { timeoutMs: 30_000 })).exitCode === 0;
}

async function build(ref: string, context: string, buildArgs: Record<string, string>, settings: ImageSettings, what: string): Promise<void> {
  settings.progress?.(`building ${what} image ${ref}`);
  const args = ['build', '--force-rm', '--label', 'bot-bottle.image=1', '-t', ref];
  for (const [k, val] of Object.entries(buildArgs)) args.push('--build-arg', `${k}=${val}`);
  args.push(context);
  const child = execa(process.env.BOT_BOTTLE_DOCKER || 'docker', args, {
    reject: false,
    all: true,
    stdin: 'ignore',
    timeout: 30 * 60_000,
    ...(settings.signal ? { cancelSignal: settings.signal } : {}),
  });
  if (settings.verbose) child.all?.pipe(process.stderr);
  const r = await child;
  if ((r as { code?: string }).code === 'ENOENT') throw new BottleError('BACKEND_UNAVAILABLE', 'docker is not installed', { suggestions: ['Install Docker, then run `bottle doctor`.'] });
  if (r.isCanceled) throw new BottleError('INTERRUPTED', `building ${what} image was interrupted`, { exit: EXIT_INTERRUPTED });
  if (r.exitCode !== 0) {
    const tail = String(r.all ?? '').trim().split('\n').slice(-12);
    throw new BottleError('IMAGE_BUILD_FAILED', `building the ${what} image failed (docker exited ${r.exitCode})`, {
      details: tail,
      suggestions: [
        'Behind an intercepting proxy? Give its CA: bottle image build --ca-cert /path/ca.crt (or BOT_BOTTLE_BUILD_CA_CERTS).',
        'No registry reachable? Build a base from Debian: scripts/debian-base-image.sh, then --base <that image>.',
      ],
    });
  }
}

/** Ensures the runtime, agent and bundle images exist, building what is missing. */
export async function ensureImages(settings: ImageSettings = {}): Promise<ImageRefs & { built: string[] }> {
  const fromEnv = imageSettingsFromEnv();
  const base = settings.base ?? fromEnv.base ?? DEFAULT_BASE_IMAGE;
  const cas = await readCaCerts(settings.caCerts ?? fromEnv.caCerts ?? []);
  const built: string[] = [];
  const baseId = (await docker(['image', 'inspect', '--format', '{{.Id}}', base], { timeoutMs: 30_000 })).stdout.trim();

  const runtimeDockerfile = await readFile(path.join(IMAGES_DIR, 'runtime', 'Dockerfile'));
  const runtime = `bot-bottle-runtime:${hash([base, baseId, runtimeDockerfile, ...cas.flatMap((c) => [c.name, c.content])])}`;

  const agentFiles = await hashDir(path.join(IMAGES_DIR, 'agent'));
  const agent = `bot-bottle-agent:${hash([runtime, CLAUDE_CODE_VERSION, ...agentFiles])}`;

  const root = workspaceRoot();
  if (!root) {
    throw new BottleError('IMAGE_BUILD_FAILED', 'the bundle image is built from a bot-bottle source checkout, and none was found', {
      suggestions: ['Run bottle from a clone of the bot-bottle repository (scripts/setup.sh builds it).'],
    });
  }
  const pkgDirs = await bundlePackageDirs(root);
  const bundleInputs: string[] = [await readFile(path.join(root, 'pnpm-lock.yaml'), 'utf8')];
  for (const dir of pkgDirs) {
    if (!existsSync(path.join(dir, 'dist'))) {
      throw new BottleError('IMAGE_BUILD_FAILED', `${path.relative(root, dir)} is not built`, { suggestions: ['Run scripts/setup.sh (or pnpm build) first.'] });
    }
    bundleInputs.push(path.relative(root, dir), await readFile(path.join(dir, 'package.json'), 'utf8'), ...(await hashDir(path.join(dir, 'dist'))));
  }
  const bundle = `bot-bottle-bundle:${hash([runtime, ...(await hashDir(path.join(IMAGES_DIR, 'bundle'))), ...bundleInputs])}`;

  // The usual case, every image present, costs one docker call.
  if ((await docker(['image', 'inspect', '--format', '{{.Id}}', runtime, agent, bundle], { timeoutMs: 30_000 })).exitCode === 0) {
    return { runtime, agent, bundle, built };
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
      await build(agent, path.join(IMAGES_DIR, 'agent'), { RUNTIME: runtime, CLAUDE_CODE_VERSION }, settings, 'agent');
      built.push(agent);
    }
    if (!(await imageExists(bundle))) {
      const ctx = path.join(work, 'bundle');
      await mkdir(ctx, { recursive: true });
      await copyFile(path.join(IMAGES_DIR, 'bundle', 'Dockerfile'), path.join(ctx, 'Dockerfile'));
      settings.progress?.('collecting the bundle code (pnpm deploy)');
      const r = await execa('pnpm', ['--filter', '@bot-bottle/bundle', 'deploy', '--prod', '--legacy', '--prefer-offline', path.join(ctx, 'app')], {
        cwd: root,
        reject: false,
        all: true,
        stdin: 'ignore',
        timeout: 10 * 60_000,
      });
      if (r.exitCode !== 0) {
        throw new BottleError('IMAGE_BUILD_FAILED', 'collecting the bundle code failed (pnpm deploy)', {
          details: String(r.all ?? '').trim().split('\n').slice(-8),
          suggestions: ['Run scripts/setup.sh, then try again.'],
        });
      }
      await build(bundle, ctx, { RUNTIME: runtime }, settings, 'bundle');
      built.push(bundle);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return { runtime, agent, bundle, built };
}

export async function imageSize(ref: string): Promise<number> {
  const r = await docker(['image', 'inspect', '--format', '{{.Size}}', ref]);
  return Number(r.stdout.trim()) || 0;
}

