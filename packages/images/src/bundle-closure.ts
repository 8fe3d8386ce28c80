/**
 * The bundle image's code, taken from what is installed next to this package: `@bot-bottle/bundle`
 * and every package it needs, each found the way Node finds it from here (pnpm's symlinked store in
 * a checkout, npm's flat tree in a global install), copied into a plain node_modules tree in which
 * every import resolves to the same package it does on this host. No lockfile, no checkout, no
 * package manager at build or run time.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { BottleError } from '@bot-bottle/core';

export interface ClosurePackage {
  name: string;
  version: string;
  /** Its real directory on this host (symlinks resolved, as Node resolves modules). */
  dir: string;
  /** Each dependency by name: the real directory Node resolves it to from `dir`. */
  deps: Map<string, string>;
  /** The files that make the package, relative to `dir`, sorted (no node_modules). */
  files: string[];
}

/** Every package of the closure, keyed by its real directory; the root is `root`. */
export interface Closure {
  root: string;
  packages: Map<string, ClosurePackage>;
}

/** One copy of a package in the image's tree: `at` is its folder relative to the app root. */
export interface Placement {
  at: string;
  dir: string;
}

function closureError(message: string, details: readonly string[] = [], suggestions?: readonly string[]): BottleError {
  return new BottleError('IMAGE_BUILD_FAILED', message, {
    details,
    suggestions: suggestions ?? ['Reinstall bot-bottle (npm install -g @bot-bottle/cli), or in a checkout run scripts/setup.sh; then run `bottle image build` again.'],
  });
}

interface PackageJson {
  name?: string;
  version?: string;
  files?: string[];
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

async function readPackageJson(dir: string): Promise<PackageJson> {
  try {
    return JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as PackageJson;
  } catch (e) {
    throw closureError(`cannot read ${path.join(dir, 'package.json')}`, [String((e as Error).message)]);
  }
}

/**
 * Node's lookup of a bare package name from a folder: `<d>/node_modules/<name>` for the folder and
 * each parent (skipping folders that are themselves `node_modules`). Returns the folder found, not
 * resolved, or null.
 */
export function lookupPackage(name: string, fromDir: string, stopAt?: string): string | null {
  let dir = fromDir;
  for (;;) {
    if (path.basename(dir) !== 'node_modules') {
      const candidate = path.join(dir, 'node_modules', name);
      if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    }
    if (stopAt !== undefined && dir === stopAt) return null;
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** Whether a real directory is an installed copy (inside some node_modules) or a linked source folder. */
function isInstalled(dir: string): boolean {
  return dir.split(path.sep).includes('node_modules');
}

/**
 * Whether a package is named by its name, version and folder alone rather than by its files: an
 * installed copy of a package from elsewhere, whose content is fixed by its version. bot-bottle's
 * own packages are always read: their content can change under one version (a rebuild, a repack).
 */
function namedByVersion(name: string, dir: string): boolean {
  return isInstalled(dir) && !name.startsWith('@bot-bottle/');
}

async function walk(dir: string, rel: string, out: string[], skipTop: boolean): Promise<void> {
  for (const entry of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? path.join(rel, entry.name) : entry.name;
    if (skipTop && !rel && entry.name === 'node_modules') continue;
    let kind: 'file' | 'dir' | 'other' = entry.isFile() ? 'file' : entry.isDirectory() ? 'dir' : 'other';
    if (entry.isSymbolicLink()) {
      // A link inside a package is copied as what it points at (a file); a linked folder could loop.
      const s = await stat(path.join(dir, r)).catch(() => null);
      kind = s?.isFile() ? 'file' : 'other';
      if (s?.isDirectory()) throw closureError(`${path.join(dir, r)} is a link to a folder; the bundle image cannot be made from it`);
    }
    if (kind === 'file') out.push(r);
    else if (kind === 'dir') await walk(dir, r, out, false);
  }
}

/**
 * The files a package is made of. An installed copy is what its tarball held: everything but its
 * own node_modules. A linked source folder (a workspace checkout) is cut to what packing it would
 * ship (package.json and its `files`), so a checkout makes the same image as an install.
 */
async function packageFiles(dir: string, pj: PackageJson): Promise<string[]> {
  const out: string[] = [];
  const literal = pj.files?.every((f) => !/[*?[\]{}!]/.test(f));
  if (isInstalled(dir) || !pj.files || !literal) {
    await walk(dir, '', out, true);
  } else {
    out.push('package.json');
    for (const f of pj.files) {
      const p = path.join(dir, f);
      const s = await stat(p).catch(() => null);
      if (!s) throw closureError(`${pj.name} at ${dir} has no ${f}: it is not built`, [], ['Run scripts/setup.sh (or pnpm build) first.']);
      if (s.isDirectory()) await walk(dir, path.normalize(f), out, false);
      else out.push(path.normalize(f));
    }
  }
  return [...new Set(out)].sort();
}

/** Refuses native code: the image copies files, it does not compile or run install scripts. */
function checkPureJs(pkg: ClosurePackage): void {
  const native = pkg.files.filter((f) => path.basename(f) === 'binding.gyp' || f.endsWith('.node'));
  if (native.length) {
    throw closureError(`${pkg.name}@${pkg.version} (needed by the bundle) contains native code; the bundle image takes pure JavaScript packages only`, native.map((f) => path.join(pkg.dir, f)), [
      `Replace ${pkg.name} with a pure JavaScript package (or an older version without native parts), then run \`bottle image build\` again.`,
    ]);
  }
}

/**
 * Collects `rootName` and everything it depends on (dependencies, optional and peer dependencies
 * that are installed), each resolved as Node resolves it: from the requiring package's real folder.
 */
export async function collectClosure(rootName: string, fromDir: string, opts: { forTagOnly?: boolean } = {}): Promise<Closure> {
  const found = lookupPackage(rootName, await realpath(fromDir));
  if (!found) {
    throw closureError(`${rootName} is not installed next to bot-bottle (looked up from ${fromDir})`);
  }
  const root = await realpath(found);
  const packages = new Map<string, ClosurePackage>();
  const queue = [root];
  while (queue.length) {
    const dir = queue.shift()!;
    if (packages.has(dir)) continue;
    const pj = await readPackageJson(dir);
    if (!pj.name || !pj.version) throw closureError(`${path.join(dir, 'package.json')} has no name or version`);
    const deps = new Map<string, string>();
    const wanted: [string, boolean][] = [
      ...Object.keys(pj.dependencies ?? {}).map((n) => [n, false] as [string, boolean]),
      ...Object.keys(pj.optionalDependencies ?? {}).map((n) => [n, true] as [string, boolean]),
      // A peer is whatever the host put next to the package; a missing one is the package's choice to tolerate.
      ...Object.keys(pj.peerDependencies ?? {}).map((n) => [n, true] as [string, boolean]),
    ];
    for (const [name, optional] of wanted) {
      if (deps.has(name)) continue;
      const at = lookupPackage(name, dir);
      if (!at) {
        if (optional) continue;
        throw closureError(`${pj.name} needs ${name}, which is not installed where Node would find it from ${dir}`);
      }
      const real = await realpath(at);
      deps.set(name, real);
      queue.push(real);
    }
    // For the tag alone, a package named by its version needs no listing (thousands of files, a
    // few hundred ms on every launch); a build lists and checks everything.
    const listed = !(opts.forTagOnly && namedByVersion(pj.name, dir));
    const pkg: ClosurePackage = { name: pj.name, version: pj.version, dir, deps, files: listed ? await packageFiles(dir, pj) : [] };
    if (listed) checkPureJs(pkg);
    packages.set(dir, pkg);
  }
  return { root, packages };
}

/**
 * Lays the closure out as a node_modules tree (as npm would): each dependency goes to the top when
 * no other package of that name is there, else under the package that needs it, so that Node's
 * lookup from every copy finds the same package as on the host.
 */
export function layoutClosure(closure: Closure): Placement[] {
  const byAt = new Map<string, string>();
  const rootPkg = closure.packages.get(closure.root)!;
  const rootAt = path.join('node_modules', rootPkg.name);
  byAt.set(rootAt, closure.root);
  const queue = [rootAt];
  /** Node's lookup within the tree being built: the nearest `<d>/node_modules/<name>` placed. */
  const lookup = (name: string, from: string): string | null => {
    let dir = from;
    for (;;) {
      if (path.basename(dir) !== 'node_modules') {
        const candidate = path.join(dir, 'node_modules', name);
        if (byAt.has(candidate)) return candidate;
      }
      if (dir === '.' || dir === '') return null;
      dir = path.dirname(dir);
    }
  };
  while (queue.length) {
    const at = queue.shift()!;
    const pkg = closure.packages.get(byAt.get(at)!)!;
    if (at.split(path.sep).length > 200) throw closureError(`the bundle's dependencies nest too deep to lay out (at ${at})`);
    for (const [name, dir] of pkg.deps) {
      const hit = lookup(name, at);
      if (hit && byAt.get(hit) === dir) continue;
      // Nothing of that name is visible: the top level serves everyone. A different one is: nest.
      const place = hit ? path.join(at, 'node_modules', name) : path.join('node_modules', name);
      byAt.set(place, dir);
      queue.push(place);
    }
  }
  return [...byAt].map(([at, dir]) => ({ at, dir })).sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
}

/**
 * Checks a laid-out tree on disk: from every copy, each dependency must resolve (Node's lookup, the
 * app folder being the top) to a copy of the very package it resolved to on the host.
 */
export async function verifyLayout(appDir: string, closure: Closure, placements: readonly Placement[]): Promise<void> {
  const wrong: string[] = [];
  const top = path.resolve(appDir);
  for (const p of placements) {
    const pkg = closure.packages.get(p.dir)!;
    for (const [name, dir] of pkg.deps) {
      const want = closure.packages.get(dir)!;
      const hit = lookupPackage(name, path.join(top, p.at), top);
      if (!hit) {
        wrong.push(`${p.at}: ${name} is not found (want ${want.name}@${want.version})`);
        continue;
      }
      const got = JSON.parse(await readFile(path.join(hit, 'package.json'), 'utf8')) as PackageJson;
      const rel = path.relative(top, hit);
      const placed = placements.find((x) => x.at === rel);
      if (got.name !== want.name || got.version !== want.version || placed?.dir !== dir) {
        wrong.push(`${p.at}: ${name} resolves to ${rel} (${got.name}@${got.version}), want ${want.name}@${want.version} from ${dir}`);
      }
    }
  }
  if (wrong.length) throw closureError('the bundle image\'s node_modules tree would resolve a dependency differently from this host', wrong.slice(0, 20), ['This is a bug in bot-bottle; re-run with BOTTLE_DEBUG=1 and report the output.']);
}

/** Copies the placements into `appDir`, readable by everyone (the bundle's services run as their own users). */
export async function writeLayout(appDir: string, closure: Closure, placements: readonly Placement[]): Promise<void> {
  for (const p of placements) {
    const pkg = closure.packages.get(p.dir)!;
    for (const f of pkg.files) {
      const src = path.join(p.dir, f);
      const dest = path.join(appDir, p.at, f);
      await mkdir(path.dirname(dest), { recursive: true });
      await copyFile(src, dest);
      const exec = ((await stat(src)).mode & 0o111) !== 0;
      await chmod(dest, exec ? 0o755 : 0o644);
    }
  }
}

/**
 * The hash parts of a laid-out closure: every copy's place, name and version; for bot-bottle's own
 * packages and linked source folders every file's place, mode and content. A package from
 * elsewhere installed in a node_modules is named by its version and real folder instead of read
 * (its files are fixed by its version; reading thousands of them would cost every launch).
 */
export async function hashClosure(closure: Closure, placements: readonly Placement[]): Promise<string[]> {
  const perFile = new Map<string, Promise<string>>();
  const digest = (src: string): Promise<string> => {
    let d = perFile.get(src);
    if (!d) {
      d = stat(src).then(async (s) => `${(s.mode & 0o111) !== 0 ? 'x' : '-'}${createHash('sha256').update(await readFile(src)).digest('hex')}`);
      perFile.set(src, d);
    }
    return d;
  };
  const parts: string[] = [];
  for (const p of placements) {
    const pkg = closure.packages.get(p.dir)!;
    parts.push(p.at, `${pkg.name}@${pkg.version}`);
    if (namedByVersion(pkg.name, pkg.dir)) {
      parts.push(pkg.dir);
      continue;
    }
    const digests = await Promise.all(pkg.files.map((f) => digest(path.join(p.dir, f))));
    for (const [i, f] of pkg.files.entries()) parts.push(path.join(p.at, f), digests[i]!);
  }
  return parts;
}
