/**
 * The agent image as smolvm takes a local image: a `docker save` archive (`machine create --image
 * FILE`, which smolvm hashes and hard-links into its own cache, then flattens into the guest's
 * rootfs on first start). Saving the ~0.9 GB image takes seconds, so it is done once per image tag
 * (the tag is a hash of everything in the image) into a cache folder, and every launch of that tag
 * names the same file. When a new tag of an image is saved, the archives of its older tags go.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { dockerOk } from '@bot-bottle/backend-kit';

/** Where the archives are kept: BOT_BOTTLE_SMOLVM_IMAGE_CACHE, else `$XDG_CACHE_HOME/bot-bottle/smolvm-images`. */
export function imageArchiveDir(env: NodeJS.ProcessEnv): string {
  if (env.BOT_BOTTLE_SMOLVM_IMAGE_CACHE && path.isAbsolute(env.BOT_BOTTLE_SMOLVM_IMAGE_CACHE)) return env.BOT_BOTTLE_SMOLVM_IMAGE_CACHE;
  const cache = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(env.HOME || homedir(), '.cache');
  return path.join(cache, 'bot-bottle', 'smolvm-images');
}

/** The archive's file name for an image reference: `repo:tag` with anything but [A-Za-z0-9._-] as `_`. */
export function archiveName(image: string): string {
  return `${image.replace(/[^A-Za-z0-9._-]/g, '_')}.tar`;
}

/** The image's repository (`bot-bottle-agent` of `bot-bottle-agent:0123abcd`), whose older archives are pruned. */
function repository(image: string): string {
  const at = image.lastIndexOf(':');
  return at > image.lastIndexOf('/') ? image.slice(0, at) : image;
}

/**
 * The archive of `image` in `dir`, saved now if it is not there yet. Concurrent launches each save
 * to a temporary name and rename, so a reader never sees half an archive.
 */
export async function ensureImageArchive(image: string, dir: string, o: { signal?: AbortSignal; progress?: (m: string) => void } = {}): Promise<string> {
  const file = path.join(dir, archiveName(image));
  if ((await stat(file).catch(() => null))?.isFile()) return file;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${randomBytes(4).toString('hex')}.partial`;
  o.progress?.(`saving ${image} for smolvm (once per image)`);
  try {
    await dockerOk(['save', '-o', tmp, image], `saving the image ${image} for smolvm`, { timeoutMs: 600_000, ...(o.signal ? { signal: o.signal } : {}) });
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  const prefix = `${repository(image).replace(/[^A-Za-z0-9._-]/g, '_')}_`;
  for (const n of await readdir(dir).catch(() => [] as string[])) {
    if (n !== path.basename(file) && n.startsWith(prefix) && n.endsWith('.tar')) await rm(path.join(dir, n), { force: true });
    // A save cut short by a killed launch (an hour is longer than any save takes).
    if (n.endsWith('.partial') && Date.now() - ((await stat(path.join(dir, n)).catch(() => null))?.mtimeMs ?? Date.now()) > 3_600_000) await rm(path.join(dir, n), { force: true });
  }
  return file;
}
