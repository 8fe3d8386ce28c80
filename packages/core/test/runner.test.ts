import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as v from 'valibot';
import {
  BottleError,
  EXIT_INTERRUPTED,
  EXIT_USAGE,
  buildRegistry,
  defineProvisioner,
  makePlan,
  parseManifestText,
  resolveSteps,
  runProvisioners,
  type AgentEndpoints,
  type BottlePlan,
  type ProvisionContext,
  type ProvisionResult,
  type ProvisionerDefinition,
  type ProvisionerRegistry,
  type ProvisionerStep,
} from '../src/index.js';
import { RecordingTarget } from '../src/testing/index.js';
import { cleanupTempDirs, rejects, tempDir } from './helpers.js';

const ENDPOINTS: AgentEndpoints = { proxyUrl: 'http://10.1.0.2:3128', gitGateHost: '10.1.0.2:9418', superviseUrl: 'http://10.1.0.2:9100/mcp' };

/** A provisioner that does its work through the target (so order shows in the target's calls). */
function step(name: string, extra: Partial<ProvisionerDefinition<any>> = {}, result?: ProvisionResult | ((ctx: ProvisionContext<any>) => Promise<ProvisionResult | void>)): ProvisionerDefinition<any> {
  return defineProvisioner<any>({
    apiVersion: 1,
    name,
    async apply(ctx) {
      await ctx.target.exec(['echo', name], { user: 'node', env: { STEP: name } });
      if (typeof result === 'function') return result(ctx);
      return result;
    },
    ...extra,
  });
}

function registryOf(...defs: ProvisionerDefinition<any>[]): ProvisionerRegistry {
  return buildRegistry(defs.map((d, i) => ({ plugin: { name: `@test/provisioner-${d.name}`, version: `1.0.${i}` }, result: d })), []);
}

const steps = (...names: (string | ProvisionerStep)[]): ProvisionerStep[] => names.map((n) => (typeof n === 'string' ? { name: n, options: {} } : n));

interface World {
  plan: BottlePlan;
  dir: string;
}

const test = suite<World>('runner');
test.before(async (ctx) => {
  const dir = await tempDir('bottle-runner-');
  const loaded = await parseManifestText('{"bottles": {"dev": {}}, "agents": {"demo": {"bottle": "dev", "prompt": "hi"}}}', '<inline>', dir, dir);
  ctx.plan = makePlan({ manifest: loaded, agentName: 'demo', copyCwd: false, userCwd: dir }, { env: {}, home: dir, seed: 'runner' });
  ctx.dir = dir;
});
test.after(cleanupTempDirs);

const run = (w: World, resolved: ReturnType<typeof resolveSteps>, target = new RecordingTarget(), extra: Partial<Parameters<typeof runProvisioners>[1]> = {}) =>
  runProvisioners(resolved, { plan: w.plan, target, endpoints: ENDPOINTS, hostEnv: {}, ...extra });

test('provisioners run one at a time in the declared order, not the registry order', async (w) => {
  const reg = registryOf(step('a'), step('b'), step('c'), step('d'));
  for (const order of [['a', 'b', 'c', 'd'], ['d', 'c', 'b', 'a'], ['c', 'a'], []]) {
    const target = new RecordingTarget();
    const seen: string[] = [];
    const outcome = await run(w, resolveSteps(steps(...order), reg), target, { onStep: (name, i, total) => seen.push(`${name} ${i + 1}/${total}`) });
    assert.equal(target.execs.map((c) => c.argv[1]), order);
    assert.equal(outcome.applied, order);
    assert.equal(seen, order.map((n, i) => `${n} ${i + 1}/${order.length}`));
  }
});

test('a step starts only after the previous one finished', async (w) => {
  const events: string[] = [];
  const slow = (name: string) =>
    step(name, {}, async () => {
      events.push(`${name} start`);
      await new Promise((r) => setTimeout(r, 15));
      events.push(`${name} end`);
    });
  await run(w, resolveSteps(steps('x', 'y'), registryOf(slow('x'), slow('y'))));
  assert.equal(events, ['x start', 'x end', 'y start', 'y end']);
});

test('each provisioner gets its plan view, target, endpoints, options, the host env it lists and signal', async (w) => {
  let got: ProvisionContext<any> | undefined;
  const reg = registryOf(step('look', { options: v.strictObject({ level: v.optional(v.number(), 1) }), hostEnv: ['HOST_ONLY', 'UNSET'] }, async (ctx) => void (got = ctx)));
  const target = new RecordingTarget();
  const logs: string[] = [];
  const controller = new AbortController();
  await run(w, resolveSteps(steps('look'), reg), target, {
    hostEnv: { HOST_ONLY: 'x', NOT_LISTED: 'y' },
    signal: controller.signal,
    log: (n, m) => logs.push(`log ${n}: ${m}`),
    warn: (n, m) => logs.push(`warn ${n}: ${m}`),
  });
  assert.ok(got);
  assert.is(got.plan.slug, w.plan.slug);
  assert.equal(got.plan.guest, w.plan.guest);
  assert.equal([got.plan.provisioners, got.plan.position], [['look'], 0]);
  assert.ok(Object.isFrozen(got.plan) && Object.isFrozen(got.plan.guest), 'the view is frozen');
  assert.is(got.target, target);
  assert.equal(got.endpoints, ENDPOINTS);
  assert.equal(got.options, { level: 1 }, 'options come out of the schema with defaults applied');
  assert.equal(got.hostEnv, { HOST_ONLY: 'x' }, 'only the variables the definition lists, when set');
  assert.is(got.signal, controller.signal);
  got.log('hello');
  got.warn('careful');
  assert.equal(logs, ['log look: hello', 'warn look: careful']);
});

test('after satisfied: the run proceeds', async (w) => {
  const reg = registryOf(step('ca'), step('git', { after: ['ca'] }), step('skills', { after: ['ca', 'git'] }));
  const outcome = await run(w, resolveSteps(steps('ca', 'git', 'skills'), reg));
  assert.equal(outcome.applied, ['ca', 'git', 'skills']);
});

test('after violated: the dependency comes later', async () => {
  const reg = registryOf(step('ca'), step('git', { after: ['ca'] }), step('prompt'));
  const err = await rejects(() => resolveSteps(steps('prompt', 'git', 'ca'), reg, 'agents.demo.provisioners'));
  assert.is(err.code, 'PROVISIONER_ORDER');
  assert.is(err.exit, EXIT_USAGE);
  assert.is(err.message, 'agents.demo.provisioners[1]: provisioner "git" must run after "ca", but "ca" comes later (at agents.demo.provisioners[2])');
  assert.equal(err.suggestions, ['List "ca" before "git" in agents.demo.provisioners: ["prompt", "ca", "git"]']);
});

test('after violated: the dependency is missing', async () => {
  const reg = registryOf(step('ca'), step('git', { after: ['ca'] }), step('prompt'));
  const err = await rejects(() => resolveSteps(steps('prompt', 'git'), reg));
  assert.is(err.code, 'PROVISIONER_ORDER');
  assert.is(err.exit, EXIT_USAGE);
  assert.is(err.message, 'provisioners[1]: provisioner "git" must run after "ca", but "ca" is not in the list');
  assert.equal(err.suggestions, ['List "ca" before "git" in provisioners: ["prompt", "ca", "git"]']);
});

test('a provisioner may not come after itself', () => {
  assert.throws(() => step('loop', { after: ['loop'] }), /after must not name the provisioner itself/);
});

test('checks happen before anything runs', async (w) => {
  const reg = registryOf(step('a'), step('b', { after: ['c'] }), step('c'));
  const target = new RecordingTarget();
  await rejects(async () => run(w, resolveSteps(steps('a', 'b', 'c'), reg), target));
  assert.equal(target.calls, []);
});

test('an unknown name lists the installed ones', async () => {
  const reg = registryOf(step('skills'), step('ca'), step('git'));
  const err = await rejects(() => resolveSteps(steps('ca', 'gti'), reg, 'agents.demo.provisioners'));
  assert.is(err.code, 'PROVISIONER_UNKNOWN');
  assert.is(err.exit, EXIT_USAGE);
  assert.is(err.message, 'agents.demo.provisioners[1]: no installed provisioner is named "gti"');
  assert.equal(err.details, ['installed: ca, git, skills']);
  assert.match(err.suggestions.join('\n'), /bottle plugins install/);
  const none = await rejects(() => resolveSteps(steps('ca'), registryOf()));
  assert.equal(none.details, ['installed: (none)']);
});

test('options are validated by the definition schema, problems named by path', async () => {
  const schema = v.strictObject({ mode: v.picklist(['append', 'replace']), files: v.optional(v.array(v.string())), 'odd key': v.optional(v.string()) });
  const reg = registryOf(step('prompt', { options: schema }));
  const err = await rejects(() =>
    resolveSteps(steps({ name: 'prompt', options: { mode: 'merge', files: ['a', 2], 'odd key': 3, extra: true } }), reg, 'agents.demo.provisioners'),
  );
  assert.is(err.code, 'PROVISIONER_OPTIONS');
  assert.is(err.exit, EXIT_USAGE);
  assert.is(err.message, 'agents.demo.provisioners[0].options: invalid options for provisioner "prompt"');
  assert.is(err.details.length, 4, err.details.join('\n'));
  assert.match(err.details[0]!, /^agents\.demo\.provisioners\[0\]\.options\.mode: /);
  assert.ok(err.details.some((d) => d.startsWith('agents.demo.provisioners[0].options.files[1]: ')), err.details.join('\n'));
  assert.ok(err.details.some((d) => d.startsWith('agents.demo.provisioners[0].options["odd key"]: ')), err.details.join('\n'));
  assert.ok(err.details.some((d) => d.startsWith('agents.demo.provisioners[0].options.extra: ')), err.details.join('\n'));
  assert.match(err.suggestions.join('\n'), /@test\/provisioner-prompt/);
  const ok = resolveSteps(steps({ name: 'prompt', options: { mode: 'append' } }), reg);
  assert.equal(ok[0]!.options, { mode: 'append' });
  assert.is(ok[0]!.packageName, '@test/provisioner-prompt');
});

test('a schema with required options refuses a bare name', async () => {
  const reg = registryOf(step('needs', { options: v.strictObject({ url: v.string() }) }));
  const err = await rejects(() => resolveSteps(steps('needs'), reg));
  assert.is(err.code, 'PROVISIONER_OPTIONS');
  assert.match(err.details[0]!, /^provisioners\[0\]\.options\.url: /);
});

test('options given to a provisioner without a schema are refused', async () => {
  const reg = registryOf(step('ca'));
  const err = await rejects(() => resolveSteps(steps({ name: 'ca', options: { x: 1 } }), reg));
  assert.is(err.code, 'PROVISIONER_OPTIONS');
  assert.is(err.exit, EXIT_USAGE);
  assert.is(err.message, 'provisioners[0].options: provisioner "ca" takes no options');
  assert.equal(err.suggestions, ['Remove "options" from provisioners[0].']);
  assert.equal(resolveSteps(steps({ name: 'ca', options: {} }), reg)[0]!.options, {}, 'empty options are no options');
});

test('the first failure stops the run, names the provisioner and the cause; later ones do not run', async (w) => {
  const reg = registryOf(
    step('one', {}, { env: { ONE: '1' } }),
    step('two', {}, async () => {
      throw new Error('cert missing at /x/ca.crt');
    }),
    step('three'),
  );
  const target = new RecordingTarget();
  const err = await rejects(() => run(w, resolveSteps(steps('one', 'two', 'three'), reg), target));
  assert.is(err.code, 'PROVISIONER_FAILED');
  assert.is(err.exit, 1);
  assert.is(err.message, 'provisioner "two" (@test/provisioner-two) failed: cert missing at /x/ca.crt');
  assert.instance(err.cause, Error);
  assert.equal(target.execs.map((c) => c.argv[1]), ['one', 'two']);
});

test('a BottleError from a provisioner keeps its details, fixes and exit code', async (w) => {
  const reg = registryOf(
    step('skills', {}, async () => {
      throw new BottleError('PROVISIONER_FAILED', 'skill "x" has no folder', { details: ['looked in /a/x', 'looked in /b/x'], suggestions: ['Create skills/x'], exit: EXIT_USAGE });
    }),
  );
  const err = await rejects(() => run(w, resolveSteps(steps('skills'), reg)));
  assert.is(err.message, 'provisioner "skills" (@test/provisioner-skills) failed: skill "x" has no folder');
  assert.equal(err.details, ['looked in /a/x', 'looked in /b/x']);
  assert.equal(err.suggestions, ['Create skills/x']);
  assert.is(err.exit, EXIT_USAGE);
});

test('a thrown non-Error is still reported', async (w) => {
  const reg = registryOf(
    step('odd', {}, async () => {
      throw 'plain string';
    }),
  );
  const err = await rejects(() => run(w, resolveSteps(steps('odd'), reg)));
  assert.is(err.message, 'provisioner "odd" (@test/provisioner-odd) failed: plain string');
});

test('a failing exec in the target surfaces as the provisioner failure', async (w) => {
  const reg = registryOf(
    step('ca', {}, async (ctx) => {
      const r = await ctx.target.exec(['update-ca-certificates']);
      if (!r.stdout.includes('1 added')) throw new Error(`update-ca-certificates did not add the CA: ${r.stderr}`);
    }),
  );
  const target = new RecordingTarget();
  target.respond = (argv) => (argv[0] === 'update-ca-certificates' ? { exitCode: 1, stdout: '0 added', stderr: 'no such file' } : { exitCode: 0, stdout: '', stderr: '' });
  const err = await rejects(() => run(w, resolveSteps(steps('ca'), reg), target));
  assert.is(err.message, 'provisioner "ca" (@test/provisioner-ca) failed: update-ca-certificates did not add the CA: no such file');
});

test("results' env and agentArgs are merged in order", async (w) => {
  const reg = registryOf(
    step('a', {}, { env: { A: '1', SHARED: 'from a' }, agentArgs: ['--one'] }),
    step('b'),
    step('c', {}, { env: { C: '3', SHARED: 'from c' }, agentArgs: ['--two', 'x'] }),
    step('d', {}, {}),
  );
  const outcome = await run(w, resolveSteps(steps('a', 'b', 'c', 'd'), reg));
  assert.equal(outcome, { env: { A: '1', SHARED: 'from c', C: '3' }, agentArgs: ['--one', '--two', 'x'], instructions: [], mcpServers: [], applied: ['a', 'b', 'c', 'd'] });
});

test("results' instructions and MCP servers are gathered in order; a second server of one name, or a bad one, is refused", async (w) => {
  const reg = registryOf(
    step('a', {}, { instructions: '/home/node/a.md', mcpServers: [{ name: 'one', url: 'http://127.0.0.1:1/mcp' }] }),
    step('b', {}, { instructions: '/home/node/b.md', mcpServers: [{ name: 'two', url: 'http://127.0.0.1:2/mcp' }] }),
  );
  const outcome = await run(w, resolveSteps(steps('a', 'b'), reg));
  assert.equal(outcome.instructions, ['/home/node/a.md', '/home/node/b.md']);
  assert.equal(outcome.mcpServers, [{ name: 'one', url: 'http://127.0.0.1:1/mcp' }, { name: 'two', url: 'http://127.0.0.1:2/mcp' }]);
  const twice = registryOf(step('a', {}, { mcpServers: [{ name: 'one', url: 'http://127.0.0.1:1/mcp' }] }), step('b', {}, { mcpServers: [{ name: 'one', url: 'http://127.0.0.1:2/mcp' }] }));
  assert.match((await rejects(() => run(w, resolveSteps(steps('a', 'b'), twice)))).message, /adds an MCP server named "one", which an earlier provisioner added/);
  const bad = registryOf(step('a', {}, { instructions: 'relative.md', mcpServers: [{ name: 'x', url: 'file:///etc/passwd' }] }));
  const err = await rejects(() => run(w, resolveSteps(steps('a'), bad)));
  assert.equal([...err.details], ['instructions must be an absolute guest path', 'mcpServers[0].url must be an http(s) URL']);
});

test('an abort stops the run between steps', async (w) => {
  const controller = new AbortController();
  const reg = registryOf(step('a'), step('b', {}, async () => void controller.abort()), step('c'));
  const target = new RecordingTarget();
  const err = await rejects(() => run(w, resolveSteps(steps('a', 'b', 'c'), reg), target, { signal: controller.signal }));
  assert.is(err.code, 'INTERRUPTED');
  assert.is(err.exit, EXIT_INTERRUPTED);
  assert.is(err.message, 'interrupted before provisioner "c"');
  assert.equal(target.execs.map((c) => c.argv[1]), ['a', 'b']);
});

test('an abort before the run starts runs nothing', async (w) => {
  const controller = new AbortController();
  controller.abort();
  const target = new RecordingTarget();
  const err = await rejects(() => run(w, resolveSteps(steps('a'), registryOf(step('a'))), target, { signal: controller.signal }));
  assert.is(err.code, 'INTERRUPTED');
  assert.equal(target.calls, []);
});

test('a step that fails because of the abort is an interruption, not a failure', async (w) => {
  const controller = new AbortController();
  const reg = registryOf(
    step('waits', {}, async (ctx) => {
      await new Promise((_, reject) => {
        ctx.signal.addEventListener('abort', () => reject(new Error('exec cancelled')), { once: true });
        setTimeout(() => controller.abort(), 5);
      });
    }),
    step('never'),
  );
  const target = new RecordingTarget();
  const err = await rejects(() => run(w, resolveSteps(steps('waits', 'never'), reg), target, { signal: controller.signal }));
  assert.is(err.code, 'INTERRUPTED');
  assert.is(err.exit, EXIT_INTERRUPTED);
  assert.is(err.message, 'interrupted during provisioner "waits"');
  assert.equal(target.execs.map((c) => c.argv[1]), ['waits']);
});

test('RecordingTarget records execs and copies of real files and folders', async (w) => {
  const file = path.join(w.dir, 'prompt.txt');
  await writeFile(file, 'the prompt');
  const folder = path.join(w.dir, 'skill');
  await mkdir(folder, { recursive: true });
  const reg = registryOf(
    step('copy', {}, async (ctx) => {
      await ctx.target.copyIn(file, '/home/node/.claude-bottle-prompt.txt');
      await ctx.target.copyIn(folder, '/home/node/.claude/skills/skill');
    }),
  );
  const target = new RecordingTarget();
  await run(w, resolveSteps(steps('copy'), reg), target);
  assert.equal(target.calls, [
    { kind: 'exec', argv: ['echo', 'copy'], options: { user: 'node', env: { STEP: 'copy' } } },
    { kind: 'copyIn', hostPath: file, guestPath: '/home/node/.claude-bottle-prompt.txt', isDirectory: false, content: 'the prompt' },
    { kind: 'copyIn', hostPath: folder, guestPath: '/home/node/.claude/skills/skill', isDirectory: true },
  ]);
  let code: string | undefined;
  try {
    await new RecordingTarget().copyIn(path.join(w.dir, 'nope'), '/x');
  } catch (e) {
    code = (e as NodeJS.ErrnoException).code;
  }
  assert.is(code, 'ENOENT', 'copying a missing host path fails like a real copy');
});

test.run();
