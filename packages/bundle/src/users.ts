/**
 * The service users of the bundle image, and the questions the supervisor asks about them: what
 * environment a service gets, and whether a file is open to a user.
 */
import { readFileSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { BottleError } from '@bot-bottle/core';

export interface ServiceUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** The entry for `name` in passwd text, or null. */
export function parsePasswd(text: string, name: string): ServiceUser | null {
  for (const line of text.split('\n')) {
    const [user, , uid, gid, , home] = line.split(':');
    if (user !== name || uid === undefined || gid === undefined) continue;
    const u = Number(uid);
    const g = Number(gid);
    if (!Number.isInteger(u) || !Number.isInteger(g)) return null;
    return { name, uid: u, gid: g, home: home || '/' };
  }
  return null;
}

/** Looks a service user up; a root or missing one is an image problem, named with its fix. */
export function serviceUser(name: string, passwdFile = '/etc/passwd'): ServiceUser {
  const user = parsePasswd(readFileSync(passwdFile, 'utf8'), name);
  if (!user || user.uid === 0 || user.gid === 0) {
    throw new BottleError('BACKEND_FAILED', `the bundle image has no unprivileged user "${name}" to run its services as`, {
      suggestions: ['Rebuild the images from this checkout: bottle image build.'],
    });
  }
  return user;
}

/** What a service may inherit from the supervisor's environment (never a routed secret). */
const PASS_ENV = ['PATH', 'LANG', 'LC_ALL', 'TZ', 'NODE_EXTRA_CA_CERTS'] as const;
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The whole environment of a service process: a few harmless variables and who it is. The
 * supervisor's own environment holds every egress secret (docker passes them there); a name on
 * `secretNames` is left out even when it is one of the harmless ones.
 */
export function serviceEnv(env: NodeJS.ProcessEnv, user: ServiceUser, secretNames: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of PASS_ENV) {
    const value = env[k];
    if (value !== undefined && !secretNames.includes(k)) out[k] = value;
  }
  return { PATH: DEFAULT_PATH, ...out, HOME: user.home, USER: user.name, LOGNAME: user.name };
}

function allows(st: Stats, user: Pick<ServiceUser, 'uid' | 'gid'>, bit: 4 | 1): boolean {
  if (st.uid === user.uid) return (st.mode & (bit << 6)) !== 0;
  if (st.gid === user.gid) return (st.mode & (bit << 3)) !== 0;
  return (st.mode & bit) !== 0;
}

/**
 * True when `user` (with no supplementary groups, as the services run) could open `file` for
 * reading: every folder on the way searchable, the file readable. Used to refuse to start when
 * the egress CA key is open to the git user.
 */
export function readableBy(file: string, user: Pick<ServiceUser, 'uid' | 'gid'>, stat: (p: string) => Stats = statSync): boolean {
  const abs = path.resolve(file);
  let dir = path.dirname(abs);
  const dirs: string[] = [];
  for (;;) {
    dirs.unshift(dir);
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  for (const d of dirs) if (!allows(stat(d), user, 1)) return false;
  return allows(stat(abs), user, 4);
}
