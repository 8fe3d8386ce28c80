import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { validateManifest } from '@bot-bottle/core';
import { toBottleError } from '../src/base-command.js';
import { STARTER_MANIFEST, schemaFileUrl } from '../src/starter.js';
import { CLI_ROOT, bottle, cleanupTempDirs, hasStack, isolatedXdg, run, tempDir, validManifest, writeJson } from './helpers.js';

const test = suite('commands');
test.after(cleanupTempDirs);

test('validate: ok line with counts, and a note for each unset route env var', async () => {
  const dir = await tempDir();
  const m = validManifest();
  m.bottles.other = { egress: { routes: [{ host: 'api.openai.com', auth: { header: 'authorization', env: 'OPENAI_API_KEY', format: 'Bearer {value}' } }] } };
  m.agents.second = { bottle: 'other' };
  const file = await writeJson(path.join(dir, 'bottle.json'), m);
  const r = await run(['validate', '--manifest', file], { env: { OPENAI_API_KEY: 'set-here' } });
  assert.is(r.exitCode, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.is(lines[0], `${file}: ok, 2 bottles, 2 agents`);
  assert.equal(lines.slice(1), [
    'note: bottles.dev.egress.routes[0].auth.env: ANTHROPIC_API_KEY is not set in this shell; checked at launch (export it before `bottle run`)',
  ]);
});

test('validate --json: one document with the counts and notes', async () => {
  const dir = await tempDir();
  const file = await writeJson(path.join(dir, 'bottle.json'), validManifest());
  const r = await run(['validate', '--manifest', file, '--json'], { env: { ANTHROPIC_API_KEY: 'x' } });
  assert.is(r.exitCode, 0);
  assert.equal(JSON.parse(r.stdout), { manifest: file, via: 'flag', ok: true, bottles: 1, agents: 1, notes: [] });
});

test('validate finds the manifest: BOT_BOTTLE_MANIFEST, then bottle.json in the nearest parent, then the user config', async () => {
  const dir = await tempDir();
  const deep = path.join(dir, 'a', 'b');
  await mkdir(deep, { recursive: true });
  const xdg = await isolatedXdg();
  const viaEnv = await writeJson(path.join(dir, 'elsewhere.json'), validManifest());
  let r = await run(['validate', '--json'], { cwd: deep, env: { ...xdg, BOT_BOTTLE_MANIFEST: viaEnv } });
  assert.is(JSON.parse(r.stdout).via, 'env');
  const user = path.join(xdg.XDG_CONFIG_HOME!, 'bot-bottle', 'bottle.json');
  await mkdir(path.dirname(user), { recursive: true });
  await writeJson(user, validManifest());
  r = await run(['validate', '--json'], { cwd: deep, env: xdg });
  assert.equal([JSON.parse(r.stdout).via, JSON.parse(r.stdout).manifest], ['user', user]);
  const parent = await writeJson(path.join(dir, 'a', 'bottle.json'), validManifest());
  r = await run(['validate', '--json'], { cwd: deep, env: xdg });
  assert.equal([JSON.parse(r.stdout).via, JSON.parse(r.stdout).manifest], ['cwd', parent]);
});

test('validate without any manifest: names every place tried and how to fix it, exit 2', async () => {
  const dir = await tempDir();
  const r = await run(['validate'], { cwd: dir, env: await isolatedXdg() });
  assert.is(r.exitCode, 2);
  assert.match(r.stderr, /^Error: no manifest found\n/);
  assert.match(r.stderr, `  tried ${path.join(dir, 'bottle.json')}`);
  assert.match(r.stderr, 'Fix: Run `bottle init`');
  assert.not.ok(hasStack(r.stderr));
  assert.is(r.stdout, '');
});

test('plan: a readable summary with the provisioners in order; no side effects', async () => {
  const dir = await tempDir();
  const xdg = await isolatedXdg();
  const file = await writeJson(path.join(dir, 'bottle.json'), validManifest());
  const r = await run(['plan', 'demo', '--manifest', file, '--seed', 's1'], { env: xdg });
  assert.is(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, 'plan for agent demo (bottle dev)');
  assert.match(r.stdout, /slug\s+demo-[a-z0-9]{5}\n/);
  assert.match(r.stdout, /1\. ca\s+@bot-bottle\/provisioner-ca@\S+ \(built-in\)\n\s+2\. git .*\n\s+3\. prompt .*\n\s+4\. skills .*\n\s+5\. supervise /);
  assert.match(r.stdout, 'api.anthropic.com  x-api-key from $ANTHROPIC_API_KEY');
  assert.match(r.stdout, 'app  ssh://git@git.example.invalid/app.git');
  // ANTHROPIC_API_KEY is unset: plan reports what `run` would refuse, and still succeeds.
  assert.match(r.stdout, 'bottles.dev.egress.routes[0].auth.env: env var ANTHROPIC_API_KEY is not set');
  // Nothing was created: no state dir under the (temp) XDG_STATE_HOME.
  assert.is(await readFile(path.join(xdg.XDG_STATE_HOME!, 'bot-bottle'), 'utf8').catch((e) => e.code), 'ENOENT');
});

test('plan --json: the full plan, deterministic with --seed, --copy-cwd recorded', async () => {
  const dir = await tempDir();
  const file = await writeJson(path.join(dir, 'bottle.json'), validManifest());
  const env = { ...(await isolatedXdg()), ANTHROPIC_API_KEY: 'sk-test-placeholder' };
  const a = await run(['plan', 'demo', '--manifest', file, '--seed', 'same', '--json', '--copy-cwd'], { env, cwd: dir });
  const b = await run(['plan', 'demo', '--manifest', file, '--seed', 'same', '--json'], { env });
  assert.is(a.exitCode, 0, a.stderr);
  const pa = JSON.parse(a.stdout);
  const pb = JSON.parse(b.stdout);
  assert.is(pa.slug, pb.slug);
  assert.is(pa.planVersion, 1);
  assert.is(pa.copyCwd, true);
  assert.is(pa.userCwd, dir);
  assert.is(pb.copyCwd, false);
  assert.equal(pa.provisioners.map((p: { name: string }) => p.name), ['ca', 'git', 'prompt', 'skills', 'supervise']);
  assert.equal(pa.launchProblems, []);
  assert.equal(pa.egress.secretEnv, ['ANTHROPIC_API_KEY']);
  // The secret never appears in the plan: the bottle holds a placeholder.
  assert.not.match(a.stdout, 'sk-test');
});

test('plan of an unknown agent: lists the agents, exit 2; under --json one error document', async () => {
  const dir = await tempDir();
  const file = await writeJson(path.join(dir, 'bottle.json'), validManifest());
  const r = await run(['plan', 'nobody', '--manifest', file]);
  assert.is(r.exitCode, 2);
  assert.match(r.stderr, `Error: agent "nobody" is not defined in ${file}\n  the agents are: demo\nFix: Use one of: demo\n`);
  const j = await run(['plan', 'nobody', '--manifest', file, '--json']);
  assert.is(j.exitCode, 2);
  assert.equal(JSON.parse(j.stdout), {
    error: { code: 'AGENT_NOT_FOUND', message: `agent "nobody" is not defined in ${file}`, details: ['the agents are: demo'], suggestions: ['Use one of: demo'], exit: 2 },
  });
  assert.is(j.stderr, '');
});

test('usage errors from flag parsing: exit 2 in the same format, and as JSON under --json', async () => {
  let r = await run(['validate', '--no-such-flag']);
  assert.is(r.exitCode, 2);
  assert.match(r.stderr, /^Error: Nonexistent flag: --no-such-flag\n/);
  assert.match(r.stderr, 'Fix: Run `bottle validate --help` for usage.');
  assert.not.ok(hasStack(r.stderr));
  r = await run(['plan']);
  assert.is(r.exitCode, 2);
  assert.match(r.stderr, /^Error: Missing 1 required arg/);
  r = await run(['plan', '--json']);
  assert.is(r.exitCode, 2);
  const doc = JSON.parse(r.stdout);
  assert.is(doc.error.code, 'USAGE');
  assert.is(doc.error.exit, 2);
});

test('the real binary: exit codes, no stack trace; with BOTTLE_DEBUG=1 a stack is shown', async () => {
  const dir = await tempDir();
  const file = path.join(dir, 'missing.json');
  const plain = await bottle(['validate', '--manifest', file]);
  assert.is(plain.exitCode, 2);
  assert.is(plain.stderr, `Error: manifest ${file} does not exist\nFix: Check the path, or run \`bottle init\` to write a starter manifest.`); // execa drops the final newline
  assert.is(plain.stdout, '');
  const debug = await bottle(['validate', '--manifest', file], { env: { BOTTLE_DEBUG: '1' } });
  assert.is(debug.exitCode, 2);
  assert.ok(debug.stderr.startsWith(plain.stderr));
  assert.ok(hasStack(debug.stderr), debug.stderr);
  const json = await bottle(['validate', '--manifest', file, '--json']);
  assert.is(json.exitCode, 2);
  assert.is(JSON.parse(json.stdout).error.code, 'MANIFEST_NOT_FOUND');
  const usage = await bottle(['plan', 'demo', '--seed']);
  assert.is(usage.exitCode, 2);
  assert.match(usage.stderr, /^Error: Flag --seed expects a value/);
  assert.not.ok(hasStack(usage.stderr));
});

test('provisioners: the five built-ins, with package, version, and description; --json parses', async () => {
  const env = await isolatedXdg();
  const r = await run(['provisioners', '--json'], { env });
  assert.is(r.exitCode, 0, r.stderr);
  const { provisioners } = JSON.parse(r.stdout) as { provisioners: { name: string; package: string; builtIn: boolean; version: string; after: string[]; hostEnv: string[]; description: string }[] };
  assert.equal(provisioners.map((p) => p.name), ['ca', 'git', 'prompt', 'skills', 'supervise']);
  for (const p of provisioners) {
    assert.is(p.package, `@bot-bottle/provisioner-${p.name}`);
    assert.ok(p.builtIn);
    assert.match(p.version, /^\d+\.\d+\.\d+/);
    assert.ok(Array.isArray(p.after));
    assert.equal(p.hostEnv, [], 'no built-in reads the host environment');
    assert.type(p.description, 'string');
  }
  const h = await run(['provisioners'], { env });
  assert.match(h.stdout, /^ca\s+@bot-bottle\/provisioner-ca@\S+\s+built-in/m);
});

test('init: writes a starter that validates, refuses to overwrite without --force', async () => {
  const dir = await tempDir();
  const file = path.join(dir, 'bottle.json');
  let r = await run(['init'], { cwd: dir });
  assert.is(r.exitCode, 0, r.stderr);
  assert.is(r.stdout, `wrote ${file}\n`);
  const text = await readFile(file, 'utf8');
  assert.equal(JSON.parse(text), { $schema: schemaFileUrl(CLI_ROOT), ...STARTER_MANIFEST });
  await validateManifest(JSON.parse(text), file, dir);
  r = await run(['validate'], { cwd: dir, env: { ANTHROPIC_API_KEY: 'x' } });
  assert.is(r.stdout, `${file}: ok, 1 bottle, 1 agent\n`);

  await writeFile(file, '{"mine": true}');
  r = await run(['init'], { cwd: dir });
  assert.is(r.exitCode, 2);
  assert.is(r.stderr, `Error: ${file} already exists\nFix: Edit it, or run \`bottle init --force\` to replace it with the starter manifest.\n`);
  assert.is(await readFile(file, 'utf8'), '{"mine": true}');
  r = await run(['init', '--force', '--json'], { cwd: dir });
  assert.is(r.exitCode, 0);
  assert.equal(JSON.parse(r.stdout), { path: file, agent: 'claude' });
  assert.equal(JSON.parse(await readFile(file, 'utf8')), { $schema: schemaFileUrl(CLI_ROOT), ...STARTER_MANIFEST });
});

test('init where bottle.json is a dangling symlink or a directory: refused, nothing followed', async () => {
  const dir = await tempDir();
  await mkdir(path.join(dir, 'bottle.json'));
  const r = await run(['init', '--force'], { cwd: dir });
  assert.is(r.exitCode, 2);
  assert.match(r.stderr, /^Error: cannot write .*bottle\.json \(EISDIR\)/);
  // A write that fails is not a usage error: it has its own code (the exit still says "fix your input").
  const j = await run(['init', '--force', '--json'], { cwd: dir });
  assert.equal([j.exitCode, JSON.parse(j.stdout).error.code], [2, 'MANIFEST_UNWRITABLE']);
  const dir2 = await tempDir();
  await symlink(path.join(dir2, 'target-elsewhere.json'), path.join(dir2, 'bottle.json'));
  const r2 = await run(['init'], { cwd: dir2 });
  assert.is(r2.exitCode, 2);
  assert.match(r2.stderr, 'already exists');
});

test('a failed file operation reaches the user as HOST_IO_FAILED naming the path and a fix, not as a bug', async () => {
  const dir = await tempDir();
  const file = path.join(dir, 'state');
  await writeFile(file, 'a file where a folder should be');
  const fsError = await mkdir(path.join(file, 'bot-bottle'), { recursive: true }).then(() => null, (e: unknown) => e);
  const e = toBottleError(fsError, 'run', 'bottle');
  assert.is(e.code, 'HOST_IO_FAILED');
  assert.is(e.exit, 1);
  assert.match(e.message, `cannot mkdir ${file}`);
  assert.match(e.message, /\((ENOTDIR|EEXIST)\)$/);
  assert.match(e.suggestions[0]!, 'in the way');
  assert.not.match(e.suggestions.join('\n'), 'bug');
  // Control: an error that names no file is still reported as a bug to report.
  const internal = toBottleError(new TypeError('x is undefined'), 'run', 'bottle');
  assert.is(internal.code, 'INTERNAL');
  assert.match(internal.suggestions[0]!, 'bug in bot-bottle');
});

test('image build with a CA file that is missing or not PEM: CA_CERT_INVALID, exit 2, before docker is asked', async () => {
  const dir = await tempDir();
  const notPem = path.join(dir, 'corp.crt');
  await writeFile(notPem, 'not a certificate\n');
  for (const [file, said] of [[path.join(dir, 'missing.crt'), 'cannot be read'], [notPem, 'is not a PEM certificate']] as const) {
    // A docker that is not there proves nothing was built or inspected first.
    const r = await bottle(['image', 'build', '--ca-cert', file, '--json'], { env: { BOT_BOTTLE_DOCKER: path.join(dir, 'no-docker') } });
    assert.is(r.exitCode, 2, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.is(doc.error.code, 'CA_CERT_INVALID');
    assert.is(doc.error.message, `extra CA certificate ${file} ${said}`);
    assert.ok(doc.error.suggestions.length > 0);
  }
});

test('doctor: real probes on this machine, Node then each backend\'s own checks then the base; --json parses; exit 0 only when nothing required is missing', async () => {
  const r = await run(['doctor', '--json']);
  const doc = JSON.parse(r.stdout) as { ok: boolean; checks: { name: string; ok: boolean; required: boolean; backend?: string; detail: string; fix?: string }[] };
  const names = doc.checks.map((c) => c.name);
  assert.is(names[0], 'node');
  assert.is(names.at(-1), 'base image');
  for (const n of ['docker client', 'docker engine']) assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
  assert.is(doc.checks.find((c) => c.name === 'base image')!.required, false, 'no base chosen yet is not a failure: the first build chooses');
  assert.is(doc.checks[0]!.ok, true);
  assert.is(r.exitCode, doc.ok ? 0 : 1);
  for (const c of doc.checks) if (!c.ok) assert.ok(c.fix, `${c.name} has a fix`);
  // The default backend's checks are required; every other backend's only inform.
  for (const c of doc.checks.filter((x) => x.backend)) assert.is(c.required, c.backend === 'docker', `${c.name} (${c.backend})`);
});

test('doctor with docker missing from PATH: "not installed", the install command, exit 1', async () => {
  const emptyBin = await tempDir('bottle-cli-path-');
  const r = await bottle(['doctor'], { env: { PATH: emptyBin } });
  assert.is(r.exitCode, 1);
  assert.match(r.stdout, /MISSING\s+docker client\s+not installed/);
  assert.match(r.stdout, 'fix: Install Docker: https://docs.docker.com/engine/install/');
  assert.match(r.stderr, 'required check(s) failed');
  const j = await bottle(['doctor', '--json'], { env: { PATH: emptyBin } });
  assert.is(j.exitCode, 1);
  assert.is(JSON.parse(j.stdout).ok, false);
});

test('doctor with an engine that does not answer: the docker client is found, the engine is not reachable, exit 1', async () => {
  const probe = await bottle(['doctor', '--json']);
  if (!JSON.parse(probe.stdout).checks[1].ok) return; // no docker client here: covered by the PATH test
  const dir = await tempDir();
  const r = await bottle(['doctor'], { env: { DOCKER_HOST: `unix://${path.join(dir, 'no-engine.sock')}` } });
  assert.is(r.exitCode, 1);
  assert.match(r.stdout, /ok\s+docker client/);
  assert.match(r.stdout, /MISSING\s+docker engine\s+not reachable/);
  assert.match(r.stdout, 'fix: Start the Docker engine');
});

test('backends by name: an unknown --backend or BOT_BOTTLE_BACKEND is one error listing the installed backends, exit 2; plan shows the choice', async () => {
  const dir = await tempDir();
  const file = path.join(dir, 'bottle.json');
  await writeFile(file, JSON.stringify({ bottles: { dev: {} }, agents: { demo: { bottle: 'dev' } } }));
  for (const [args, env, from] of [[['--backend', 'nope'], {}, '--backend'], [[], { BOT_BOTTLE_BACKEND: 'nope' }, 'BOT_BOTTLE_BACKEND'], [[], { CLAUDE_BOTTLE_BACKEND: 'nope' }, 'CLAUDE_BOTTLE_BACKEND']] as const) {
    const r = await bottle(['plan', 'demo', '--manifest', file, ...args], { env });
    assert.is(r.exitCode, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^Error: no backend named "nope" \\(from ${from}\\); installed: .*docker`));
    assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
  }
  const ok = await bottle(['plan', 'demo', '--manifest', file, '--json']);
  assert.equal(JSON.parse(ok.stdout).backend, { name: 'docker', source: 'default' });
  await writeFile(file, JSON.stringify({ bottles: { dev: { backend: 'docker' } }, agents: { demo: { bottle: 'dev' } } }));
  assert.equal(JSON.parse((await bottle(['plan', 'demo', '--manifest', file, '--json'])).stdout).backend, { name: 'docker', source: 'manifest' });
  await writeFile(file, JSON.stringify({ bottles: { dev: { backend: 'nope' } }, agents: { demo: { bottle: 'dev' } } }));
  const m = await bottle(['plan', 'demo', '--manifest', file]);
  assert.is(m.exitCode, 2);
  assert.match(m.stderr, /no backend named "nope" \(from the bottle's "backend" key\)/);
});

test('an unknown command: the same format, the nearest command, exit 2', async () => {
  const r = await bottle(['plann', 'demo']);
  assert.is(r.exitCode, 2);
  assert.is(r.stderr, 'Error: unknown command "plann"\nFix: Did you mean `bottle plan`?\nFix: Run `bottle --help` for the list of commands.');
  const t = await bottle(['plugins', 'lnk', '.']);
  assert.is(t.exitCode, 2);
  assert.match(t.stderr, 'Did you mean `bottle plugins link`?');
});

test.run();
