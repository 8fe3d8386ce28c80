/** Paths written in a manifest: `~/` is the user's home, a relative path is read from the manifest's folder. */
import { homedir } from 'node:os';
import path from 'node:path';

export function expandHome(p: string, home = homedir()): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return path.join(home, p.slice(2));
  return p;
}

export function resolveManifestPath(p: string, baseDir: string, home = homedir()): string {
  return path.resolve(baseDir, expandHome(p, home));
}
