/**
 * A bottle's own image (the manifest's "image", resolved into `plan.image` by core) with bot-bottle's
 * agent layer on top (images/agent-layer). The user's image is found, pulled, or built from its
 * Dockerfile (tagged `bot-bottle-user:<hash of the Dockerfile, args, target and the context's files>`);
 * the layered image is tagged `bot-bottle-layered:<hash of the user image's id, bot-bottle's agent
 * image, the layer's files>`, so an unchanged one is never rebuilt. Before the first layering the
 * user's image is inspected (its platform, and a probe container with no network: /bin/sh, glibc),
 * and an image the layer cannot work on is refused with one message naming it and why.
 */
import { fileURLToPath } from 'node:url';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BottleError, EXIT_USAGE, type DevcontainerFeature, type ImagePlan } from '@bot-bottle/core';
import { EXEC_AGENT_PATH, docker } from '@bot-bottle/backend-kit';
import { buildInputsHash } from './build-context.js';
import { build, ensureImages, hash, hashDir, imageExists, type EnsuredImages, type ImageSettings } from './images.js';

const LAYER_DIR = fileURLToPath(new URL('../images/agent-layer/', import.meta.url));
/** bot-bottle's Node in a layered image, run through the glibc it was built with (it needs nothing of the image's libraries). */
export const LAYER_NODE = ['/opt/bot-bottle/glibc/ld.so', '--library-path', '/opt/bot-bottle/glibc', '/opt/bot-bottle/node/bin/node'] as const;
/** Where a layered image keeps what bot-bottle puts on PATH (after the image's own dirs): claude, stand-ins. */
export const LAYER_BIN = '/opt/bot-bottle/bin';
/** docker's PATH for an image that sets none. */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Labels on layered images: which user image each was made from. */
export const LABEL_LAYER_OF = 'bot-bottle.layer-of';
export const LABEL_USER_IMAGE = 'bot-bottle.user-image';
/** On a layered image: the agent image (its repository) whose layer it carries. */
export const LABEL_LAYER_AGENT = 'bot-bottle.layer-agent';

/** The image a bottle runs, and how its exec agent is started. */
export interface BottleImage {
  ref: string;
  /** argv that starts the exec agent in it (as root). */
  execAgent: string[];
  /** The user's image it was layered on; absent for bot-bottle's own agent image. */
  userImage?: { ref: string; id: string };
  /** Images built for it now (the user's, the layered one). */
  built: string[];
}

export interface BottleImageSettings extends ImageSettings {
  /** The standard images, when the caller has them already (else they are ensured here). */
  images?: EnsuredImages;
}

interface Inspected {
  id: string;
  os: string;
  architecture: string;
  path: string;
}

/** How the bottle's image is named in messages: `python:3.12 (bottles.dev.image)`. */
export function describeImage(image: ImagePlan): string {
  const key = image.key ? ` (${image.key})` : '';
  if (image.source === 'default') return "bot-bottle's agent image";
  const of = image.source === 'devcontainer' ? ` of ${image.devcontainer}` : '';
  if (image.ref) return `image ${image.ref}${of}${key}`;
  return `the Dockerfile ${image.build?.dockerfile}${of}${key}`;
}

/** The tag a Dockerfile image is built as: a hash of everything the build reads. */
export async function userBuildTag(image: ImagePlan): Promise<string> {
  if (!image.build) throw new BottleError('INTERNAL', 'userBuildTag: the image has no build');
  try {
    return `bot-bottle-user:${await buildInputsHash(image.build)}`;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new BottleError('IMAGE_BUILD_FAILED', `cannot read the build context of ${describeImage(image)}: ${err.code ?? ''} ${err.path ?? err.message}`.trim(), {
      suggestions: ['Make every file of the context readable, or list what must stay out in the context\'s .dockerignore.'],
      exit: EXIT_USAGE,
    });
  }
}

async function inspect(ref: string, signal?: AbortSignal): Promise<Inspected | null> {
  const r = await docker(['image', 'inspect', '--format', '{{.Id}}|{{.Os}}|{{.Architecture}}|{{range .Config.Env}}{{println .}}{{end}}', ref], { timeoutMs: 30_000, ...(signal ? { signal } : {}) });
  if (r.exitCode !== 0) return null;
  const [id = '', os = '', architecture = '', env = ''] = r.stdout.split('|');
  const pathLine = env.split('\n').find((l) => l.startsWith('PATH='));
  return { id, os, architecture, path: pathLine ? pathLine.slice(5) : DEFAULT_PATH };
}

/** A shell word: single-quoted unless plainly safe. */
function shellWord(v: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}

/** The Dockerfile that installs local devcontainer features on `base`, each from its copy in feature-<i>/. */
export function featuresDockerfile(base: string, features: readonly DevcontainerFeature[]): string {
  const lines = [`FROM ${base}`, 'USER root'];
  features.forEach((f, i) => {
    lines.push(`COPY feature-${i}/ /tmp/bot-bottle-features/${i}/`);
    const env = Object.entries(f.env).map(([k, v]) => `${k}=${shellWord(v)}`).join(' ');
    lines.push(`RUN cd /tmp/bot-bottle-features/${i} && chmod +x install.sh && env ${env} ./install.sh && rm -rf /tmp/bot-bottle-features/${i}`);
    for (const [k, v] of Object.entries(f.containerEnv)) lines.push(`ENV ${k}="${v.replace(/["\\]/g, '\\$&')}"`);
  });
  return `${lines.join('\n')}\n`;
}

/** The tag of `baseId` with these features installed: a hash of both and of each feature's files. */
async function featuresTag(baseId: string, features: readonly DevcontainerFeature[]): Promise<string> {
  const parts: string[] = [baseId];
  for (const f of features) parts.push(f.id, JSON.stringify(f.env), JSON.stringify(f.containerEnv), ...(await hashDir(f.dir)));
  return `bot-bottle-user:${hash(parts)}`;
}

/** The user's image with its devcontainer features: there already (by its tag), or built now. */
async function ensureUserImage(image: ImagePlan, settings: ImageSettings, built: string[]): Promise<{ ref: string; inspected: Inspected }> {
  const base = await ensureBaseUserImage(image, settings, built);
  const features = image.features ?? [];
  if (!features.length) return base;
  const tag = await featuresTag(base.inspected.id, features);
  let found = await inspect(tag, settings.signal);
  if (!found) {
    const ctx = await mkdtemp(path.join(tmpdir(), 'bot-bottle-features-'));
    try {
      for (const [i, f] of features.entries()) await cp(f.dir, path.join(ctx, `feature-${i}`), { recursive: true });
      await writeFile(path.join(ctx, 'Dockerfile'), featuresDockerfile(base.inspected.id, features));
      settings.progress?.(`installing devcontainer features ${features.map((f) => f.id).join(', ')} on ${base.ref}`);
      await build(tag, ctx, {}, settings, 'user', {
        labels: { [LABEL_USER_IMAGE]: image.key ?? 'image' },
        steps: true,
        suggestions: [`Fix the feature's install.sh (it runs as root on ${base.ref}, with no registry), then run \`bottle image build\`.`],
      });
    } finally {
      await rm(ctx, { recursive: true, force: true });
    }
    built.push(tag);
    found = await inspect(tag, settings.signal);
    if (!found) throw new BottleError('IMAGE_BUILD_FAILED', `${describeImage(image)}: its features were built as ${tag}, but docker does not find it`);
  }
  return { ref: tag, inspected: found };
}

/** The user's image on the engine: there already, pulled, or built; and its id. */
async function ensureBaseUserImage(image: ImagePlan, settings: ImageSettings, built: string[]): Promise<{ ref: string; inspected: Inspected }> {
  const what = describeImage(image);
  const signal = settings.signal;
  if (image.build) {
    const tag = await userBuildTag(image);
    let found = await inspect(tag, signal);
    if (!found) {
      const b = image.build;
      await build(tag, b.context, b.args, settings, 'user', {
        dockerfile: b.dockerfile,
        ...(b.target ? { target: b.target } : {}),
        labels: { [LABEL_USER_IMAGE]: image.key ?? 'image' },
        steps: true,
        suggestions: [`Fix ${b.dockerfile} (run \`docker build -f ${b.dockerfile} ${b.context}\` to see the whole output), then run \`bottle image build\`.`],
      });
      built.push(tag);
      found = await inspect(tag, signal);
    }
    if (!found) throw new BottleError('IMAGE_BUILD_FAILED', `${what} was built as ${tag}, but docker does not find it`);
    return { ref: tag, inspected: found };
  }
  const ref = image.ref!;
  let found = await inspect(ref, signal);
  if (!found) {
    settings.progress?.(`pulling ${ref}`);
    const r = await docker(['pull', '-q', ref], { timeoutMs: 30 * 60_000, ...(signal ? { signal } : {}) }).catch((e: unknown) => ({ exitCode: 1, stderr: (e as Error).message, stdout: '' }));
    found = r.exitCode === 0 ? await inspect(ref, signal) : null;
    if (!found) {
      throw new BottleError('IMAGE_MISSING', `${what} is not on this docker engine and cannot be pulled`, {
        details: r.stderr.trim() ? [r.stderr.trim().split('\n')[0]!] : [],
        suggestions: [
          `Make it available to docker: docker pull ${ref}, or docker load -i <file> (an image saved with docker save).`,
          'Or build it here: "image": {"dockerfile": "Dockerfile", "context": "."}.',
        ],
        exit: EXIT_USAGE,
      });
    }
  }
  return { ref, inspected: found };
}

const ARCH: Record<string, string> = { x86_64: 'amd64', amd64: 'amd64', aarch64: 'arm64', arm64: 'arm64' };
/** The glibc loader bot-bottle's Node and the agents' native binaries name for each architecture. */
const GLIBC_LOADER: Record<string, string> = { amd64: '/lib64/ld-linux-x86-64.so.2', arm64: '/lib/ld-linux-aarch64.so.1' };

const PROBE = (loader: string) => `if [ -e ${loader} ]; then echo libc=glibc; else libc=none; for f in /lib/ld-musl-*; do [ -e "$f" ] && libc=musl; done; echo "libc=$libc"; fi`;

/**
 * Why the agent layer cannot go on this image, or null when it can: another OS or architecture
 * than the engine's (from docker's record), no /bin/sh or no glibc (from a probe container with no
 * network, removed when it exits).
 */
export async function unlayerableReason(id: string, inspected: Pick<Inspected, 'os' | 'architecture'>, signal?: AbortSignal): Promise<string | null> {
  if (inspected.os && inspected.os !== 'linux') return `it is a ${inspected.os} image; a bottle runs linux`;
  const engine = (await docker(['info', '--format', '{{.Architecture}}'], { timeoutMs: 30_000, ...(signal ? { signal } : {}) })).stdout.trim();
  const want = ARCH[engine] ?? engine;
  const have = ARCH[inspected.architecture] ?? inspected.architecture;
  if (want && have && want !== have) return `it is built for linux/${have}, and this engine runs linux/${want}`;
  const loader = GLIBC_LOADER[want] ?? GLIBC_LOADER.amd64!;
  const r = await docker(['run', '--rm', '--network', 'none', '--label', 'bot-bottle.image=1', '--label', 'bot-bottle.probe=1', '--user', '0', '--entrypoint', '/bin/sh', id, '-c', PROBE(loader)], {
    timeoutMs: 120_000,
    ...(signal ? { signal } : {}),
  });
  if (r.exitCode !== 0) {
    if (/\/bin\/sh/.test(r.stderr) && /no such file|not found/i.test(r.stderr)) return 'it has no /bin/sh (the provisioners and setup commands run sh)';
    if (/exec format error/i.test(r.stderr)) return `its /bin/sh is not a linux/${want} program`;
    return `a probe container (/bin/sh) failed to run in it: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.exitCode}`}`;
  }
  const libc = /libc=(\w+)/.exec(r.stdout)?.[1];
  if (libc === 'musl') return 'it has no glibc (it is musl-based, as Alpine is), and bot-bottle\'s Node and the agent need glibc';
  if (libc !== 'glibc') return `it has no glibc (no ${loader}), and bot-bottle's Node and the agent need glibc`;
  return null;
}

function unsupported(image: ImagePlan, why: string): BottleError {
  return new BottleError('IMAGE_UNSUPPORTED', `${describeImage(image)} cannot run a bottle: ${why}`, {
    suggestions: [
      'Use a Debian or Ubuntu based image (e.g. python:3.12-bookworm rather than python:3.12-alpine), or base your Dockerfile on one (FROM debian:bookworm-slim).',
      'Or remove "image" from the bottle to run bot-bottle\'s own agent image.',
    ],
    exit: EXIT_USAGE,
  });
}

/**
 * The image a bottle runs: bot-bottle's agent image for the default, else the user's image with the
 * agent layer on it (each built only when its inputs changed).
 */
export async function ensureBottleImage(image: ImagePlan, settings: BottleImageSettings = {}): Promise<BottleImage> {
  const standard = settings.images ?? (await ensureImages(settings));
  if (image.source === 'default') return { ref: standard.agent, execAgent: ['node', EXEC_AGENT_PATH], built: [] };
  const built: string[] = [];
  const user = await ensureUserImage(image, settings, built);
  const tag = `bot-bottle-layered:${hash([user.inspected.id, standard.agent, ...(await hashDir(LAYER_DIR))])}`;
  if (!(await imageExists(tag))) {
    const why = await unlayerableReason(user.inspected.id, user.inspected, settings.signal);
    if (why) throw unsupported(image, why);
    const bottlePath = [...user.inspected.path.split(':').filter((d) => d && d !== LAYER_BIN), LAYER_BIN].join(':');
    settings.progress?.(`adding the agent layer to ${user.ref}`);
    await build(tag, LAYER_DIR, { AGENT: standard.agent, USER_IMAGE: user.inspected.id, BOTTLE_PATH: bottlePath }, settings, 'layered', {
      labels: { [LABEL_LAYER_OF]: user.inspected.id, [LABEL_USER_IMAGE]: user.ref, [LABEL_LAYER_AGENT]: standard.agent.slice(0, standard.agent.lastIndexOf(':')) },
      explain: (output) => {
        const line = output.split('\n').find((l) => l.startsWith('bot-bottle layer: ') && !/renamed|stand-in|; agent /.test(l));
        return line ? unsupported(image, line.slice('bot-bottle layer: '.length)) : null;
      },
      suggestions: ['Run `bottle image build --verbose` to see the whole output; report it if the image is Debian or Ubuntu based.'],
    });
    built.push(tag);
  }
  return { ref: tag, execAgent: [...LAYER_NODE, EXEC_AGENT_PATH], userImage: { ref: user.ref, id: user.inspected.id }, built };
}

/** What `bottle plan` and `bottle doctor` say about a bottle's image: there, or missing with the fix. */
export interface BottleImageStatus {
  ok: boolean;
  /** How it stands, without the image's name ("not built yet"). */
  state: string;
  /** The image's name and how it stands. */
  detail: string;
  fix?: string;
}

/** The bottle's image on this engine, without building or pulling anything. */
export async function bottleImageStatus(image: ImagePlan, signal?: AbortSignal): Promise<BottleImageStatus> {
  const what = describeImage(image);
  const status = (ok: boolean, state: string, fix?: string): BottleImageStatus => ({ ok, state, detail: `${what}: ${state}`, ...(fix ? { fix } : {}) });
  if (image.source === 'default') return status(true, 'part of bot-bottle');
  const toBuild = 'bottle image build (or `bottle run` builds it first)';
  let ref = image.ref;
  if (image.build) {
    ref = await userBuildTag(image);
    if (!(await inspect(ref, signal))) return status(false, 'not built (or its inputs changed since)', toBuild);
  }
  let found = await inspect(ref!, signal);
  if (!found) return status(false, 'not on this docker engine', `docker pull ${ref} (or docker load -i <file>); \`bottle image build\` pulls it too`);
  if (image.features?.length) {
    ref = await featuresTag(found.id, image.features);
    found = await inspect(ref, signal);
    if (!found) return status(false, 'its devcontainer features are not installed yet (or they changed since)', toBuild);
  }
  const layered = await docker(['image', 'ls', '-q', '--filter', `label=${LABEL_LAYER_OF}=${found.id}`], { timeoutMs: 30_000, ...(signal ? { signal } : {}) });
  const hasLayer = layered.exitCode === 0 && layered.stdout.trim() !== '';
  const as = image.build || image.features?.length ? ` as ${ref}` : '';
  return hasLayer ? status(true, `present${as}, with the agent layer`) : status(false, `present${as}; the agent layer is not built on it yet`, toBuild);
}
