/**
 * Package registries without opening the internet, in a real bottle: the npm preset, pointed with
 * `to` at the test upstream (which answers as an npm registry), lets the real npm CLI install as
 * the agent user with no configuration of its own (the proxy and CA are the bottle's environment);
 * a publish (PUT) is refused with its audit line; a registry host outside the preset is refused.
 * Then setup commands through runSession: in order, as the agent user in the workspace, through
 * the gateway; a failing one stops the launch with its output and leaves nothing behind.
 */
import claude from '@bot-bottle/agent-claude';
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isBottleError, makePlan, runSession, validateManifest } from '@bot-bottle/core';
import caProvisioner from '@bot-bottle/provisioner-ca';
import { DockerBackend } from '@bot-bottle/backend-docker';
import { RUN_ID, RUN_LABEL_KEY, TEST_LABEL_KEY, auditEntry, docker, inBottle, launchBottle, startWorld, type TestBottle, type World } from './helpers.js';

const test = suite('egress presets and setup commands in a real bottle');
const ctx: { world?: World; b?: TestBottle } = {};

/** A package tarball as npm packs one: package/package.json and package/index.js, gzipped. */
async function packTarball(world: World, name: string): Promise<void> {
  const work = path.join(world.dir, 'pack', name, 'package');
  await mkdir(work, { recursive: true });
  await writeFile(path.join(work, 'package.json'), JSON.stringify({ name, version: '1.0.0', main: 'index.js' }));
  await writeFile(path.join(work, 'index.js'), `module.exports = 'hello from ${name}';\n`);
  const out = path.join(world.dir, 'srv', 'npm');
  await mkdir(out, { recursive: true });
  execFileSync('tar', ['-czf', path.join(out, `${name}-1.0.0.tgz`), '-C', path.dirname(work), 'package']);
}

const manifest = (world: World, extra: object = {}) => ({
  bottles: { dev: { egress: { presets: [{ name: 'npm', to: world.upstream.url }] }, ...extra } },
  agents: { demo: { bottle: 'dev', provisioners: [] } },
});

test.before(async () => {
  ctx.world = await startWorld();
  await packTarball(ctx.world, 'bbtest-pkg');
  ctx.b = await launchBottle(ctx.world, manifest(ctx.world), {});
});

test.after(async () => {
  await ctx.b?.bottle.destroy().catch(() => undefined);
  await ctx.world?.cleanup();
});

test('npm preset: the real npm installs from the registry (its stand-in) through the gateway, with no npm configuration', async () => {
  const b = ctx.b!;
  const r = await inBottle(b, 'cd /home/node/workspace && npm install --no-audit --no-fund --loglevel=error bbtest-pkg && node -e "console.log(require(\'bbtest-pkg\'))"', 180_000);
  assert.is(r.exitCode, 0, `npm install failed:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, 'hello from bbtest-pkg');
  const tarball = await auditEntry(b, (e) => e.path === '/bbtest-pkg/-/bbtest-pkg-1.0.0.tgz');
  assert.equal([tarball.decision, tarball.host, tarball.method, tarball.status], ['allow', 'registry.npmjs.org', 'GET', 200]);
});

test('npm preset: a publish (PUT) is refused with its audit line, and never reaches the registry', async () => {
  const b = ctx.b!;
  const r = await inBottle(b, `cd /tmp && curl -sS -o /dev/null -w '%{http_code}' -X PUT -H 'content-type: application/json' --data '{"name":"bbtest-pkg"}' https://registry.npmjs.org/bbtest-pkg`);
  assert.is(r.stdout, '403', r.stderr);
  const e = await auditEntry(b, (x) => x.method === 'PUT' && x.path === '/bbtest-pkg');
  assert.is(e.decision, 'deny');
  assert.match(e.reason ?? '', /allows methods GET, HEAD only/);
  const seen = await ctx.world!.upstream.requests();
  assert.not.ok(seen.some((q) => q.method === 'PUT'), 'the registry saw no PUT');
  assert.ok(seen.some((q) => q.method === 'GET' && q.url === '/bbtest-pkg'), 'control: the registry saw the install');
});

test('npm preset: a registry host outside the preset is refused before anything is resolved', async () => {
  const b = ctx.b!;
  for (const host of ['pypi.org', 'registry.yarnpkg.com']) {
    const r = await inBottle(b, `curl -sS -o /dev/null -w '%{http_code}' https://${host}/ 2>&1; echo " exit=$?"`);
    assert.match(r.stdout, /exit=(56|35)|^000/, `${host}: ${r.stdout}`);
    const e = await auditEntry(b, (x) => x.method === 'CONNECT' && x.host === host);
    assert.is(e.decision, 'deny');
  }
});

/** Launches with runSession, as `bottle run` does: provisioning (the ca), setup, then `argv`. */
async function session(world: World, setup: string[], argv: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_STATE_HOME: world.stateHome, BOT_BOTTLE_BUNDLE_NETWORK: world.network, BOT_BOTTLE_UPSTREAM_CA_CERTS: world.upstream.caFile };
  const loaded = await validateManifest(manifest(world, { setup }), '<test>', world.dir);
  const plan = makePlan({ manifest: loaded, agentName: 'demo', copyCwd: false, userCwd: world.dir }, { env, backend: 'docker' });
  plan.labels[TEST_LABEL_KEY] = '1';
  plan.labels[RUN_LABEL_KEY] = RUN_ID;
  const progress: string[] = [];
  const run = runSession({
    plan,
    backend: new DockerBackend(env),
    steps: [{ definition: caProvisioner, options: {}, packageName: '@bot-bottle/provisioner-ca' }],
    agent: claude,
    argv,
    tty: false,
    keep: false,
    progress: (phase, detail) => progress.push(`${phase}${detail ? `: ${detail}` : ''}`),
    warn: () => undefined,
    signal: new AbortController().signal,
    hostEnv: env,
  });
  return { plan, progress, run };
}

test('setup commands run in order as the agent user in the workspace, through the gateway, each a progress line', async () => {
  const w = ctx.world!;
  const { progress, run } = await session(
    w,
    ['echo one >> order', 'echo "two $(id -un) $(pwd)" >> order', 'npm view bbtest-pkg version >> order'],
    ['sh', '-c', 'test "$(cat /home/node/workspace/order)" = "$(printf "one\\ntwo node /home/node/workspace\\n1.0.0")"'],
  );
  assert.is(await run, 0, 'the command after setup saw the three lines in order');
  assert.equal(progress.filter((p) => p.startsWith('setup')), ['setup: 1/3: echo one >> order', 'setup: 2/3: echo "two $(id -un) $(pwd)" >> order', 'setup: 3/3: npm view bbtest-pkg version >> order']);
});

test('a failing setup command stops the launch with its output, runs nothing after it, and leaves nothing behind', async () => {
  const w = ctx.world!;
  const { plan, run } = await session(w, ['echo before', 'echo "no such package" >&2; exit 3', 'touch /home/node/workspace/never'], ['true']);
  const err = await run.then(() => null, (e: unknown) => e);
  assert.ok(isBottleError(err), String(err));
  assert.is(err.code, 'SETUP_FAILED');
  assert.is(err.message, 'setup command 2 of 3 failed (exit 3): echo "no such package" >&2; exit 3');
  assert.ok(err.details.includes('no such package'), err.details.join('\n'));
  const left = await docker(['ps', '-a', '--filter', `label=bot-bottle.slug=${plan.slug}`, '--format', '{{.Names}}']);
  assert.is(left.stdout.trim(), '', 'no container of the failed launch is left');
  const { existsSync } = await import('node:fs');
  assert.not.ok(existsSync(plan.stateDir), 'nor its state dir');
});

test.run();
