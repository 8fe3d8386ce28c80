/**
 * @bot-bottle/core/testing's backendChecks, without an engine: what it registers, how its failures
 * read, its child process (runSession attached to the child's stdio, its events, an abort) on a
 * host stand-in backend, and the host upstreams it starts. The checks themselves run against real
 * backends (packages/backend-docker/test/integration/conformance.test.ts).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BottleError, EXIT_INTERRUPTED, isBottleError } from '../src/index.js';
import { backendChecks, cleanupTempDirs, testAgentDouble, planFor, tempDir, world, type BackendUnderTest } from '../src/testing/index.js';
import { startChild, type ChildEvent, type Job } from '../src/testing/backend-checks/jobs.js';
import { loadUnderTest } from '../src/testing/backend-checks/under-test.js';
import { commitOnUpstream, startGitUpstream, startHttpUpstream } from '../src/testing/backend-checks/upstreams.js';
import hostStandIn from './fixtures/host-backend.js';

const run = promisify(execFile);
const test = suite('backend checks');
test.after.each(cleanupTempDirs);

const provisioner = (name: string) => ({ apiVersion: 1 as const, name, apply: async () => undefined });
const BUILT_INS = ['ca', 'git', 'prompt', 'skills', 'supervise'].map(provisioner);

test('registers every check, with unique names, and its clean-up; nothing starts at registration', () => {
  let setups = 0;
  const under: BackendUnderTest = { ...hostStandIn, setup: async () => (setups++, { hostAddress: '127.0.0.1' }) };
  const names: string[] = [];
  const afters: unknown[] = [];
  const fake = Object.assign((name: string) => void names.push(name), { before: () => assert.unreachable('no before hook: uvu reports a failing one as a pass'), after: (fn: unknown) => void afters.push(fn) });
  const checks = backendChecks(under, { provisioners: BUILT_INS, agent: testAgentDouble() });
  checks.register(fake);
  assert.equal(names, checks.checks.map((c) => c.name));
  assert.is(new Set(names).size, names.length);
  assert.ok(names.length >= 20, `${names.length} checks`);
  for (const word of ['stdin', 'terminal', 'keep', 'killed owner', 'SIGKILL', 'abort', 'prompt', 'skills', 'ca:', 'git', 'supervise', 'egress', 'secret canary', 'isolation']) {
    assert.ok(names.some((n) => n.includes(word)), `a check about ${word}`);
  }
  assert.is(afters.length, 1);
  assert.is(setups, 0);
});

test('a check fails readably: built-ins missing; a BottleError from the backend becomes a plain Error with its code, details and fix', async () => {
  const missing = backendChecks(hostStandIn, { provisioners: BUILT_INS.slice(0, 2), agent: testAgentDouble() });
  const err = await missing.checks[0]!.run().then(() => null, (e: Error) => e);
  assert.match(err?.message ?? '', 'missing: prompt, skills, supervise');
  const runDirs: string[] = [];
  let teardowns = 0;
  const broken = backendChecks(
    {
      ...hostStandIn,
      setup: async (r) => {
        runDirs.push(r.dir);
        throw new BottleError('BACKEND_UNAVAILABLE', 'no engine here', { details: ['looked at /run/engine.sock'], suggestions: ['start the engine'] });
      },
      teardown: async () => void teardowns++,
    },
    { provisioners: BUILT_INS, agent: testAgentDouble() },
  );
  for (const check of broken.checks.slice(0, 2)) {
    const e = await check.run().then(() => null, (x: unknown) => x);
    assert.ok(e instanceof Error && !isBottleError(e), `a plain Error: ${String(e)}`);
    assert.is(e.message, 'BACKEND_UNAVAILABLE: no engine here\nlooked at /run/engine.sock\nfix: start the engine');
    assert.ok(isBottleError(e.cause));
  }
  await broken.after();
  assert.is(runDirs.length, 1, 'one setup, whose failure every check reports');
  assert.is(teardowns, 1, 'a setup that failed is torn down');
  assert.not.ok(existsSync(path.dirname(runDirs[0]!)), 'and its folder removed');
});

test('loadUnderTest: a module whose default export is not a BackendUnderTest is refused by name', async () => {
  const dir = await tempDir();
  const file = path.join(dir, 'not-one.mjs');
  await writeFile(file, 'export default { name: "x" };\n');
  const err = await loadUnderTest(file).then(() => null, (e: Error) => e);
  assert.match(err?.message ?? '', /not-one\.mjs must export as its default the BackendUnderTest/);
  assert.is((await loadUnderTest(hostStandIn.module)).name, 'host-stand-in');
});

async function sessionJob(argv: string[], more: Partial<Job> = {}): Promise<Job> {
  const w = await world();
  const plan = await planFor(w, {});
  const planFile = path.join(w.stateHome, 'plan.json');
  await writeFile(planFile, JSON.stringify(plan));
  return { kind: 'session', module: String(hostStandIn.module), planFile, argv, tty: false, keep: false, ...more } as Job;
}

test('the child: bottle run as runSession does it, attached to the child\'s stdio; its phases, its launch, the command\'s exit code', async () => {
  const child = startChild(await sessionJob(['sh', '-c', 'read x; echo "got $x"; echo err >&2; exit 5']), { env: process.env, stdin: 'typed\n' });
  assert.is((await child.exited).code, 5, child.stderr());
  assert.is(child.stdout(), 'got typed\n');
  assert.is(child.stderr(), 'err\n');
  const phases = child.events.flatMap((e) => (e.t === 'phase' ? [e.phase] : []));
  assert.equal([...new Set(phases)], ['stand-in', 'provision', 'agent', 'ready']);
  assert.ok(child.events.some((e) => e.t === 'launched' && e.slug.startsWith('demo-')));
  assert.equal(child.events.at(-1), { t: 'done', code: 5 });
});

test('the child: an abort at a phase before ready stops the session, interrupted (130), and the command never runs', async () => {
  const child = startChild(await sessionJob(['sh', '-c', 'echo ran'], { abortAt: 'stand-in' } as Partial<Job>), { env: process.env });
  await child.until((e) => e.t === 'aborted', 'the abort');
  assert.is((await child.exited).code, EXIT_INTERRUPTED);
  assert.is(child.stdout(), '');
  const error = child.events.find((e): e is Extract<ChildEvent, { t: 'error' }> => e.t === 'error');
  assert.is(error?.code, 'INTERRUPTED');
  const never = await child.until((e) => e.t === 'phase' && e.phase === 'ready', 'ready').then(() => 'seen', (e: Error) => e.message);
  assert.match(never, 'the child exited (code 130) before ready');
});

test('the host upstreams: the HTTP one answers and remembers; the git daemon serves fetch and push', async () => {
  const up = await startHttpUpstream();
  try {
    const body = await new Promise<string>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: up.port, path: '/x?y=1', headers: { authorization: 'Bearer t' } }, (r) => {
        let t = '';
        r.on('data', (d) => (t += d));
        r.on('end', () => resolve(t));
      }).on('error', reject);
    });
    assert.is(body, 'checks upstream GET /x?y=1\n');
    assert.equal(up.requests().map((q) => [q.method, q.url, q.headers.authorization]), [['GET', '/x?y=1', 'Bearer t']]);
  } finally {
    await up.close();
  }
  const dir = await tempDir();
  const git = await startGitUpstream(dir, ['app']);
  try {
    const before = await git.git('app', 'rev-parse', 'main');
    assert.match((await run('git', ['ls-remote', git.url('127.0.0.1', 'app')])).stdout, `${before}\trefs/heads/main`);
    const id = await commitOnUpstream(git, dir, 'app', 'pushed.txt');
    // commitOnUpstream pushes to the folder; a push over git:// goes through the daemon.
    const clone = path.join(dir, 'clone');
    await run('git', ['clone', '-q', git.url('127.0.0.1', 'app'), clone]);
    await writeFile(path.join(clone, 'over-daemon.txt'), 'x\n');
    await run('git', ['-C', clone, 'add', '.']);
    await run('git', ['-C', clone, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'over the daemon']);
    await run('git', ['-C', clone, 'push', '-q', 'origin', 'HEAD:main']);
    assert.is(await git.git('app', 'log', '-1', '--format=%s', 'main'), 'over the daemon');
    assert.is(await git.git('app', 'rev-parse', 'main~1'), id);
  } finally {
    await git.close();
  }
});

test.run();
