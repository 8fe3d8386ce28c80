/**
 * Bottle and bundle start together. The bottle's forwarder must hold a connection made before the
 * bundle is up (and refuse at once once the bundle is up without that service); a bundle that dies
 * while starting must fail the launch at attach, and leave nothing behind.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { docker, dockerOk } from '../../src/index.js';
import { TEST_LABEL, planFor, removeTestResources, testEnv, testImages, uniq, MINIMAL, type TestEnv } from '../helpers.js';

const test = suite('startup: bottle and bundle side by side');
const ctx: { t?: TestEnv; volume?: string; bottle?: string; runtime?: string } = {};

test.before(async () => {
  const images = await testImages();
  ctx.runtime = images.runtime;
  ctx.t = await testEnv();
  ctx.volume = uniq('bbtest-sockets');
  await dockerOk(['volume', 'create', '--label', TEST_LABEL, ctx.volume], 'volume');
  // A bottle as the backend starts it (its forwarder is the image's entrypoint), with no bundle yet.
  ctx.bottle = uniq('bbtest-early');
  await dockerOk(['run', '-d', '--init', '--label', TEST_LABEL, '--name', ctx.bottle, '--network', 'none', '-e', 'BOT_BOTTLE_BUNDLE_WAIT_MS=20000', '-v', `${ctx.volume}:/run/bot-bottle`, images.agent], 'bottle');
});

test.after(async () => {
  await removeTestResources();
  await docker(['volume', 'rm', '-f', ctx.volume!]);
  await ctx.t?.cleanup();
});

/** A stand-in bundle: answers HTTP on the egress socket of the shared volume, then says it is ready. */
function startStandIn(name: string, ready = true): Promise<string> {
  const script = `require('http').createServer((q, s) => s.end('served ' + q.url)).listen('/run/bot-bottle/egress.sock', () => { ${ready ? "require('fs').writeFileSync('/run/bot-bottle/ready', 'x');" : ''} })`;
  return dockerOk(['run', '-d', '--label', TEST_LABEL, '--name', name, '--network', 'none', '-v', `${ctx.volume}:/run/bot-bottle`, ctx.runtime!, 'node', '-e', script], 'stand-in bundle');
}

test('a request made before the bundle is up waits for it, then goes through', async () => {
  // The request starts first; the bundle comes 1.5 s later.
  const early = docker(['exec', '-u', 'node', ctx.bottle!, 'curl', '-sS', '-m', '20', 'http://127.0.0.1:3128/early'], { timeoutMs: 30_000 });
  await new Promise((r) => setTimeout(r, 1500));
  await startStandIn(uniq('bbtest-standin'));
  const r = await early;
  assert.is(r.exitCode, 0, r.stderr);
  assert.is(r.stdout, 'served /early');
});

test('once the bundle is ready, a service it does not run is refused at once, not held', async () => {
  // supervise.sock does not exist; curl exits with an empty reply / reset, not its own 8 s timeout (28).
  const r = await docker(['exec', '-u', 'node', ctx.bottle!, 'sh', '-c', 'curl -sS -m 8 http://127.0.0.1:9100/mcp; echo "exit=$?"'], { timeoutMs: 30_000 });
  assert.match(r.stdout, /exit=(52|56)\b/, r.stdout + r.stderr);
});

test('a bundle that never comes up: the held connection is dropped after the wait', async () => {
  const volume = uniq('bbtest-sockets-empty');
  await dockerOk(['volume', 'create', '--label', TEST_LABEL, volume], 'volume');
  const lonely = uniq('bbtest-lonely');
  await dockerOk(['run', '-d', '--init', '--label', TEST_LABEL, '--name', lonely, '--network', 'none', '-e', 'BOT_BOTTLE_BUNDLE_WAIT_MS=1000', '-v', `${volume}:/run/bot-bottle`, (await testImages()).agent], 'bottle');
  const r = await docker(['exec', '-u', 'node', lonely, 'sh', '-c', 'curl -sS -m 15 http://127.0.0.1:3128/; echo "exit=$?"'], { timeoutMs: 30_000 });
  assert.match(r.stdout, /exit=(52|56)\b/, r.stdout + r.stderr);
  await docker(['rm', '-f', lonely]);
  await docker(['volume', 'rm', '-f', volume]);
});

test('a bundle that dies while starting fails the launch at attach, with its reason, and removal leaves nothing', async () => {
  const plan = await planFor(ctx.t!, MINIMAL);
  plan.labels['bot-bottle-test'] = TEST_LABEL.split('=')[1]!;
  // A config the bundle refuses: it exits at start with a message.
  const b = await ctx.t!.backend.launch(plan, { progress: () => undefined, prepareBundle: async () => ({ egress: 'not a config' }) });
  const err = await b.attach(['sleep', '60'], { tty: false }).then(() => null, (e: Error) => e);
  assert.ok(err, 'attach failed');
  assert.match(err!.message, /the bundle stopped while starting/);
  await b.destroy();
  const left = (await docker(['ps', '-aq', '--filter', `label=bot-bottle.slug=${plan.slug}`])).stdout.trim();
  assert.is(left, '');
  assert.is((await docker(['volume', 'ls', '-q', '--filter', `label=bot-bottle.slug=${plan.slug}`])).stdout.trim(), '');
});

test.run();
