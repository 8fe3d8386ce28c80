/**
 * The release flow on a copy of the workspace's manifests: `changeset version` consumes every
 * pending changeset, bumps what each names and writes its CHANGELOG, as a release would.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { REPO, tempRoot } from './registry.js';

const test = suite('release: changesets');
const CHANGESET_BIN = path.join(REPO, 'node_modules/@changesets/cli/bin.js');

interface Changeset { file: string; bumps: Map<string, 'major' | 'minor' | 'patch'>; summary: string }

async function pendingChangesets(dir: string): Promise<Changeset[]> {
  const out: Changeset[] = [];
  for (const file of (await readdir(path.join(dir, '.changeset'))).filter((f) => f.endsWith('.md') && f !== 'README.md')) {
    const text = await readFile(path.join(dir, '.changeset', file), 'utf8');
    const m = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(text);
    assert.ok(m, `${file} has a front matter`);
    const bumps = new Map<string, 'major' | 'minor' | 'patch'>();
    for (const line of m![1]!.split('\n').filter(Boolean)) {
      const b = /^"?([^":]+)"?:\s*(major|minor|patch)$/.exec(line.trim());
      assert.ok(b, `${file}: "${line}" names a package and a bump`);
      bumps.set(b![1]!, b![2] as 'major' | 'minor' | 'patch');
    }
    out.push({ file, bumps, summary: m![2]!.trim() });
  }
  return out;
}

function bumped(version: string, kind: 'major' | 'minor' | 'patch'): string {
  const [maj, min, pat] = version.split('.').map(Number) as [number, number, number];
  if (kind === 'major') return `${maj + 1}.0.0`;
  if (kind === 'minor') return `${maj}.${min + 1}.0`;
  return `${maj}.${min}.${pat + 1}`;
}

test('changeset version consumes every changeset: versions bumped, CHANGELOGs written', async () => {
  const changesets = await pendingChangesets(REPO);
  assert.ok(changesets.length > 0, 'there are pending changesets');
  const root = await tempRoot('bottle-release-');
  try {
    // The manifests changesets reads and writes, at the same relative paths.
    const copy = root.dir;
    for (const f of ['package.json', 'pnpm-workspace.yaml', '.changeset']) await cp(path.join(REPO, f), path.join(copy, f), { recursive: true });
    const before = new Map<string, { dir: string; version: string }>();
    for (const group of ['packages', 'apps', 'examples', 'tests']) {
      for (const name of await readdir(path.join(REPO, group))) {
        const pj = path.join(REPO, group, name, 'package.json');
        if (!existsSync(pj)) continue;
        await mkdir(path.join(copy, group, name), { recursive: true });
        await cp(pj, path.join(copy, group, name, 'package.json'));
        const changelog = path.join(REPO, group, name, 'CHANGELOG.md');
        if (existsSync(changelog)) await cp(changelog, path.join(copy, group, name, 'CHANGELOG.md'));
        const m = JSON.parse(await readFile(pj, 'utf8')) as { name: string; version: string };
        before.set(m.name, { dir: path.join(group, name), version: m.version });
      }
    }
    for (const c of changesets) for (const name of c.bumps.keys()) assert.ok(before.has(name), `${c.file} names ${name}, which is no workspace package`);
    const git = (args: string[]) => spawnSync('git', ['-c', 'user.name=release', '-c', 'user.email=release@example.invalid', ...args], { cwd: copy, encoding: 'utf8' });
    git(['init', '-q', '-b', 'main']);
    git(['add', '-A']);
    git(['commit', '-qm', 'release']);
    const r = spawnSync(process.execPath, [CHANGESET_BIN, 'version'], { cwd: copy, encoding: 'utf8', env: { ...process.env, CI: 'true' }, timeout: 120_000 });
    assert.is(r.status, 0, r.stdout + r.stderr);

    const left = (await readdir(path.join(copy, '.changeset'))).filter((f) => f.endsWith('.md') && f !== 'README.md');
    assert.equal(left, [], 'every changeset is consumed');
    // The highest bump each package gets across all changesets.
    const order = { patch: 0, minor: 1, major: 2 } as const;
    const want = new Map<string, 'major' | 'minor' | 'patch'>();
    for (const c of changesets) for (const [n, k] of c.bumps) if (!want.has(n) || order[k] > order[want.get(n)!]) want.set(n, k);
    for (const [name, kind] of want) {
      const { dir, version } = before.get(name)!;
      const after = JSON.parse(await readFile(path.join(copy, dir, 'package.json'), 'utf8')) as { version: string };
      assert.is(after.version, bumped(version, kind), `${name}: ${version} + ${kind}`);
      const changelog = await readFile(path.join(copy, dir, 'CHANGELOG.md'), 'utf8');
      assert.match(changelog, `## ${after.version}`);
      for (const c of changesets.filter((c) => c.bumps.has(name))) {
        assert.ok(changelog.includes(c.summary.split('\n')[0]!), `${name}'s CHANGELOG carries ${c.file}`);
      }
    }
  } finally {
    await root.remove();
  }
});

test.run();
