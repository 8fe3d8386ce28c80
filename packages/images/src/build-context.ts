/**
 * What a `docker build` of the user's image reads, hashed: the Dockerfile, the build args and target,
 * and every file of the context that docker would send (the context's .dockerignore applied as the
 * docker CLI applies it: patterns with `*`, `?`, `**` and character classes, `!` exceptions, the last
 * matching line deciding, a pattern that matches a folder taking everything under it). An unchanged
 * hash means an unchanged image, so the build is skipped.
 */
import { createHash } from 'node:crypto';
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import type { ImageBuildPlan } from '@bot-bottle/core';

interface IgnoreRule {
  negate: boolean;
  re: RegExp;
}

/** A .dockerignore's lines as rules (comments and blanks dropped, paths cleaned as docker cleans them). */
export function parseDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    if (negate) line = line.slice(1).trim();
    line = path.posix.normalize(line).replace(/^\/+/, '').replace(/\/+$/, '');
    if (!line || line === '.') continue;
    rules.push({ negate, re: globToRegExp(line) });
  }
  return rules;
}

/** Go's filepath.Match with docker's `**` (any number of folders). */
function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      // "**/" matches zero or more folders; a trailing "**" matches everything below.
      if (glob[i + 2] === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${glob.slice(i + 1, end)}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < glob.length) re += `\\${glob[++i]}`;
    else re += c.replace(/[.+^${}()|]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** True when docker leaves `rel` (a file's path in the context, "/"-separated) out of the build. */
export function ignored(rel: string, rules: readonly IgnoreRule[]): boolean {
  let out = false;
  const parts = rel.split('/');
  for (const rule of rules) {
    // A rule matches the path or any folder above it (excluding a folder excludes what is in it).
    let hit = false;
    for (let n = parts.length; n >= 1 && !hit; n--) hit = rule.re.test(parts.slice(0, n).join('/'));
    if (hit) out = !rule.negate;
  }
  return out;
}

function sha(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * The context's files as docker sends them, each as "path mode sha" (links by their target), sorted;
 * plus the Dockerfile's content, the args and the target. A file that cannot be read fails the hash
 * as it would fail the build.
 */
export async function buildInputsHash(build: ImageBuildPlan): Promise<string> {
  const h = createHash('sha256');
  h.update(`dockerfile ${sha(await readFile(build.dockerfile))}\n`);
  for (const [k, v] of Object.entries(build.args).sort(([a], [b]) => (a < b ? -1 : 1))) h.update(`arg ${k}=${v}\n`);
  if (build.target) h.update(`target ${build.target}\n`);
  const ignore = parseDockerignore(await readFile(path.join(build.context, '.dockerignore'), 'utf8').catch(() => ''));
  const walk = async (dir: string, rel: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const abs = path.join(dir, e.name);
      if (ignored(r, ignore) && !(e.isDirectory() && ignore.some((x) => x.negate))) continue;
      if (e.isDirectory()) {
        await walk(abs, r);
        continue;
      }
      if (ignored(r, ignore)) continue;
      const st = await lstat(abs);
      if (e.isSymbolicLink()) h.update(`link ${r} ${await readlink(abs)}\n`);
      else if (e.isFile()) h.update(`file ${r} ${(st.mode & 0o777).toString(8)} ${sha(await readFile(abs))}\n`);
    }
  };
  await walk(build.context, '');
  return h.digest('hex').slice(0, 12);
}
