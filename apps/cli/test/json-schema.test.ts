/**
 * The JSON Schema for bottle.json that the build writes into the CLI package (scripts/json-schema.mjs,
 * from the valibot schema) and `bottle init` points `$schema` at: checked with a real JSON Schema
 * validator (ajv, draft-07) against manifests `bottle validate` accepts and ones it refuses.
 */
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ManifestSchema } from '@bot-bottle/core';
import { STARTER_MANIFEST } from '../src/starter.js';
import { CLI_ROOT, cleanupTempDirs, run, tempDir, validManifest } from './helpers.js';

const SCHEMA_FILE = path.join(CLI_ROOT, 'schema', 'bottle.schema.json');

// What `pnpm build` runs; run here too so the test checks the generator, not a stale file.
const gen = spawnSync(process.execPath, [path.join(CLI_ROOT, 'scripts/json-schema.mjs')], { cwd: CLI_ROOT, encoding: 'utf8' });
if (gen.status !== 0) throw new Error(`scripts/json-schema.mjs failed:\n${gen.stdout}${gen.stderr}`);
const schema = JSON.parse(await readFile(SCHEMA_FILE, 'utf8')) as { properties: Record<string, unknown>; $schema: string };
const ajv = new Ajv({ strict: false, allErrors: true });
// valibot's email() becomes format "email"; ajv leaves formats to a plugin, so name a plain one.
ajv.addFormat('email', /^[^\s@]+@[^\s@]+$/);
const validate = ajv.compile(schema);

function errors(value: unknown): string {
  return validate(value) ? '' : JSON.stringify(validate.errors);
}

const test = suite('bottle.schema.json');
test.after(cleanupTempDirs);

test('every top-level key of the valibot schema is a property, and nothing else', () => {
  // ManifestSchema is the strictObject behind a plain-object check (a valibot pipe); its keys are the object's entries.
  const parts = (ManifestSchema as unknown as { pipe?: { entries?: Record<string, unknown> }[] }).pipe ?? [];
  const entries = parts.find((p) => p.entries)?.entries ?? ManifestSchema.entries;
  assert.ok(Object.keys(entries).length >= 2);
  assert.equal(Object.keys(schema.properties).sort(), Object.keys(entries).sort());
  assert.is(schema.$schema, 'http://json-schema.org/draft-07/schema#');
});

test('manifests bottle validate accepts are valid against it', () => {
  assert.is(errors(STARTER_MANIFEST), '');
  assert.is(errors(validManifest()), '');
  const full = validManifest();
  full.bottles.dev.egress.routes.push({ host: '*.example.com', methods: ['GET'], paths: ['/v1/'] });
  full.agents.demo.provisioners = ['ca', { name: 'example', options: { motd: 'hi' } }];
  assert.is(errors(full), '');
  full.bottles.dev.supervise = { credentials: ['GITHUB_TOKEN'] };
  assert.is(errors(full), '', 'supervise with the credentials a request may ask for');
});

test('manifests with the wrong shape are not', () => {
  const cases: [string, (m: Record<string, any>) => void][] = [
    ['an unknown top-level key', (m) => void (m.extra = 1)],
    ['an unknown bottle key', (m) => void (m.bottles.dev.colour = 'red')],
    ['a bottle name with upper case', (m) => void (m.bottles.Dev = m.bottles.dev)],
    ['supervise not a boolean', (m) => void (m.bottles.dev.supervise = 'yes')],
    ['supervise credentials not a list', (m) => void (m.bottles.dev.supervise = { credentials: 'GITHUB_TOKEN' })],
    ['supervise with an unknown key', (m) => void (m.bottles.dev.supervise = { credential: ['GITHUB_TOKEN'] })],
    ['a git entry without Upstream', (m) => void delete m.bottles.dev.git[0].Upstream],
    ['no agents', (m) => void delete m.agents],
    ['a git_user email that is not one', (m) => void (m.bottles.dev.git_user.email = 'not an address')],
  ];
  for (const [name, make] of cases) {
    const m = validManifest();
    make(m);
    assert.ok(errors(m), `${name}: accepted`);
  }
});

test('bottle init writes $schema as a file URL that resolves to this schema, and the result validates', async () => {
  const dir = await tempDir();
  const r = await run(['init'], { cwd: dir });
  assert.is(r.exitCode, 0, r.stderr);
  const written = JSON.parse(await readFile(path.join(dir, 'bottle.json'), 'utf8'));
  assert.ok(written.$schema.startsWith('file:///'), written.$schema);
  assert.is(fileURLToPath(written.$schema), SCHEMA_FILE);
  assert.equal(JSON.parse(await readFile(fileURLToPath(written.$schema), 'utf8')), schema);
  assert.is(errors(written), '');
});

test('the package ships it (files)', async () => {
  const pkg = JSON.parse(await readFile(path.join(CLI_ROOT, 'package.json'), 'utf8'));
  assert.ok(pkg.files.includes('schema'));
  const pack = spawnSync('npm', ['pack', '--dry-run', '--json', '--offline'], { cwd: CLI_ROOT, encoding: 'utf8' });
  assert.is(pack.status, 0, pack.stderr);
  const files = (JSON.parse(pack.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  assert.ok(files.includes('schema/bottle.schema.json'), files.join('\n'));
});

test.run();
