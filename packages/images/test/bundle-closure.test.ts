/**
 * The bundle image's code from what is installed, on fixture trees in a temp dir (no docker): npm's
 * flat layout with a nested copy, pnpm's symlinked store with a clash the image's tree must nest,
 * a linked source folder cut to what it would pack, native code refused, and the check on the
 * written tree catching a layout in which a dependency resolves to another version.
 */
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cleanupTempDirs, rejects, tempDir } from '@bot-bottle/core/testing';
import { collectClosure, hashClosure, layoutClosure, verifyLayout, writeLayout } from '../src/bundle-closure.js';

const test = suite('bundle closure');
test.after.each(cleanupTempDirs);

interface Pkg {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  files?: string[];
}

/** A package folder whose index.js reports its own name@version and that of each dependency it requires. */
async function pkg(dir: string, p: Pkg, extra: Record<string, string> = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ ...p, main: 'index.js' }));
  const deps = Object.keys(p.dependencies ?? {});
  await writeFile(
    path.join(dir, 'index.js'),
    `module.exports = { id: ${JSON.stringify(`${p.name}@${p.version}`)}, deps: { ${deps.map((d) => `${JSON.stringify(d)}: require(${JSON.stringify(d)})`).join(', ')} } };\n`,
  );
  for (const [f, content] of Object.entries(extra)) {
    await mkdir(path.dirname(path.join(dir, f)), { recursive: true });
    await writeFile(path.join(dir, f), content);
  }
  return dir;
}

/** What a require of `name` from `fromDir` yields, with every nested require (the whole tree, by id). */
function load(fromDir: string, name: string): unknown {
  const req = createRequire(path.join(fromDir, 'noop.js'));
  const seen = (m: { id: string; deps: Record<string, unknown> }): unknown => ({ id: m.id, deps: Object.fromEntries(Object.entries(m.deps).map(([k, v]) => [k, seen(v as never)])) });
  return seen(req(name));
}

/**
 * npm's flat layout: bundle needs a and b; a needs c@1 (at the top), b needs c@2 (nested under b).
 * The "from" folder is the backend package, as in a global install.
 */
async function npmTree(): Promise<{ root: string; from: string }> {
  const root = await tempDir('bottle-closure-npm-');
  const nm = path.join(root, 'node_modules');
  const from = await pkg(path.join(nm, '@bot-bottle/images'), { name: '@bot-bottle/images', version: '0.1.0' });
  await pkg(path.join(nm, '@bot-bottle/bundle'), { name: '@bot-bottle/bundle', version: '0.1.0', dependencies: { a: '^1', b: '^1' }, optionalDependencies: { 'not-installed': '^1' } });
  await pkg(path.join(nm, 'a'), { name: 'a', version: '1.0.0', dependencies: { c: '^1' } });
  await pkg(path.join(nm, 'b'), { name: 'b', version: '1.0.0', dependencies: { c: '^2' } });
  await pkg(path.join(nm, 'c'), { name: 'c', version: '1.0.0' });
  await pkg(path.join(nm, 'b/node_modules/c'), { name: 'c', version: '2.0.0' });
  return { root, from };
}

/**
 * pnpm's layout: every package in .pnpm/<id>/node_modules/<name>, its dependencies symlinked next to
 * it, the bundle a link to a source folder. a needs c@1, d needs c@2, nothing at the top: the
 * image's tree puts one c at the top and must nest the other.
 */
async function pnpmTree(): Promise<{ root: string; from: string; source: string }> {
  const root = await tempDir('bottle-closure-pnpm-');
  const store = path.join(root, 'node_modules/.pnpm');
  const at = (id: string, name: string) => path.join(store, id, 'node_modules', name);
  const link = async (target: string, where: string) => {
    await mkdir(path.dirname(where), { recursive: true });
    await symlink(path.relative(path.dirname(where), target), where);
  };
  const source = await pkg(path.join(root, 'packages/bundle'), { name: '@bot-bottle/bundle', version: '0.1.0', dependencies: { a: '^1', d: '^1' }, files: ['dist'] }, {
    'dist/main.js': 'export {};\n',
    'src/main.ts': 'export {};\n',
    'test/main.test.ts': '// not shipped\n',
  });
  await pkg(at('a@1.0.0', 'a'), { name: 'a', version: '1.0.0', dependencies: { c: '^1' } });
  await pkg(at('d@1.0.0', 'd'), { name: 'd', version: '1.0.0', dependencies: { c: '^2' } });
  await pkg(at('c@1.0.0', 'c'), { name: 'c', version: '1.0.0' });
  await pkg(at('c@2.0.0', 'c'), { name: 'c', version: '2.0.0' });
  await link(at('c@1.0.0', 'c'), at('a@1.0.0', 'c'));
  await link(at('c@2.0.0', 'c'), at('d@1.0.0', 'c'));
  await link(at('a@1.0.0', 'a'), path.join(source, 'node_modules/a'));
  await link(at('d@1.0.0', 'd'), path.join(source, 'node_modules/d'));
  const from = await pkg(path.join(root, 'packages/images'), { name: '@bot-bottle/images', version: '0.1.0' });
  await link(source, path.join(from, 'node_modules/@bot-bottle/bundle'));
  return { root, from, source };
}

async function built(from: string) {
  const closure = await collectClosure('@bot-bottle/bundle', from);
  const placements = layoutClosure(closure);
  const app = path.join(await tempDir('bottle-closure-app-'), 'app');
  await writeLayout(app, closure, placements);
  return { closure, placements, app };
}

test('npm layout: the tree keeps the nested version under its dependent, and Node loads the same versions as on the host', async () => {
  const { from } = await npmTree();
  const { placements, app, closure } = await built(from);
  assert.equal(placements.map((p) => p.at), ['node_modules/@bot-bottle/bundle', 'node_modules/a', 'node_modules/b', 'node_modules/b/node_modules/c', 'node_modules/c']);
  await verifyLayout(app, closure, placements);
  const want = { id: '@bot-bottle/bundle@0.1.0', deps: { a: { id: 'a@1.0.0', deps: { c: { id: 'c@1.0.0', deps: {} } } }, b: { id: 'b@1.0.0', deps: { c: { id: 'c@2.0.0', deps: {} } } } } };
  // Control: the host tree answers the same.
  assert.equal(load(from, '@bot-bottle/bundle'), want);
  assert.equal(load(app, '@bot-bottle/bundle'), want);
});

test('pnpm layout: a clash nothing on the host nests is nested in the tree; a linked source folder is cut to what it packs', async () => {
  const { from, source } = await pnpmTree();
  const { placements, app, closure } = await built(from);
  assert.equal(placements.map((p) => p.at), ['node_modules/@bot-bottle/bundle', 'node_modules/a', 'node_modules/c', 'node_modules/d', 'node_modules/d/node_modules/c']);
  await verifyLayout(app, closure, placements);
  const bundle = path.join(app, 'node_modules/@bot-bottle/bundle');
  assert.ok(existsSync(path.join(bundle, 'dist/main.js')));
  assert.not.ok(existsSync(path.join(bundle, 'src')), 'sources are not what the package ships');
  assert.not.ok(existsSync(path.join(bundle, 'test')));
  assert.not.ok(existsSync(path.join(bundle, 'index.js')), 'not in "files"');
  assert.not.ok(existsSync(path.join(bundle, 'node_modules')), 'its own node_modules stays behind');
  // The tree is read by Node alone (no links): a and d each get their own c.
  const req = createRequire(path.join(app, 'x.js'));
  assert.is(req('a').deps.c.id, 'c@1.0.0');
  assert.is(req('d').deps.c.id, 'c@2.0.0');
  // Control: on the host, the same.
  const hostReq = createRequire(path.join(source, 'x.js'));
  assert.is(hostReq('a').deps.c.id, 'c@1.0.0');
  assert.is(hostReq('d').deps.c.id, 'c@2.0.0');
});

test('the check on the written tree refuses a layout in which a dependency would resolve to another version', async () => {
  const { from } = await npmTree();
  const { placements, app, closure } = await built(from);
  await verifyLayout(app, closure, placements); // control: the tree as written passes
  // b's own c@2 gone: b would now load the top-level c@1.
  await rm(path.join(app, 'node_modules/b/node_modules'), { recursive: true });
  const err = await rejects(() => verifyLayout(app, closure, placements));
  assert.is(err.code, 'IMAGE_BUILD_FAILED');
  assert.match(err.message, /resolve a dependency differently/);
  assert.match(err.details.join('\n'), /node_modules\/b: c resolves to node_modules\/c \(c@1\.0\.0\), want c@2\.0\.0/);
  // A dependency missing altogether is caught too.
  await rm(path.join(app, 'node_modules/a'), { recursive: true });
  const missing = await rejects(() => verifyLayout(app, closure, placements));
  assert.match(missing.details.join('\n'), /node_modules\/@bot-bottle\/bundle: a is not found/);
});

test('native code in the closure is refused with the package named; a missing required dependency too', async () => {
  const { root, from } = await npmTree();
  await writeFile(path.join(root, 'node_modules/b/node_modules/c/binding.gyp'), '{}');
  const err = await rejects(() => collectClosure('@bot-bottle/bundle', from));
  assert.is(err.code, 'IMAGE_BUILD_FAILED');
  assert.match(err.message, /c@2\.0\.0 \(needed by the bundle\) contains native code/);
  assert.match(err.details.join('\n'), /binding\.gyp/);
  await rm(path.join(root, 'node_modules/b/node_modules/c/binding.gyp'));
  await writeFile(path.join(root, 'node_modules/a/addon.node'), 'ELF');
  assert.match((await rejects(() => collectClosure('@bot-bottle/bundle', from))).message, /a@1\.0\.0 .* contains native code/);
  await rm(path.join(root, 'node_modules/a/addon.node'));
  await collectClosure('@bot-bottle/bundle', from); // control: pure JavaScript again
  await rm(path.join(root, 'node_modules/c'), { recursive: true });
  const missing = await rejects(() => collectClosure('@bot-bottle/bundle', from));
  assert.match(missing.message, /^a needs c, which is not installed/);
});

test('the tag inputs change with a linked file\'s content or an installed package\'s version, and with nothing else', async () => {
  const { from, source, root } = await pnpmTree();
  const parts = async () => {
    const c = await collectClosure('@bot-bottle/bundle', from, { forTagOnly: true });
    const p = (await hashClosure(c, layoutClosure(c))).join('\n');
    const full = await collectClosure('@bot-bottle/bundle', from);
    assert.is((await hashClosure(full, layoutClosure(full))).join('\n'), p, 'the tag is the same whether installed packages were listed or not');
    return p;
  };
  const first = await parts();
  assert.is(await parts(), first, 'stable');
  await writeFile(path.join(source, 'src/main.ts'), 'export const notShipped = 1;\n');
  assert.is(await parts(), first, 'a file the package does not ship does not count');
  const main = path.join(source, 'dist/main.js');
  await writeFile(main, (await readFile(main, 'utf8')).replace('{}', '{ }'));
  const second = await parts();
  assert.is.not(second, first, 'shipped content counts');
  // A package from elsewhere is named by its version: its files are not read on every launch.
  await writeFile(path.join(root, 'node_modules/.pnpm/c@2.0.0/node_modules/c/index.js'), 'module.exports = { id: "c@2.0.0-patched", deps: {} };\n');
  assert.is(await parts(), second, 'an installed file of a versioned package is not read');
  const cPj = path.join(root, 'node_modules/.pnpm/c@2.0.0/node_modules/c/package.json');
  await writeFile(cPj, (await readFile(cPj, 'utf8')).replace('"2.0.0"', '"2.0.1"'));
  assert.is.not(await parts(), second, 'its version counts');
});

test('an installed copy of a bot-bottle package is read for the tag: a repack under the same version counts', async () => {
  const { root, from } = await npmTree();
  const parts = async () => {
    const c = await collectClosure('@bot-bottle/bundle', from, { forTagOnly: true });
    return (await hashClosure(c, layoutClosure(c))).join('\n');
  };
  const first = await parts();
  const main = path.join(root, 'node_modules/@bot-bottle/bundle/index.js');
  await writeFile(main, `${await readFile(main, 'utf8')}// repacked\n`);
  assert.is.not(await parts(), first);
});

test.run();
