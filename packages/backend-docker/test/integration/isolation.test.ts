/**
 * Attacks from inside a real bottle that need the docker engine to stage: a container on another
 * docker network, a decoy at the metadata address, another bottle's bundle by its docker address,
 * the engine's socket. Each destination is one this test serves itself, so that a broken guard
 * never sends a packet off this machine. Every attempt must fail. What every backend must show
 * (loopback only, host services unreachable, its own bundle only, no root) is in core's backend
 * checks, which conformance.test.ts runs for docker.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { LaunchedBottle } from '@bot-bottle/core';
import { docker, dockerOk } from '../../src/index.js';
import { TEST_LABEL, inBottle, launch, removeTestResources, testEnv, testImages, uniq, type TestEnv } from '../helpers.js';

const test = suite('isolation: attacks from inside a bottle');

/** Node one-liner run in the bottle: tries each host:port and prints JSON {target: "open" | error code}. */
const PROBE = `
const net = require('net');
const targets = JSON.parse(process.argv[1]);
Promise.all(targets.map((t) => new Promise((res) => {
  const [host, port] = [t.slice(0, t.lastIndexOf(':')), Number(t.slice(t.lastIndexOf(':') + 1))];
  const s = net.connect({ host, port, timeout: 3000 });
  s.on('connect', () => { s.destroy(); res([t, 'open']); });
  s.on('timeout', () => { s.destroy(); res([t, 'timeout']); });
  s.on('error', (e) => res([t, e.code || e.message]));
}))).then((r) => console.log(JSON.stringify(Object.fromEntries(r))));
`;

async function probe(bottle: LaunchedBottle, targets: string[]): Promise<Record<string, string>> {
  const r = await bottle.target.exec(['node', '-e', PROBE, JSON.stringify(targets)], { user: 'node', timeoutMs: 30_000 });
  assert.is(r.exitCode, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, string>;
}

const ctx: {
  t?: TestEnv;
  a?: LaunchedBottle;
  b?: LaunchedBottle;
  net?: string;
  server?: string;
  serverIp?: string;
  metaNet?: string;
  runtime?: string;
} = {};

test.before(async () => {
  const images = await testImages();
  ctx.runtime = images.runtime;
  ctx.t = await testEnv();
  // A server on another docker network, reachable by name and IP from that network.
  ctx.net = uniq('bbtest-net');
  await dockerOk(['network', 'create', '--label', TEST_LABEL, ctx.net], 'test network');
  ctx.server = uniq('bbtest-server');
  await dockerOk(['run', '-d', '--label', TEST_LABEL, '--network', ctx.net, '--name', ctx.server, images.runtime, 'node', '-e', 'require("net").createServer((s)=>s.end("hi")).listen(8080)'], 'test server');
  ctx.serverIp = (await dockerOk(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', ctx.server], 'inspect')).trim();
  // A decoy at the cloud metadata address, on a test-made link-local network.
  ctx.metaNet = uniq('bbtest-meta');
  await dockerOk(['network', 'create', '--label', TEST_LABEL, '--subnet', '169.254.169.0/24', ctx.metaNet], 'metadata network');
  await dockerOk(['run', '-d', '--label', TEST_LABEL, '--network', ctx.metaNet, '--ip', '169.254.169.254', '--name', uniq('bbtest-meta'), images.runtime, 'node', '-e', 'require("http").createServer((q,s)=>s.end("decoy")).listen(80)'], 'metadata decoy');
  ctx.a = await launch(ctx.t);
  ctx.b = await launch(ctx.t);
});

test.after(async () => {
  await ctx.a?.destroy();
  await ctx.b?.destroy();
  await removeTestResources();
  await ctx.t?.cleanup();
});

test('the guards are real: the test servers answer from where they should', async () => {
  // Without this, every "refused" below could pass because the servers never ran.
  const fromNet = await docker(['run', '--rm', '--label', TEST_LABEL, '--network', ctx.net!, ctx.runtime!, 'curl', '-sS', '-m', '5', `telnet://${ctx.server}:8080`]);
  assert.ok(fromNet.stdout.includes('hi'), `server reachable on its own network: ${fromNet.stderr}`);
  const decoy = await docker(['run', '--rm', '--label', TEST_LABEL, '--network', ctx.metaNet!, ctx.runtime!, 'curl', '-sS', '-m', '5', 'http://169.254.169.254/']);
  assert.is(decoy.stdout, 'decoy');
});

test('a server on another docker network is unreachable by IP and by name', async () => {
  const r = await probe(ctx.a!, [`${ctx.serverIp}:8080`, `${ctx.server}:8080`]);
  for (const [t, outcome] of Object.entries(r)) assert.is.not(outcome, 'open', `${t} must be unreachable`);
});

test('the metadata address is unreachable (decoy served on a test network)', async () => {
  const r = await probe(ctx.a!, ['169.254.169.254:80']);
  assert.is.not(r['169.254.169.254:80'], 'open');
  const curl = await inBottle(ctx.a!, 'curl -sS -m 5 --noproxy "*" http://169.254.169.254/ ; echo "exit=$?"');
  assert.not.ok(curl.stdout.includes('decoy'));
});

test('DNS resolves nothing: not the engine-resolved name of a container', async () => {
  const r = await inBottle(ctx.a!, `getent hosts ${ctx.server} ; echo "exit=$?"`);
  assert.ok(r.stdout.includes('exit=2'), r.stdout);
  const viaNode = await ctx.a!.target.exec(['node', '-e', `require('dns').lookup(${JSON.stringify(ctx.server)}, (e, a) => console.log(e ? 'ERR ' + e.code : 'OK ' + a))`], { user: 'node' });
  assert.ok(viaNode.stdout.startsWith('ERR'), viaNode.stdout);
});

test('another bottle and its bundle are unreachable; the bundle listens on no network port', async () => {
  const bundleB = `bot-bottle-${ctx.b!.slug}-bundle`;
  const ipB = (await dockerOk(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', bundleB], 'inspect')).trim();
  assert.ok(ipB, 'bundle B has an address on its egress network');
  const r = await probe(ctx.a!, [3128, 9418, 9100, 80, 443].map((p) => `${ipB}:${p}`));
  for (const [t, outcome] of Object.entries(r)) assert.is.not(outcome, 'open', `${t} must be unreachable`);
  // A container that does share the bundle's network finds no listening port either.
  const scan = await docker(['run', '--rm', '--label', TEST_LABEL, ctx.runtime!, 'sh', '-c', `for p in 3128 9418 9100 80 443 8080; do curl -s -m 2 telnet://${ipB}:$p </dev/null >/dev/null; echo "$p=$?"; done`]);
  for (const line of scan.stdout.trim().split('\n')) assert.ok(line.endsWith('=7') || line.endsWith('=28'), `connection to bundle ${line} must fail (7 refused / 28 timeout)`);
  // And bottle B's sockets are not in bottle A at all.
  const own = await inBottle(ctx.a!, `ls /run/bot-bottle; cat /proc/mounts | grep -c ${ctx.b!.slug} ; true`);
  assert.not.ok(own.stdout.includes(ctx.b!.slug.slice(-5) + '-sock'));
});

test('no docker socket and no docker client in the bottle', async () => {
  const r = await inBottle(ctx.a!, 'for p in /var/run/docker.sock /run/docker.sock /run/containerd/containerd.sock; do test -e $p && echo "found $p"; done; command -v docker; true');
  assert.is(r.stdout.trim(), '');
});

test.run();
