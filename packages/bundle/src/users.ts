/**
 * The service users of the bundle image, and the environment a service gets.
 */
import { readFileSync } from 'node:fs';
import { ServiceError } from '@bot-bottle/core/service';

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
    throw new ServiceError(`the bundle image has no unprivileged user "${name}" to run its services as`, {
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
