/**
 * Which manifest a command uses: --manifest PATH, then BOT_BOTTLE_MANIFEST, then bottle.json in the
 * cwd or its nearest parent, then ~/.config/bot-bottle/bottle.json. A miss names every file tried.
 */
import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { BottleError, EXIT_USAGE } from './errors.js';
import { expandHome } from './manifest/index.js';

export const MANIFEST_FILE_NAME = 'bottle.json';
export const MANIFEST_ENV = 'BOT_BOTTLE_MANIFEST';

export interface ManifestDiscoveryInput {
  flag?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  home?: string;
}

export interface DiscoveredManifest {
  path: string;
  /** Where it was found: 'flag', 'env', 'cwd' (or a parent), or 'user'. */
  via: 'flag' | 'env' | 'cwd' | 'user';
}

async function exists(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null)) !== null;
}

export function userManifestPath(env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  const configHome = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(home, '.config');
  return path.join(configHome, 'bot-bottle', MANIFEST_FILE_NAME);
}

export async function discoverManifest(input: ManifestDiscoveryInput = {}): Promise<DiscoveredManifest> {
  const env = input.env ?? process.env;
  const cwd = path.resolve(input.cwd ?? process.cwd());
  const home = input.home ?? homedir();
  // An explicit choice is used as given, even when missing: loading it reports the real problem.
  // "~/..." reaches here unexpanded from `--manifest=~/x` and from env files.
  if (input.flag) return { path: path.resolve(cwd, expandHome(input.flag, home)), via: 'flag' };
  const fromEnv = env[MANIFEST_ENV];
  if (fromEnv) return { path: path.resolve(cwd, expandHome(fromEnv, home)), via: 'env' };
  const tried: string[] = [];
  for (let dir = cwd; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, MANIFEST_FILE_NAME);
    tried.push(candidate);
    if (await exists(candidate)) return { path: candidate, via: 'cwd' };
    if (path.dirname(dir) === dir) break;
  }
  const user = userManifestPath(env, home);
  tried.push(user);
  if (await exists(user)) return { path: user, via: 'user' };
  throw new BottleError('MANIFEST_NOT_FOUND', 'no manifest found', {
    details: [`--manifest: not given`, `${MANIFEST_ENV}: not set`, ...tried.map((t) => `tried ${t}`)],
    suggestions: ['Run `bottle init` to write a starter bottle.json here, or pass --manifest PATH.'],
    exit: EXIT_USAGE,
  });
}
