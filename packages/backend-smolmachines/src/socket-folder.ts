/**
 * The host folder a smolvm bottle's bundle puts its sockets in, and that smolvm mounts into the
 * guest socket by socket (`--mount-socket`). For the docker backend this is a volume; smolvm needs
 * host paths, and two things decide where they can be (both read from smolvm's source, not run
 * here, where no guest boots):
 *
 * - Who connects to them: libkrun, inside the VM's own process, dials the host socket for each guest
 *   connection. Run as root, smolvm drops that process to a uid of its own (2,000,000 and up) that
 *   keeps only the `kvm` group, so every folder on the way must let that uid through; root's home
 *   and the bottle's state dir (both 700) do not. As another user the VM process is that user.
 * - How long the path may be: a unix socket path has at most 107 bytes, and a state dir under a
 *   home folder with a long agent name goes past that.
 *
 * So: as root, `/run/bot-bottle-smolvm/<state root's hash>/<random name>` (the top folder root:kvm
 * 710, so only the VM processes and root pass; the random name, never listed to them, so one VM's
 * process cannot find another bottle's sockets); as another user, the same under $XDG_RUNTIME_DIR
 * (the user's own, 700); without one, `<stateDir>/sockets`. Each folder holds a `slug` file naming
 * its bottle, which `bottle gc` reads (the bundle only ever touches its own names there). The
 * bundle makes the folder its own (owner, mode) through its mount, so removing it may need root:
 * see `removeSocketFolder`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BUNDLE_SERVICES, BottleError, EXIT_USAGE } from '@bot-bottle/core';
import { SOCKET_DIR, docker } from '@bot-bottle/backend-kit';
import type { MountedSocket } from './smolvm-cli.js';

/** The root of every socket folder when bottles are run as root. */
export const SOCKET_RUN_ROOT = '/run/bot-bottle-smolvm';
/** The longest path a unix socket may have (sun_path is 108 bytes with its NUL). */
export const SOCKET_PATH_MAX = 107;
const SLUG_FILE = 'slug';

export interface SocketFolderPlace {
  /** Where this state root's socket folders are made (one per bottle under it), or null for `<stateDir>/sockets`. */
  parent: string | null;
  /** Whether the top folder is shared with the VM processes' kvm group (as root). */
  forRoot: boolean;
}

/** Where socket folders go for bottles of `stateRoot`, for a process with `euid` and `env`. */
export function socketFolderPlace(stateRoot: string, env: NodeJS.ProcessEnv, euid: number): SocketFolderPlace {
  const tag = createHash('sha256').update(stateRoot).digest('hex').slice(0, 12);
  if (euid === 0) return { parent: path.join(SOCKET_RUN_ROOT, tag), forRoot: true };
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime && path.isAbsolute(runtime)) return { parent: path.join(runtime, 'bot-bottle-smolvm', tag), forRoot: false };
  return { parent: null, forRoot: false };
}

/** The host socket of each bundle service in `folder`, at the guest path the forwarder reaches. */
export function mountedSockets(folder: string): MountedSocket[] {
  return Object.values(BUNDLE_SERVICES).map((s) => ({ hostPath: path.join(folder, s.socket), guestPath: path.posix.join(SOCKET_DIR, s.socket) }));
}

/** A new folder's path for `slug` (not made yet); refused when a socket path in it would be too long. */
export function newSocketFolder(place: SocketFolderPlace, stateDir: string): string {
  const folder = place.parent ? path.join(place.parent, randomBytes(10).toString('hex')) : path.join(stateDir, 'sockets');
  const longest = mountedSockets(folder).reduce((a, s) => (Buffer.byteLength(s.hostPath) > Buffer.byteLength(a) ? s.hostPath : a), '');
  if (Buffer.byteLength(longest) > SOCKET_PATH_MAX) {
    throw new BottleError('HOST_IO_FAILED', `the bundle's sockets would be at ${longest}, longer than the ${SOCKET_PATH_MAX} bytes a unix socket path may have`, {
      suggestions: ['Set XDG_RUNTIME_DIR (e.g. /run/user/$(id -u)), or XDG_STATE_HOME to a shorter folder, or use a shorter agent name.'],
      exit: EXIT_USAGE,
    });
  }
  return folder;
}

async function kvmGid(): Promise<number | null> {
  const text = await readFile('/etc/group', 'utf8').catch(() => '');
  const line = text.split('\n').find((l) => l.startsWith('kvm:'));
  const gid = Number(line?.split(':')[2]);
  return Number.isInteger(gid) ? gid : null;
}

/** Makes the folder (and, as root, its parents with the access the VM processes need), and its slug file. */
export async function makeSocketFolder(place: SocketFolderPlace, folder: string, slug: string): Promise<void> {
  if (place.parent) {
    if (place.forRoot) {
      await mkdir(SOCKET_RUN_ROOT, { recursive: true });
      const gid = await kvmGid();
      // Traversable by root and the kvm group only (the VM processes keep it), never listable by them.
      for (const d of [SOCKET_RUN_ROOT, place.parent]) {
        await mkdir(d, { recursive: true });
        if (gid !== null) await chown(d, 0, gid);
        await chmod(d, gid !== null ? 0o710 : 0o711);
      }
    } else {
      await mkdir(place.parent, { recursive: true, mode: 0o700 });
    }
  }
  await mkdir(folder, { recursive: true, mode: 0o700 });
  // The bundle sets the folder's owner and mode itself (through its mount) before it listens.
  await writeFile(path.join(folder, SLUG_FILE), `${slug}\n`, { mode: 0o600 });
}

/** The socket folders under `place` and the bottle each belongs to. */
export async function listSocketFolders(place: SocketFolderPlace): Promise<{ folder: string; slug: string }[]> {
  if (!place.parent) return [];
  const names = await readdir(place.parent).catch(() => [] as string[]);
  const out: { folder: string; slug: string }[] = [];
  for (const n of names) {
    const folder = path.join(place.parent, n);
    const slug = (await readFile(path.join(folder, SLUG_FILE), 'utf8').catch(() => '')).trim();
    out.push({ folder, slug: slug || `?${n}` });
  }
  return out;
}

/**
 * Removes a socket folder. The bundle made it its own (its egress user, sticky), so a user who is
 * not root may be refused; then the sockets go through docker, as root in a throwaway container of
 * `image`, and the empty folder after them.
 */
export async function removeSocketFolder(folder: string, image?: string): Promise<void> {
  try {
    await rm(folder, { recursive: true, force: true });
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if ((code !== 'EACCES' && code !== 'EPERM') || !image) throw e;
  }
  await docker(['run', '--rm', '--network', 'none', '-u', '0', '--entrypoint', 'sh', '-v', `${folder}:/s`, image, '-c', 'rm -rf /s/* /s/.[!.]* 2>/dev/null; true'], { timeoutMs: 60_000 });
  await rm(folder, { recursive: true, force: true });
}
