/** The hash a user's Dockerfile image is tagged by: what docker would read changes it, nothing else does. */
import { mkdir, mkdtemp, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildInputsHash, ignored, parseDockerignore } from '../src/index.js';

const test = suite('build context hash and .dockerignore');
const dirs: string[] = [];
test.after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function context(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bbtest-ctx-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
  return dir;
}

test('.dockerignore patterns as docker reads them', () => {
  const rules = parseDockerignore('# comment\n\nnode_modules\n*.log\n**/__pycache__\n/build/\ndocs/**\n!docs/keep.md\nsecret?.txt\n[ab].tmp\n');
  const cases: [string, boolean][] = [
    ['node_modules/x/index.js', true],
    ['src/node_modules/x.js', false],
    ['a.log', true],
    ['src/a.log', false],
    ['src/pkg/__pycache__/m.pyc', true],
    ['__pycache__/m.pyc', true],
    ['build/out.o', true],
    ['docs/guide.md', true],
    ['docs/keep.md', false],
    ['secret1.txt', true],
    ['secret12.txt', false],
    ['a.tmp', true],
    ['c.tmp', false],
    ['src/main.py', false],
  ];
  for (const [p, want] of cases) assert.is(ignored(p, rules), want, p);
});

test('the hash follows the Dockerfile, args, target and the files docker sends; not ignored files', async () => {
  const dir = await context({ Dockerfile: 'FROM scratch\n', 'app/main.py': 'print(1)\n', '.dockerignore': 'cache\n', 'cache/big.bin': 'x' });
  const build = { dockerfile: path.join(dir, 'Dockerfile'), context: dir, args: {} as Record<string, string> };
  const first = await buildInputsHash(build);
  assert.match(first, /^[0-9a-f]{12}$/);
  assert.is(await buildInputsHash(build), first, 'stable');
  await writeFile(path.join(dir, 'cache/big.bin'), 'changed');
  assert.is(await buildInputsHash(build), first, 'an ignored file changes nothing');
  await writeFile(path.join(dir, 'app/main.py'), 'print(2)\n');
  const second = await buildInputsHash(build);
  assert.is.not(second, first, 'a context file');
  await chmod(path.join(dir, 'app/main.py'), 0o755);
  const third = await buildInputsHash(build);
  assert.is.not(third, second, 'a mode');
  await symlink('main.py', path.join(dir, 'app/link.py'));
  const fourth = await buildInputsHash(build);
  assert.is.not(fourth, third, 'a link');
  assert.is.not(await buildInputsHash({ ...build, args: { A: '1' } }), fourth, 'an arg');
  assert.is.not(await buildInputsHash({ ...build, target: 'dev' }), fourth, 'a target');
  await writeFile(path.join(dir, 'Dockerfile'), 'FROM scratch\nCOPY app /app\n');
  assert.is.not(await buildInputsHash(build), fourth, 'the Dockerfile');
});

test.run();
