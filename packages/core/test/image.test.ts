/** A bottle's "image": the three forms, devcontainer.json reading, errors by JSON path, and the plan's record. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { imageRefProblem, makePlan, parseJsonc, validateManifest, type BottleError } from '../src/index.js';
import { assertDetails, cleanupTempDirs, rejects, tempDir } from './helpers.js';

const test = suite('manifest: a bottle\'s image');
test.after(cleanupTempDirs);

const withImage = (image: unknown) => ({ bottles: { dev: { image } }, agents: { demo: { bottle: 'dev' } } });

async function project(files: Record<string, string>): Promise<string> {
  const base = await tempDir('bottle-image-');
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(base, name)), { recursive: true });
    await writeFile(path.join(base, name), text);
  }
  return base;
}

async function planOf(manifest: object, base: string) {
  const loaded = await validateManifest(manifest, '<test>', base, base);
  return makePlan({ manifest: loaded, agentName: 'demo', copyCwd: false, userCwd: base }, { env: {}, home: base, seed: 's' });
}

async function problems(manifest: object, base: string): Promise<BottleError> {
  const err = await rejects(() => validateManifest(manifest, '<test>', base, base));
  assert.is(err.code, 'MANIFEST_INVALID');
  return err;
}

test('image references docker takes are accepted; files and nonsense are not', () => {
  for (const ok of ['python:3.12-bookworm', 'ubuntu', 'registry.example.com:5000/team/app:1.2', 'ghcr.io/org/img@sha256:' + 'a'.repeat(64), 'bot-bottle-base:bookworm-node24.22.3-141611654c74', 'sha256:' + 'b'.repeat(64), 'localhost/x_y__z:latest']) {
    assert.is(imageRefProblem(ok), null, ok);
  }
  assert.match(imageRefProblem('Dockerfile')!, /looks like a file; write \{"dockerfile": "Dockerfile"\}/);
  assert.match(imageRefProblem('.devcontainer/devcontainer.json')!, /\{"devcontainer"/);
  assert.match(imageRefProblem('Python:3')!, /is not an image reference/);
  assert.match(imageRefProblem('a b')!, /is not an image reference/);
  assert.match(imageRefProblem('')!, /must not be empty/);
});

test('no image: the default, recorded in the plan', async () => {
  const base = await project({});
  const plan = await planOf({ bottles: { dev: {} }, agents: { demo: { bottle: 'dev' } } }, base);
  assert.equal(plan.image, { source: 'default' });
});

test('a reference: the plan records it and the key', async () => {
  const base = await project({});
  const plan = await planOf(withImage('python:3.12-bookworm'), base);
  assert.equal(plan.image, { source: 'reference', ref: 'python:3.12-bookworm', key: 'bottles.dev.image' });
});

test('a Dockerfile: paths relative to the manifest, context "." by default, args and target kept', async () => {
  const base = await project({ 'docker/Dockerfile': 'FROM scratch\n' });
  const plan = await planOf(withImage({ dockerfile: 'docker/Dockerfile', args: { PY: '3.12' }, target: 'dev' }), base);
  assert.equal(plan.image, { source: 'dockerfile', key: 'bottles.dev.image', build: { dockerfile: path.join(base, 'docker/Dockerfile'), context: base, args: { PY: '3.12' }, target: 'dev' } });
});

test('a Dockerfile that is missing, a context that is a file: both named by path', async () => {
  const base = await project({ 'ctx.txt': 'x' });
  const err = await problems(withImage({ dockerfile: 'nope/Dockerfile', context: 'ctx.txt' }), base);
  assertDetails(err, [/^bottles\.dev\.image\.dockerfile: .*nope\/Dockerfile.* does not exist/, /^bottles\.dev\.image\.context: .*ctx\.txt.* is not a directory/]);
});

test('shape errors: unknown keys with a hint, neither form, both forms, a wrong type', async () => {
  const base = await project({ Dockerfile: 'FROM scratch\n' });
  assertDetails(await problems(withImage({ dockerfile: 'Dockerfile', contxt: '.' }), base), [/^bottles\.dev\.image\.contxt: unknown key "contxt"; did you mean "context"\?/]);
  assertDetails(await problems(withImage({ context: '.' }), base), [/^bottles\.dev\.image: an image object needs "dockerfile"/]);
  assertDetails(await problems(withImage({ devcontainer: 'x.json', dockerfile: 'Dockerfile' }), base), [/^bottles\.dev\.image: "devcontainer" stands alone/]);
  assertDetails(await problems(withImage(3), base), [/^bottles\.dev\.image: image is an image reference such as .*, not the number 3/]);
  assertDetails(await problems(withImage('./Dockerfile'), base), [/^bottles\.dev\.image: "\.\/Dockerfile" looks like a file/]);
  assertDetails(await problems(withImage({ dockerfile: 'Dockerfile', args: { '1X': 'a' } }), base), [/^bottles\.dev\.image\.args\["1X"\]: "1X" is not a build arg name/]);
});

test('a devcontainer.json with comments and trailing commas: its image', async () => {
  const base = await project({ '.devcontainer/devcontainer.json': '// a comment\n{\n  "name": "py", /* block */\n  "image": "python:3.12-bookworm",\n  "customizations": {"vscode": {"extensions": ["ms-python.python",],},},\n}\n' });
  const plan = await planOf(withImage({ devcontainer: '.devcontainer/devcontainer.json' }), base);
  assert.equal(plan.image, { source: 'devcontainer', devcontainer: path.join(base, '.devcontainer/devcontainer.json'), key: 'bottles.dev.image', ref: 'python:3.12-bookworm' });
});

test('a devcontainer.json build: dockerfile and context relative to its own folder, args', async () => {
  const base = await project({
    '.devcontainer/devcontainer.json': JSON.stringify({ build: { dockerfile: 'Dockerfile', context: '..', args: { VARIANT: '3.12' }, target: 'dev' } }),
    '.devcontainer/Dockerfile': 'FROM scratch\n',
  });
  const plan = await planOf(withImage({ devcontainer: '.devcontainer/devcontainer.json' }), base);
  assert.equal(plan.image.build, { dockerfile: path.join(base, '.devcontainer/Dockerfile'), context: base, args: { VARIANT: '3.12' }, target: 'dev' });
  // The older top-level keys.
  const old = await project({ 'dc.json': JSON.stringify({ dockerFile: 'Dockerfile', context: '.' }), Dockerfile: 'FROM scratch\n' });
  assert.equal((await planOf(withImage({ devcontainer: 'dc.json' }), old)).image.build, { dockerfile: path.join(old, 'Dockerfile'), context: old, args: {} });
});

test('a devcontainer.json with features: one error per feature, naming it', async () => {
  const base = await project({ 'dc.json': JSON.stringify({ image: 'python:3.12', features: { 'ghcr.io/devcontainers/features/node:1': {}, 'ghcr.io/devcontainers/features/go:1': { version: '1.22' } } }) });
  const err = await problems(withImage({ devcontainer: 'dc.json' }), base);
  assertDetails(err, [/^bottles\.dev\.image\.devcontainer: .*dc\.json: features\["ghcr\.io\/devcontainers\/features\/node:1"\] cannot be installed: .*registry/, /features\["ghcr\.io\/devcontainers\/features\/go:1"\]/]);
  // An empty features object is nothing to install.
  const empty = await project({ 'dc.json': JSON.stringify({ image: 'python:3.12', features: {} }) });
  assert.is((await planOf(withImage({ devcontainer: 'dc.json' }), empty)).image.ref, 'python:3.12');
});

test('a devcontainer.json with a local feature: its folder, its options as the install script\'s environment, defaults included', async () => {
  const base = await project({
    '.devcontainer/devcontainer.json': JSON.stringify({ image: 'python:3.12', features: { './hello': { greeting: 'hi there', 'loud-mode': true } } }),
    '.devcontainer/hello/install.sh': '#!/bin/sh\necho "$GREETING"\n',
    '.devcontainer/hello/devcontainer-feature.json': JSON.stringify({ id: 'hello', version: '1.0.0', options: { greeting: { type: 'string', default: 'hello' }, 'loud-mode': { type: 'boolean', default: false }, times: { type: 'string', default: '2' } }, containerEnv: { HELLO_HOME: '/opt/hello', PATH: '/opt/hello/bin:${PATH}' } }),
  });
  const plan = await planOf(withImage({ devcontainer: '.devcontainer/devcontainer.json' }), base);
  assert.equal(plan.image.features, [
    {
      id: './hello',
      dir: path.join(base, '.devcontainer/hello'),
      env: { GREETING: 'hi there', LOUD_MODE: 'true', TIMES: '2', _REMOTE_USER: 'node', _REMOTE_USER_HOME: '/home/node', _CONTAINER_USER: 'root', _CONTAINER_USER_HOME: '/root' },
      containerEnv: { HELLO_HOME: '/opt/hello', PATH: '/opt/hello/bin:${PATH}' },
    },
  ]);
  const bad = await project({
    'dc.json': JSON.stringify({ image: 'python:3.12', features: { './gone': {}, './f': { nope: 1 }, './g': { x: 'a\nb' } } }),
    'f/install.sh': '', 'f/devcontainer-feature.json': '{"options": {"x": {}}}',
    'g/install.sh': '', 'g/devcontainer-feature.json': '{"options": {"x": {}}}',
  });
  assertDetails(await problems(withImage({ devcontainer: 'dc.json' }), bad), [/features\["\.\/gone"\]: .*gone is not a folder/, /features\["\.\/f"\]: option "nope" is not one of the feature's options \(x\)/, /features\["\.\/g"\]: option x must be one line/]);
});

test('a devcontainer.json that is missing, broken, compose-based, imageless or with variables', async () => {
  const base = await project({
    'bad.json': '{"image": ',
    'compose.json': JSON.stringify({ dockerComposeFile: 'compose.yml', service: 'app' }),
    'none.json': JSON.stringify({ name: 'x' }),
    'vars.json': JSON.stringify({ build: { dockerfile: 'Dockerfile', args: { USER: '${localEnv:USER}' } } }),
    'missing-df.json': JSON.stringify({ build: { dockerfile: 'Nope' } }),
    Dockerfile: 'FROM scratch\n',
  });
  assertDetails(await problems(withImage({ devcontainer: 'gone.json' }), base), [/^bottles\.dev\.image\.devcontainer: .*gone\.json.* does not exist/]);
  assertDetails(await problems(withImage({ devcontainer: 'bad.json' }), base), [/bad\.json is not valid JSON/]);
  assertDetails(await problems(withImage({ devcontainer: 'compose.json' }), base), [/"dockerComposeFile" is not supported/]);
  assertDetails(await problems(withImage({ devcontainer: 'none.json' }), base), [/names no image/]);
  assertDetails(await problems(withImage({ devcontainer: 'vars.json' }), base), [/build\.args\.USER uses a variable/]);
  assertDetails(await problems(withImage({ devcontainer: 'missing-df.json' }), base), [/build\.dockerfile .*Nope.* does not exist/]);
});

test('parseJsonc keeps strings that look like comments, and drops only trailing commas', () => {
  assert.equal(parseJsonc('{"a": "http://x//y", "b": "/* no */", "c": [1, 2, ], }'), { a: 'http://x//y', b: '/* no */', c: [1, 2] });
  assert.equal(parseJsonc('{"a": "x\\"//", /* c */ "b": 1 // end\n}'), { a: 'x"//', b: 1 });
  assert.throws(() => parseJsonc('{"a": 1,, }'));
});

test.run();
