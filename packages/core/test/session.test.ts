/**
 * runSession against a test double of the Backend contract (legitimate here: it tests the
 * orchestration — order, clean-up, keep — not a backend; the docker backend has its own real tests).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  AGENT_STATE_COMMAND,
  defineProvisioner,
  makePlan,
  recordedAgentCommand,
  sessionCommand,
  resolveSteps,
  runSession,
  validateManifest,
  type Backend,
  type BottlePlan,
  type LaunchedBottle,
  type ProvisionerRegistry,
} from '../src/index.js';
import { RecordingTarget, testAgentDouble } from '../src/testing/index.js';
import { cleanupTempDirs, rejects, tempDir } from './helpers.js';

const test = suite('session');

interface Events { log: string[] }

function fakeBackend(ev: Events, opts: { attachCode?: number; failLaunch?: boolean } = {}): Backend & { target: RecordingTarget } {
  const target = new RecordingTarget();
  return {
    name: 'fake',
    target,
    async doctor() { return []; },
    async launch(plan: BottlePlan, o: { keep?: boolean }): Promise<LaunchedBottle> {
      ev.log.push(`launch keep=${o.keep ?? false}`);
      if (opts.failLaunch) throw new Error('engine on fire');
      return {
        slug: plan.slug,
        target,
        endpoints: { proxyUrl: 'http://127.0.0.1:3128', gitGateHost: '127.0.0.1:9418', superviseUrl: 'http://127.0.0.1:9100/mcp' },
        ready: Promise.resolve(),
        async attach(argv, a) { ev.log.push(`attach ${argv.join(' ')} env=${JSON.stringify(a.env ?? {})}`); return opts.attachCode ?? 0; },
        async destroy() { ev.log.push('destroy'); },
      };
    },
    async list() { return []; },
    async exec() { return 0; },
    async stop() {},
    async gc() { return { removed: [], kept: [] }; },
  };
}

function registry(ev: Events, failing?: string): ProvisionerRegistry {
  const mk = (name: string) => defineProvisioner({
    apiVersion: 1,
    name,
    async apply(ctx) {
      ev.log.push(`provision ${name}`);
      ctx.log(`${name} says hello`);
      if (name === failing) throw new Error(`${name} broke`);
      await ctx.target.exec(['true']);
      return name === 'b' ? { env: { FROM_B: '1' }, agentArgs: ['--flag-from-b'] } : undefined;
    },
  });
  return new Map(['a', 'b'].map((n) => [n, { definition: mk(n), packageName: `pkg-${n}`, packageVersion: '1.0.0', builtIn: false }]));
}

async function plan(env: NodeJS.ProcessEnv = {}, routes: object[] = []): Promise<BottlePlan> {
  const dir = await tempDir();
  const m = await validateManifest({ bottles: { dev: { egress: { routes } } }, agents: { demo: { bottle: 'dev', provisioners: ['a', 'b'] } } }, '<t>', dir);
  return makePlan({ manifest: m, agentName: 'demo', copyCwd: false, userCwd: dir }, { env: { XDG_STATE_HOME: dir, ...env }, seed: 's' });
}

const base = (ev: Events, p: BottlePlan, reg: ProvisionerRegistry, backend: Backend, extra: Partial<Parameters<typeof runSession>[0]> = {}) => ({
  plan: p,
  backend,
  steps: resolveSteps(p.provisioners, reg),
  agent: testAgentDouble(),
  argv: [] as string[],
  tty: false,
  keep: false,
  progress: (phase: string) => ev.log.push(`phase ${phase}`),
  warn: (m: string) => ev.log.push(`warn ${m}`),
  signal: new AbortController().signal,
  ...extra,
});

test.after.each(cleanupTempDirs);

test('launch, provision in order, attach the agent with what provisioners added, destroy', async () => {
  const ev: Events = { log: [] };
  const p = await plan();
  const code = await runSession(base(ev, p, registry(ev), fakeBackend(ev, { attachCode: 7 })));
  assert.is(code, 7, 'the command exit code comes back');
  const order = ev.log.filter((l) => !l.startsWith('phase'));
  assert.equal(order, ['launch keep=false', 'provision a', 'provision b', 'attach claude --flag-from-b env={"FROM_B":"1"}', 'destroy']);
});

test('a given command replaces the agent command', async () => {
  const ev: Events = { log: [] };
  await runSession(base(ev, await plan(), registry(ev), fakeBackend(ev), { argv: ['echo', 'hi'] }));
  assert.ok(ev.log.some((l) => l.startsWith('attach echo hi ')));
});

test("provisioners' ctx.log lines reach the session's log, named by provisioner; without one they are dropped", async () => {
  const ev: Events = { log: [] };
  const lines: string[] = [];
  await runSession(base(ev, await plan(), registry(ev), fakeBackend(ev), { log: (m: string) => lines.push(m) }));
  assert.equal(lines, ['a: a says hello', 'b: b says hello']);
  const quiet: Events = { log: [] };
  await runSession(base(quiet, await plan(), registry(quiet), fakeBackend(quiet)));
  assert.not.ok(quiet.log.some((l) => l.includes('says hello')), 'not turned into a warning or a phase');
});

test('keep leaves the bottle for `bottle stop`', async () => {
  const ev: Events = { log: [] };
  await runSession(base(ev, await plan(), registry(ev), fakeBackend(ev), { keep: true }));
  assert.ok(ev.log.includes('launch keep=true'));
  assert.not.ok(ev.log.includes('destroy'));
});

test("a kept bottle's agent: on a terminal in a detachable session (a detach is told, the run ends 0), else with its pid and exit code recorded; not kept, as it is", async () => {
  const cases: [string, Partial<Parameters<typeof runSession>[0]>, string[]][] = [
    ['kept, terminal', { keep: true, tty: true }, sessionCommand(['claude', '--flag-from-b'])],
    ['kept, no terminal', { keep: true, tty: false }, recordedAgentCommand(['claude', '--flag-from-b'])],
    ['kept, headless on a terminal', { keep: true, tty: true, headlessPrompt: 'hi' }, recordedAgentCommand(['claude', '-p', 'hi', '--flag-from-b'])],
    ['not kept, terminal', { keep: false, tty: true }, ['claude', '--flag-from-b']],
    ['kept, a command', { keep: true, tty: true, argv: ['echo', 'hi'] }, ['echo', 'hi']],
  ];
  for (const [what, extra, argv] of cases) {
    const ev: Events = { log: [] };
    const backend = fakeBackend(ev);
    await runSession(base(ev, await plan(), registry(ev), backend, extra));
    const attach = ev.log.find((l) => l.startsWith('attach '))!;
    assert.is(attach.slice('attach '.length, attach.indexOf(' env=')), argv.join(' '), what);
  }
  for (const [stateCode, detached] of [[0, true], [1, true], [2, false]] as const) {
    const ev: Events = { log: [] };
    const backend = fakeBackend(ev);
    backend.target.respond = (argv) => ({ exitCode: argv.join(' ') === AGENT_STATE_COMMAND.join(' ') ? stateCode : 0, stdout: '', stderr: '' });
    const told: string[] = [];
    const p = await plan();
    await runSession(base(ev, p, registry(ev), backend, { keep: true, tty: true, onDetach: (slug: string) => told.push(slug) }));
    assert.equal(told, detached ? [p.slug] : [], `state exit ${stateCode}`);
    assert.is(backend.target.execs.find((c) => c.argv === AGENT_STATE_COMMAND || c.argv.join(' ') === AGENT_STATE_COMMAND.join(' '))?.options.user, 'node', 'asked as the agent user');
  }
});

test('a failing provisioner stops the run, names itself, and the bottle is destroyed even with keep', async () => {
  const ev: Events = { log: [] };
  const p = await plan();
  const err = await rejects(() => runSession(base(ev, p, registry(ev, 'a'), fakeBackend(ev), { keep: true })));
  assert.is(err.code, 'PROVISIONER_FAILED');
  assert.match(err.message, /"a"/);
  assert.not.ok(ev.log.includes('provision b'));
  assert.not.ok(ev.log.some((l) => l.startsWith('attach')));
  assert.is(ev.log.at(-1), 'destroy');
});

test('launch problems refuse before anything starts', async () => {
  const ev: Events = { log: [] };
  const p = await plan({}, [{ host: 'api.example.com', auth: { header: 'x-api-key', env: 'BB_TEST_UNSET_KEY' } }]);
  const err = await rejects(() => runSession(base(ev, p, registry(ev), fakeBackend(ev))));
  assert.is(err.code, 'LAUNCH_ENV_MISSING');
  assert.is(err.exit, 2);
  assert.match(err.details.join('\n'), /BB_TEST_UNSET_KEY/);
  assert.equal(ev.log, []);
});

test('an abort after provisioning does not run the command and cleans up', async () => {
  const ev: Events = { log: [] };
  const ac = new AbortController();
  const reg = registry(ev);
  const p = await plan();
  const backend = fakeBackend(ev);
  const origLaunch = backend.launch.bind(backend);
  backend.launch = async (pl, o) => { const b = await origLaunch(pl, o); ac.abort(); return b; };
  const err = await rejects(() => runSession(base(ev, p, reg, backend, { signal: ac.signal })));
  assert.is(err.code, 'INTERRUPTED');
  assert.not.ok(ev.log.some((l) => l.startsWith('attach')));
  assert.is(ev.log.at(-1), 'destroy');
});

test.run();
