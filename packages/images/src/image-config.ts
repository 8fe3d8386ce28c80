/**
 * Which base image and which extra build CAs the images are built from: the tool's decision, made
 * once and remembered in the user's config, so that a later `bottle run` in any shell finds the
 * images an earlier `bottle image build` made (nothing rebuilt, nothing pulled).
 *
 * Each setting comes from, first to last: a flag, the environment (BOT_BOTTLE_BASE_IMAGE,
 * BOT_BOTTLE_BUILD_CA_CERTS), the user's config ($XDG_CONFIG_HOME/bot-bottle/config.json, oclif's
 * config dir), and detection: node:24-bookworm-slim when the engine has it or can pull it, else a
 * base built from Debian with debootstrap (machines without a reachable registry); the host's extra
 * CAs (/usr/local/share/ca-certificates/*.crt), which is how a host behind an intercepting proxy
 * trusts it.
 */
import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { BottleError, EXIT_INTERRUPTED, EXIT_USAGE, isBottleError } from '@bot-bottle/core';
import { docker } from '@bot-bottle/backend-kit';

export const DEFAULT_BASE_IMAGE = 'node:24-bookworm-slim';
/** Where Debian-family hosts keep the CAs they added (update-ca-certificates reads it). */
export const HOST_CA_DIR = '/usr/local/share/ca-certificates';
/** How long detection waits for a pull of the default base before building one from Debian. */
export const PULL_TIMEOUT_MS = 60_000;
const DEBIAN_SCRIPT = fileURLToPath(new URL('../images/base/debian-base-image.sh', import.meta.url));

export type ChoiceSource = 'flag' | 'env' | 'config' | 'detected';

export interface ImageChoice {
  base: string;
  caCerts: string[];
  from: { base: ChoiceSource; caCerts: ChoiceSource };
}

/** What the user's config.json holds for images (other keys of the file are kept as they are). */
export interface ImageConfig {
  base?: string;
  caCerts?: string[];
}

/** oclif's config dir for `bottle` (BOTTLE_CONFIG_DIR, else $XDG_CONFIG_HOME/bot-bottle, else ~/.config/bot-bottle). */
export function userConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BOTTLE_CONFIG_DIR) return env.BOTTLE_CONFIG_DIR;
  return path.join(env.XDG_CONFIG_HOME || path.join(env.HOME || homedir(), '.config'), 'bot-bottle');
}

export function userConfigFile(configDir: string): string {
  return path.join(configDir, 'config.json');
}

function configInvalid(file: string, why: string): BottleError {
  return new BottleError('USAGE', `${file} is not a valid bot-bottle config: ${why}`, {
    suggestions: [`Fix ${file}, or delete it and run \`bottle image build\` to choose the base image again.`],
    exit: EXIT_USAGE,
  });
}

/** The whole config file; {} when there is none. */
export async function readUserConfig(configDir: string): Promise<Record<string, unknown>> {
  const file = userConfigFile(configDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw configInvalid(file, (e as Error).message);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw configInvalid(file, 'it is not a JSON object');
  return value as Record<string, unknown>;
}

export async function readImageConfig(configDir: string): Promise<ImageConfig> {
  const file = userConfigFile(configDir);
  const images = (await readUserConfig(configDir)).images;
  if (images === undefined) return {};
  if (typeof images !== 'object' || images === null || Array.isArray(images)) throw configInvalid(file, '"images" is not an object');
  const { base, caCerts, ...rest } = images as Record<string, unknown>;
  if (Object.keys(rest).length) throw configInvalid(file, `"images" has unknown keys: ${Object.keys(rest).join(', ')}`);
  if (base !== undefined && (typeof base !== 'string' || !base)) throw configInvalid(file, '"images.base" is not an image reference');
  if (caCerts !== undefined && (!Array.isArray(caCerts) || caCerts.some((c) => typeof c !== 'string' || !path.isAbsolute(c)))) {
    throw configInvalid(file, '"images.caCerts" is not a list of absolute file paths');
  }
  return { ...(base !== undefined ? { base: base as string } : {}), ...(caCerts !== undefined ? { caCerts: caCerts as string[] } : {}) };
}

/**
 * Records the choice: the file is replaced whole (a write to a temp file, then a rename), readable
 * by the user only, and every other key in it is kept.
 */
export async function writeImageConfig(configDir: string, images: Required<ImageConfig>): Promise<string> {
  const file = userConfigFile(configDir);
  const current = await readUserConfig(configDir);
  await mkdir(configDir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify({ ...current, images: { base: images.base, caCerts: images.caCerts } }, null, 2)}\n`, { mode: 0o600 });
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
  return file;
}

/** The host's extra CAs, sorted by name (as the shell's glob lists them). */
export async function hostCaCerts(dir = HOST_CA_DIR): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => n.endsWith('.crt')).sort().map((n) => path.join(dir, n));
}

async function imagePresent(ref: string, signal?: AbortSignal): Promise<boolean> {
  return (await docker(['image', 'inspect', '--format', '{{.Id}}', ref], { timeoutMs: 30_000, ...(signal ? { signal } : {}) })).exitCode === 0;
}

async function onPath(cmd: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  for (const dir of [...(env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/sbin']) {
    if (!dir) continue;
    try {
      await access(path.join(dir, cmd), fsConstants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

export interface DetectOptions {
  env?: NodeJS.ProcessEnv;
  progress?: (message: string) => void;
  signal?: AbortSignal;
  /** Stream the Debian build's own output to stderr. */
  verbose?: boolean;
}

/**
 * Builds (or finds, the tag being a hash of its recipe) the base made from Debian with debootstrap.
 * Building needs root and debootstrap (bottle installs nothing on the host), npm, and a reachable
 * Debian mirror and npm registry.
 */
export async function debianBase(o: DetectOptions = {}): Promise<string> {
  const env = o.env ?? process.env;
  const cannot = (needs: string) =>
    new BottleError('IMAGE_BUILD_FAILED', `no base image: ${DEFAULT_BASE_IMAGE} is not available, and building one from Debian needs ${needs}`, {
      suggestions: [
        `Make ${DEFAULT_BASE_IMAGE} available to docker (docker pull ${DEFAULT_BASE_IMAGE}, or docker load it), then run \`bottle image build --base auto\`.`,
        'Or build the base from Debian: install debootstrap (sudo apt-get install debootstrap), then run `sudo bottle image build --base auto`.',
        'Or name a base of your own that has node 24 and npm: bottle image build --base <image>.',
      ],
    });
  if (!(await onPath('npm', env)) && !(await onPath('npm', { PATH: path.dirname(process.execPath) }))) throw cannot('npm (it fetches Node for the base)');
  o.progress?.('making a base from Debian (the recipe in images/base; building it takes minutes)');
  // The script runs node and npm: the ones this CLI runs on come first.
  const PATH = [path.dirname(process.execPath), env.PATH ?? '', '/usr/sbin', '/sbin'].filter(Boolean).join(path.delimiter);
  const child = execa('bash', [DEBIAN_SCRIPT], {
    env: { ...env, PATH },
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    timeout: 30 * 60_000,
    ...(o.signal ? { cancelSignal: o.signal } : {}),
  });
  let partial = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    const lines = (partial + String(chunk)).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      if (o.verbose) process.stderr.write(`${line}\n`);
      else o.progress?.(line.replace(/^debian-base-image: /, ''));
    }
  });
  const r = await child;
  if (r.isCanceled) throw new BottleError('INTERRUPTED', 'building the Debian base was interrupted', { exit: EXIT_INTERRUPTED });
  const ref = String(r.stdout ?? '').trim().split('\n').at(-1) ?? '';
  if (r.exitCode === 3) throw cannot(/root/.test(String(r.stderr)) ? 'root (debootstrap and chroot need it)' : 'debootstrap');
  if (r.exitCode !== 0 || !ref) {
    throw new BottleError('IMAGE_BUILD_FAILED', `building the base image from Debian failed (exit ${r.exitCode})`, {
      details: String(r.stderr ?? '').trim().split('\n').slice(-12),
      suggestions: [
        'It needs the Debian mirror (DEBIAN_MIRROR, default http://deb.debian.org/debian) and the npm registry; behind a proxy, set HTTP_PROXY/HTTPS_PROXY.',
        'Or name a base of your own that has node 24 and npm: bottle image build --base <image>.',
      ],
    });
  }
  return ref;
}

/**
 * A base the Debian recipe, as it is now, made earlier on this engine (the newest Node if several):
 * its tag is the script's own hash over the recipe and the Node version, recomputed here, so that
 * finding it needs neither the npm registry nor a pull.
 */
export async function localDebianBase(o: DetectOptions = {}): Promise<string | null> {
  const env = o.env ?? process.env;
  const major = env.BOTTLE_BASE_NODE_VERSION || '24';
  if (!/^\d+$/.test(major)) return null;
  const recipe = await readFile(DEBIAN_SCRIPT);
  const tail = `${env.DEBIAN_MIRROR || 'http://deb.debian.org/debian'} ${env.BOTTLE_BASE_NPM_VERSION || '11'}\n`;
  const r = await docker(['image', 'ls', '--format', '{{.Tag}}', 'bot-bottle-base'], { timeoutMs: 30_000, ...(o.signal ? { signal: o.signal } : {}) });
  const found: { version: number[]; tag: string }[] = [];
  for (const line of r.exitCode === 0 ? r.stdout.split('\n') : []) {
    const tag = line.trim();
    const m = /^bookworm-node((\d+)\.(\d+)\.(\d+))-([0-9a-f]{12})$/.exec(tag);
    if (!m || m[2] !== major) continue;
    if (createHash('sha256').update(recipe).update(`${m[1]} ${tail}`).digest('hex').slice(0, 12) === m[5]) found.push({ version: [Number(m[2]), Number(m[3]), Number(m[4])], tag });
  }
  found.sort((a, b) => a.version[0]! - b.version[0]! || a.version[1]! - b.version[1]! || a.version[2]! - b.version[2]!);
  const newest = found.at(-1);
  return newest ? `bot-bottle-base:${newest.tag}` : null;
}

/**
 * node:24-bookworm-slim when the engine has it; else a Debian-made base already on this engine
 * (the machine could not pull before); else node:24-bookworm-slim if it can be pulled in time;
 * else a base made from Debian now. Only the last two reach off this machine.
 */
export async function detectBase(o: DetectOptions = {}): Promise<string> {
  if (await imagePresent(DEFAULT_BASE_IMAGE, o.signal)) return DEFAULT_BASE_IMAGE;
  const local = await localDebianBase(o);
  if (local) return local;
  o.progress?.(`pulling ${DEFAULT_BASE_IMAGE} (up to ${PULL_TIMEOUT_MS / 1000} s)`);
  const pulled = await docker(['pull', '-q', DEFAULT_BASE_IMAGE], { timeoutMs: PULL_TIMEOUT_MS, ...(o.signal ? { signal: o.signal } : {}) }).catch((e: unknown) => {
    // A registry that does not answer in time is one that cannot be used; an interrupt or a dead engine is not.
    if (isBottleError(e) && e.code === 'BACKEND_FAILED') return { exitCode: 1 };
    throw e;
  });
  if (pulled.exitCode === 0 && (await imagePresent(DEFAULT_BASE_IMAGE, o.signal))) return DEFAULT_BASE_IMAGE;
  o.progress?.(`${DEFAULT_BASE_IMAGE} cannot be pulled`);
  return debianBase(o);
}

/** A base made by the Debian recipe: when it has gone (pruned), the recipe makes it again. */
export function isDebianBase(ref: string): boolean {
  return ref.startsWith('bot-bottle-base:');
}

export interface ChoiceInput extends DetectOptions {
  /** From a flag: an image, or "auto" to forget the recorded choice and detect again. */
  base?: string;
  /** From a flag. */
  caCerts?: readonly string[];
  configDir?: string;
}

/** The settings without detection: what the flags, the environment and the config say (undefined: not said). */
export async function statedImageChoice(input: ChoiceInput): Promise<{ base?: [string, ChoiceSource]; caCerts?: [string[], ChoiceSource] }> {
  const env = input.env ?? process.env;
  const redetect = input.base === 'auto';
  const config = redetect ? {} : await readImageConfig(input.configDir ?? userConfigDir(env));
  const out: { base?: [string, ChoiceSource]; caCerts?: [string[], ChoiceSource] } = {};
  if (input.base && !redetect) out.base = [input.base, 'flag'];
  else if (!redetect && env.BOT_BOTTLE_BASE_IMAGE) out.base = [env.BOT_BOTTLE_BASE_IMAGE, 'env'];
  else if (config.base) out.base = [config.base, 'config'];
  if (input.caCerts?.length) out.caCerts = [[...input.caCerts], 'flag'];
  // Set but empty means "no extra CAs", as it did for the scripts.
  else if (env.BOT_BOTTLE_BUILD_CA_CERTS !== undefined) out.caCerts = [env.BOT_BOTTLE_BUILD_CA_CERTS.split(':').filter(Boolean), 'env'];
  else if (config.caCerts) out.caCerts = [config.caCerts, 'config'];
  return out;
}

/** A recorded Debian base that has been removed since (pruned) is made again by the same recipe. */
export async function ensureBasePresent(base: string, o: DetectOptions): Promise<string> {
  if (!isDebianBase(base) || (await imagePresent(base, o.signal))) return base;
  o.progress?.(`${base} is gone; building it again`);
  return debianBase(o);
}
