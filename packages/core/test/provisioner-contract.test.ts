/**
 * The provisioner contract as a plugin meets it: `@bot-bottle/core/provisioner` exports a chosen
 * surface; `ctx.plan` is a deep-frozen view without key paths or secrets; `ctx.hostEnv` holds only
 * what the definition lists and never a route's credential; a definition for another API version is
 * refused naming both versions; and a plugin's own copy of core (its BottleError, its valibot) works
 * with the CLI's, since a plugin depends on core as a regular dependency.
 */
import { readFile } from 'node:fs/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as v from 'valibot';
import * as contract from '../src/provisioner/index.js';
import { BottleError, buildRegistry, defineProvisioner, isBottleError, resolveSteps, runProvisioners, type PlanView, type ProvisionerDefinition } from '../src/index.js';
import { cleanupTempDirs, ENDPOINTS, planFor, RecordingTarget, rejects, runForTest, world } from '../src/testing/index.js';

const test = suite('provisioner contract');
test.after.each(cleanupTempDirs);

/** A provisioner that keeps what it was given. */
function spy(name: string, seen: { name: string; plan: PlanView; hostEnv: Readonly<Record<string, string>> }[], extra: Partial<ProvisionerDefinition<any>> = {}) {
  return defineProvisioner<any>({ apiVersion: 1, name, async apply(ctx) { seen.push({ name, plan: ctx.plan, hostEnv: ctx.hostEnv }); }, ...extra });
}

test('@bot-bottle/core/provisioner exports the contract and nothing else', async () => {
  assert.equal(Object.keys(contract).sort(), [
    'BOTTLE_ERROR_BRAND',
    'BottleError',
    'EXIT_FAILURE',
    'EXIT_INTERRUPTED',
    'EXIT_USAGE',
    'PROVISIONER_API_VERSION',
    'PROVISIONER_HOOK',
    'PROVISIONER_KEYWORD',
    'defineProvisioner',
    'isBottleError',
  ]);
  assert.is(contract.PROVISIONER_HOOK, 'bottle:provisioners');
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
  assert.equal(pkg.exports['./provisioner'], { types: './dist/provisioner/index.d.ts', default: './dist/provisioner/index.js' });
});

test('the plan view: the launch a provisioner needs, without key paths, credentials or the host queue', async () => {
  const w = await world();
  const input = {
    git: [{ Name: 'app', Upstream: 'git@github.com:me/app.git', IdentityFile: '~/.ssh/id_app' }],
    gitUser: { name: 'Dev', email: 'dev@example.com' },
    routes: [{ host: 'api.example.com', methods: ['GET'], auth: { header: 'x-api-key', env: 'EXAMPLE_TOKEN' } }, { host: 'registry.npmjs.org' }],
    supervise: true,
    copyCwd: true,
    userCwd: w.base,
    prompt: 'be brief',
    env: { EXAMPLE_TOKEN: 'tok-value-never-shown' },
  };
  const seen: Parameters<typeof spy>[1] = [];
  const { plan } = await runForTest([spy('look', seen)], { ...input, provisioners: ['look'] }, { world: w, hostEnv: input.env });
  const view = seen[0]!.plan;
  // The control: the whole plan holds each of these; the view holds none.
  const secrets = [plan.egress.caKeyPath, plan.gitGate.upstreams[0]!.identityFile!, 'EXAMPLE_TOKEN', 'tok-value-never-shown', plan.supervise!.queueDir, plan.supervise!.decisionsDir, plan.egress.auditLogPath];
  const whole = JSON.stringify(plan);
  for (const s of secrets.slice(0, 3)) assert.ok(whole.includes(s), `the plan holds ${s}`);
  const shown = JSON.stringify(view);
  for (const s of secrets) assert.not.ok(shown.includes(s), `the view must not hold ${s}`);
  assert.equal(Object.keys(view).sort(), ['agentCli', 'agentName', 'bottleName', 'endpoints', 'gitUser', 'guest', 'host', 'manifestPath', 'position', 'prompt', 'provisioners', 'repos', 'routes', 'skills', 'slug', 'supervise', 'workBack']);
  assert.equal(view.routes, [
    { host: 'api.example.com', methods: ['GET'], injectsCredential: true },
    { host: 'registry.npmjs.org', injectsCredential: false },
  ]);
  assert.equal(view.repos, [{ name: 'app', upstream: 'git@github.com:me/app.git', passwordInUpstream: false, push: true, protect: [] }]);
  assert.equal(view.host, { caCertPath: plan.egress.caCertPath, stageDir: plan.stageDir, promptFile: plan.promptFile, copiedCwd: w.base });
  assert.equal(view.gitUser, { name: 'Dev', email: 'dev@example.com' });
  assert.equal([view.slug, view.agentName, view.bottleName, view.prompt, view.supervise], [plan.slug, 'demo', 'dev', 'be brief', true]);
  assert.equal(view.endpoints, ENDPOINTS);
  assert.equal(view.guest, plan.guest);
});

test('the plan view is deep-frozen, and a change to it cannot reach the plan or the next provisioner', async () => {
  const seen: Parameters<typeof spy>[1] = [];
  const tamper = defineProvisioner({
    apiVersion: 1,
    name: 'tamper',
    async apply(ctx) {
      const attempts: [string, () => void][] = [
        ['slug', () => ((ctx.plan as { slug: string }).slug = 'x')],
        ['guest.user', () => ((ctx.plan.guest as { user: string }).user = 'root')],
        ['routes', () => (ctx.plan.routes as unknown[]).push({ host: 'evil.example' })],
        ['routes[0].host', () => ((ctx.plan.routes[0] as { host: string }).host = 'evil.example')],
        ['skills[0].searched', () => (ctx.plan.skills[0]!.searched as string[]).push('/')],
        ['host.caCertPath', () => ((ctx.plan.host as { caCertPath: string }).caCertPath = '/etc/shadow')],
        ['endpoints', () => ((ctx.plan.endpoints as { proxyUrl: string }).proxyUrl = 'http://evil.example')],
        ['ctx.endpoints', () => ((ctx.endpoints as { superviseUrl: string }).superviseUrl = 'http://evil.example')],
        ['hostEnv', () => ((ctx.hostEnv as Record<string, string>).X = '1')],
      ];
      for (const [what, attempt] of attempts) assert.throws(attempt, TypeError, `${what} is read-only`);
    },
  });
  const { plan } = await runForTest([tamper, spy('after', seen)], { routes: [{ host: 'api.example.com' }], skills: ['s'], provisioners: ['tamper', 'after'] });
  assert.is(seen[0]!.plan.routes[0]!.host, 'api.example.com');
  assert.is(plan.egress.routes.length, 1);
});

test('each provisioner sees the ordered list and its own position in it', async () => {
  const seen: Parameters<typeof spy>[1] = [];
  await runForTest([spy('a', seen), spy('b', seen), spy('c', seen)], { provisioners: ['c', 'a', 'b'] });
  assert.equal(seen.map((s) => [s.name, s.plan.position, s.plan.provisioners]), [
    ['c', 0, ['c', 'a', 'b']],
    ['a', 1, ['c', 'a', 'b']],
    ['b', 2, ['c', 'a', 'b']],
  ]);
});

test('hostEnv: only the variables a definition lists, and never one a route injects as a credential', async () => {
  const seen: Parameters<typeof spy>[1] = [];
  const hostEnv = { LANG: 'C.UTF-8', EXAMPLE_TOKEN: 'tok-value', OTHER: 'x' };
  await runForTest(
    [spy('asks', seen, { hostEnv: ['LANG', 'EXAMPLE_TOKEN', 'UNSET'] }), spy('quiet', seen)],
    { routes: [{ host: 'api.example.com', auth: { header: 'x-api-key', env: 'EXAMPLE_TOKEN' } }], env: { EXAMPLE_TOKEN: 'tok-value' }, provisioners: ['asks', 'quiet'] },
    { hostEnv },
  );
  assert.equal(seen[0]!.hostEnv, { LANG: 'C.UTF-8' }, 'the route credential is withheld even when asked for');
  assert.equal(seen[1]!.hostEnv, {}, 'a definition that lists none gets none');
  // The control: without the route, the same variable is an ordinary one and is handed over.
  const plain: Parameters<typeof spy>[1] = [];
  await runForTest([spy('asks', plain, { hostEnv: ['EXAMPLE_TOKEN'] })], { provisioners: ['asks'] }, { hostEnv });
  assert.equal(plain[0]!.hostEnv, { EXAMPLE_TOKEN: 'tok-value' });
  assert.throws(() => defineProvisioner({ apiVersion: 1, name: 'x', hostEnv: ['NOT A NAME'], apply: async () => {} }), /hostEnv\.0: each hostEnv entry must be the name/);
});

test('what a provisioner returns may not carry a credential the gateway injects into the bottle', async () => {
  const TOKEN = 'tok-0123456789-secret';
  const input = { routes: [{ host: 'api.example.com', auth: { header: 'x-api-key', env: 'EXAMPLE_TOKEN' } }], env: { EXAMPLE_TOKEN: TOKEN } };
  const returning = (result: unknown) => defineProvisioner({ apiVersion: 1, name: 'leaky', apply: async () => result as never });
  const run = (result: unknown) => runForTest([returning(result)], { ...input, provisioners: ['leaky'] }, { hostEnv: { EXAMPLE_TOKEN: TOKEN } });
  // The control: an ordinary result goes through to the agent.
  const fine = await run({ env: { TOOL_URL: 'http://127.0.0.1:9' }, agentArgs: ['--flag'] });
  assert.equal([fine.outcome.env, fine.outcome.agentArgs], [{ TOOL_URL: 'http://127.0.0.1:9' }, ['--flag']]);
  for (const [result, want] of [
    [{ env: { KEY: TOKEN } }, 'env.KEY holds the value of EXAMPLE_TOKEN'],
    [{ env: { AUTH: `Bearer ${TOKEN}` } }, 'env.AUTH holds the value of EXAMPLE_TOKEN'],
    [{ agentArgs: ['--api-key', TOKEN] }, 'agentArgs[1] holds the value of EXAMPLE_TOKEN'],
    [{ env: { EXAMPLE_TOKEN: 'anything' } }, 'env.EXAMPLE_TOKEN would replace the placeholder'],
    [{ env: { 'A B': 'x' } }, 'is not an environment variable name'],
    [{ env: { N: 1 } }, 'env.N must be a string'],
    [{ agentArgs: '--x' }, 'agentArgs must be an array of strings'],
    ['done', 'it returned string'],
  ] as const) {
    const err = await rejects(() => run(result));
    assert.is(err.code, 'PROVISIONER_FAILED');
    assert.match(err.message, 'provisioner "leaky" (test:leaky) returned what the bottle must not get');
    assert.match(err.details.join('\n'), want);
    assert.not.match(err.message + err.details.join('\n'), TOKEN, 'the message never repeats the secret');
  }
});

test('a definition for another API version is refused, naming the plugin, both versions and the fix', async () => {
  const def = (apiVersion: number) => ({ apiVersion, name: 'motd', apply: async () => {} });
  const newer = await rejects(() => buildRegistry([{ plugin: { name: 'bottle-provisioner-motd', version: '3.0.0' }, result: def(2) }], []));
  assert.is(newer.code, 'PROVISIONER_API_VERSION');
  assert.is(newer.message, 'plugin bottle-provisioner-motd@3.0.0 provides the provisioner "motd" for provisioner API version 2, but this bottle CLI speaks version 1');
  assert.match(newer.suggestions[0]!, /^Upgrade the CLI/);
  assert.match(newer.suggestions[1]!, 'bottle plugins uninstall bottle-provisioner-motd');
  const older = await rejects(() => buildRegistry([{ plugin: { name: 'bottle-provisioner-motd', version: '0.0.1' }, result: [def(0)] }], []));
  assert.match(older.message, 'for provisioner API version 0, but this bottle CLI speaks version 1');
  assert.match(older.suggestions[0]!, /^Upgrade the plugin: bottle plugins update/);
  // The control: the same definition at this version registers.
  assert.ok(buildRegistry([{ plugin: { name: 'bottle-provisioner-motd', version: '1.0.0' }, result: def(1) }], []).get('motd'));
});

/** A second instance of core's errors module, as a plugin's own copy of @bot-bottle/core gives it. */
async function otherCopy(): Promise<typeof import('../src/errors.js')> {
  return import(`${new URL('../src/errors.ts', import.meta.url).href}?plugin-copy`);
}

test("a BottleError from a plugin's own copy of core is recognised without instanceof, message and exit kept", async () => {
  const theirs = await otherCopy();
  assert.is.not(theirs.BottleError, BottleError, 'a second module instance');
  const e = new theirs.BottleError('PROVISIONER_FAILED', 'the guest has no /home/node', { exit: theirs.EXIT_USAGE, suggestions: ['Rebuild the image.'], details: ['mkdir: denied'] });
  assert.not.ok(e instanceof BottleError);
  assert.ok(isBottleError(e));
  assert.ok(theirs.isBottleError(new BottleError('USAGE', 'x')), 'and the other way round');
  const boom = defineProvisioner({ apiVersion: 1, name: 'boom', apply: async () => { throw e; } });
  const registry = buildRegistry([{ plugin: { name: 'bottle-provisioner-boom', version: '1.0.0' }, result: boom }], []);
  const plan = await planFor(await world(), { provisioners: ['boom'] });
  const err = await rejects(() => runProvisioners(resolveSteps(plan.provisioners, registry), { plan, target: new RecordingTarget(), endpoints: ENDPOINTS, hostEnv: {} }));
  assert.is(err.code, 'PROVISIONER_FAILED');
  assert.is(err.message, 'provisioner "boom" (bottle-provisioner-boom) failed: the guest has no /home/node');
  assert.equal([err.exit, err.suggestions, err.details], [2, ['Rebuild the image.'], ['mkdir: denied']]);
});

test('an error that only looks like a BottleError is not one, and a plugin cannot make a failed launch exit 0', async () => {
  const theirs = await otherCopy();
  const lookalike = Object.assign(new Error('named like one'), { name: 'BottleError', code: 'USAGE' });
  assert.not.ok(isBottleError(lookalike), 'a name is not the brand');
  const branded = Object.assign(new Error('half made'), { [Symbol.for('bot-bottle.error')]: true, code: 'USAGE' });
  assert.not.ok(isBottleError(branded), 'the brand without the fields the CLI reads');
  for (const [thrown, exit] of [[lookalike, 1], [new theirs.BottleError('PROVISIONER_FAILED', 'zero', { exit: 0 }), 1], [new theirs.BottleError('PROVISIONER_FAILED', 'odd', { exit: 77 }), 1], [new theirs.BottleError('INTERRUPTED', 'int', { exit: 130 }), 130]] as const) {
    const w = await world();
    const plan = await planFor(w, { provisioners: ['throws'] });
    const registry = buildRegistry([{ plugin: { name: 'p', version: '1.0.0' }, result: defineProvisioner({ apiVersion: 1, name: 'throws', apply: async () => { throw thrown; } }) }], []);
    const err = await rejects(() => runProvisioners(resolveSteps(plan.provisioners, registry), { plan, target: new RecordingTarget(), endpoints: ENDPOINTS, hostEnv: {} }));
    assert.is(err.exit, exit, (thrown as Error).message);
  }
});

test("options schemas built with the plugin's own copy of valibot validate in the CLI's runner", async () => {
  const theirV: typeof v = await import(`${import.meta.resolve('valibot')}?plugin-copy`);
  assert.is.not(theirV.strictObject, v.strictObject, 'a second valibot instance');
  const seen: unknown[] = [];
  const motd = defineProvisioner({
    apiVersion: 1,
    name: 'motd',
    options: theirV.strictObject({ text: theirV.optional(theirV.pipe(theirV.string(), theirV.nonEmpty('text must not be empty')), 'hi') }),
    async apply(ctx) { seen.push(ctx.options); },
  });
  await runForTest([motd], { provisioners: ['motd'] });
  await runForTest([motd], { provisioners: [{ name: 'motd', options: { text: 'hello' } }] });
  assert.equal(seen, [{ text: 'hi' }, { text: 'hello' }], 'defaults applied and values kept');
  for (const [options, want] of [[{ text: '' }, 'agents.demo.provisioners[0].options.text: text must not be empty'], [{ txet: 'x' }, 'agents.demo.provisioners[0].options.txet']] as const) {
    const err = await rejects(() => runForTest([motd], { provisioners: [{ name: 'motd', options }] }));
    assert.is(err.code, 'PROVISIONER_OPTIONS');
    assert.match(err.details.join('\n'), want);
  }
});

test.run();
