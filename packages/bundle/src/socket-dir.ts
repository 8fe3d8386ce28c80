/**
 * File operations in folders someone else may write to: the socket folder is shared with the
 * bottle, whose root could put a symlink at any name there (a symlink to one of the bundle's
 * files, say). Nothing here follows a path in such a folder: the folder itself is changed through
 * a descriptor opened with O_NOFOLLOW, names are only ever unlinked (which never follows), and a
 * file is only ever created new (O_CREAT|O_EXCL|O_NOFOLLOW), never opened where it stands.
 * The bottle mounts the folder read-only as well; this is the second wall.
 */
import { closeSync, constants, fchmodSync, fchownSync, openSync, rmdirSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { BUNDLE_READY_MARKER, BUNDLE_SERVICES, ServiceError } from '@bot-bottle/core/service';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY } = constants;

/** Every name the bundle makes in the socket folder; the only names it touches there. */
export const SOCKET_DIR_NAMES: readonly string[] = [...Object.values(BUNDLE_SERVICES).map((s) => s.socket), BUNDLE_READY_MARKER];

/** Removes whatever is at `file` (a symlink is removed, not followed); an empty folder too. */
export function removeName(file: string): void {
  try {
    unlinkSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code !== 'EISDIR' && code !== 'EPERM') throw e;
    try {
      rmdirSync(file); // never recursive: descending into a folder there could follow a symlink
    } catch (e2) {
      const code2 = (e2 as NodeJS.ErrnoException).code;
      if (code2 !== 'ENOTEMPTY' && code2 !== 'EEXIST') throw code2 === 'ENOTDIR' ? e : e2;
      throw new ServiceError(`the bundle cannot clear ${file}: a folder that is not empty stands there`, {
        suggestions: ['Remove the bottle (bottle stop) and launch it again: its socket volume is made new.'],
      });
    }
  }
}

/**
 * Makes the socket folder ready for the services: the names the bundle uses cleared, then owned by
 * the egress user with the git user's group writable (`mode` 1775; 1777 when the supervise user
 * adds its socket too), sticky (no service user can remove another's socket), and readable by the
 * bottle. `dir` is the volume's mount point, which nobody can
 * swap; it is still opened with O_NOFOLLOW and changed through that descriptor.
 */
export function prepareSocketDir(dir: string, owner: { uid: number; gid: number }, mode = 0o1775): void {
  const fd = openSync(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  try {
    // Root owns the folder while old names go, so that a sticky bit left from before never
    // stands in the way (no CAP_FOWNER is kept for that).
    fchownSync(fd, 0, 0);
    fchmodSync(fd, 0o755);
    for (const name of SOCKET_DIR_NAMES) removeName(path.join(dir, name));
    fchmodSync(fd, mode);
    fchownSync(fd, owner.uid, owner.gid);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `text` to a new file `dir/name` (mode 644): whatever stood there is unlinked first, and
 * the file is created with O_EXCL|O_NOFOLLOW, so a symlink or file put there in between makes the
 * write fail instead of landing in someone else's file. Retried a few times, then an error.
 */
export function writeNewFile(dir: string, name: string, text: string): void {
  const file = path.join(dir, name);
  for (let attempt = 0; ; attempt++) {
    removeName(file);
    let fd: number;
    try {
      fd = openSync(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 5) continue;
      throw new ServiceError(`the bundle cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
        suggestions: ['Something else keeps making that name; remove the bottle (bottle stop) and launch it again.'],
      });
    }
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    return;
  }
}
