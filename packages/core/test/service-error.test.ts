import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as v from 'valibot';
import {
  BottleError,
  EXIT_FAILURE,
  EXIT_USAGE,
  ServiceError,
  bottleErrorFrom,
  formatServiceError,
  isBottleError,
  isServiceError,
  readConfigFile,
  serviceExitCode,
  type ConfigFileSpec,
} from '../src/index.js';
import { cleanupTempDirs, tempDir } from './helpers.js';

async function serviceRejects(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (e) {
    if (isServiceError(e)) return e;
    throw e;
  }
  throw new Error('expected a ServiceError');
}

const test = suite('service errors and config files');
test.after.each(cleanupTempDirs);

test('a ServiceError is no BottleError; its kind decides the daemon exit code', () => {
  const bad = new ServiceError('x config c.json is not valid', { kind: 'config', details: ['a: wrong'], suggestions: ['fix a'] });
  const failed = new ServiceError('x cannot listen');
  assert.ok(isServiceError(bad));
  assert.not.ok(isBottleError(bad));
  assert.not.ok(isServiceError(new BottleError('USAGE', 'x')));
  assert.ok(isServiceError(JSON.parse(JSON.stringify({ ...bad.toJSON(), name: 'ServiceError' }))), 'another copy of core');
  assert.is(failed.kind, 'failure');
  assert.is(serviceExitCode(bad), 2);
  assert.is(serviceExitCode(failed), 1);
  assert.is(serviceExitCode(new Error('bug')), 1);
});

test('formatted once: the service name, then details and fixes; no repeated name, no stack unless BOTTLE_DEBUG=1', () => {
  const e = new ServiceError('git-gate config c.json is not valid', { kind: 'config', details: ['upstreams[0].name: bad'], suggestions: ['See the README.'] });
  assert.is(formatServiceError('git-gate', e), 'git-gate: config c.json is not valid\n  upstreams[0].name: bad\n  fix: See the README.\n');
  assert.is(formatServiceError('git-gate', new ServiceError('git-gate: git fetch failed')), 'git-gate: git fetch failed\n');
  assert.is(formatServiceError('bundle', new ServiceError('the egress gateway exited with code 2 while starting')), 'bundle: the egress gateway exited with code 2 while starting\n');
  const bug = new TypeError('x is undefined');
  assert.is(formatServiceError('bundle', bug, {}), 'bundle: x is undefined\n');
  assert.match(formatServiceError('bundle', bug, { BOTTLE_DEBUG: '1' }), /^bundle: TypeError: x is undefined\n\s+at /);
});

test("the CLI's BottleError for one: same message and details, its fixes after the CLI's, exit 2 for bad input", () => {
  const e = new ServiceError('egress routes are not valid (1 problem)', { kind: 'config', details: ['routes[0].host: bad'], suggestions: ['Each route is ...'] });
  const b = bottleErrorFrom(e, 'BACKEND_FAILED', { suggestions: ['Check the manifest.'] });
  assert.ok(isBottleError(b));
  assert.equal(b.toJSON(), { code: 'BACKEND_FAILED', message: e.message, details: ['routes[0].host: bad'], suggestions: ['Check the manifest.', 'Each route is ...'], exit: EXIT_USAGE });
  assert.is(b.cause, e);
  assert.is(bottleErrorFrom(new ServiceError('cannot listen'), 'BACKEND_FAILED').exit, EXIT_FAILURE);
});

const SPEC: ConfigFileSpec = { service: 'demo service', formatHint: 'The config is {"port", "name"?}.', envVar: 'DEMO_CONFIG' };
const Schema = v.strictObject({ port: v.pipe(v.number(), v.integer()), name: v.optional(v.string()) });

test('a config file: read, JSON, schema; each failure is one ServiceError naming the file and each problem by path', async () => {
  const dir = await tempDir();
  const file = path.join(dir, 'c.json');
  await writeFile(file, '{"port": 1, "name": "x"}');
  assert.equal(await readConfigFile(SPEC, Schema, file), { port: 1, name: 'x' });

  const cases: [string | null, RegExp, string[], string][] = [
    [null, /^demo service: cannot read its config .*nope\.json \(ENOENT\)$/, [], 'Pass the config path as the first argument or in DEMO_CONFIG.'],
    ['{"port": ', /^demo service config .*c\.json is not valid$/, ['(top level): not JSON'], SPEC.formatHint],
    ['{"port": 1.5, "nme": "x"}', /^demo service config .*c\.json is not valid$/, ['port: ', 'nme: '], SPEC.formatHint],
  ];
  for (const [text, message, details, fix] of cases) {
    const target = text === null ? path.join(dir, 'nope.json') : file;
    if (text !== null) await writeFile(file, text);
    const err = await serviceRejects(readConfigFile(SPEC, Schema, target));
    assert.is(err.kind, 'config');
    assert.match(err.message, message);
    assert.is(err.details.length, details.length, err.details.join('\n'));
    details.forEach((d, i) => assert.ok(err.details.some((l) => l.startsWith(d)), `${d} in ${err.details.join(' | ')} (${i})`));
    assert.equal(err.suggestions, [fix]);
  }
});

test('a config file the service may not read says so, with the errno', async () => {
  if (process.getuid?.() === 0) return; // root reads it anyway
  const dir = await tempDir();
  const file = path.join(dir, 'c.json');
  await writeFile(file, '{}');
  await chmod(file, 0o000);
  const err = await serviceRejects(readConfigFile(SPEC, Schema, file));
  assert.match(err.message, /\(EACCES\)$/);
});

test.run();
