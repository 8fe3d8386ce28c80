/**
 * Attacks from inside a smolvm bottle (the docker backend's isolation suite, for this backend).
 * Each destination is one this test serves itself (a container on a test-made network, a decoy at
 * the metadata address, host listeners on 0.0.0.0 and on 127.0.0.1), so that a broken guard never
 * sends a packet off this machine. Every attempt must fail.
 *
 * ON THE DOUBLE these pass because the double's "machine" is a container with `--network none`:
 * they check that the backend asks for no network and mounts only its own bundle's sockets, not
 * the VM boundary. On real smolvm (scripts/verify-smolvm.sh) they are the proof that the microVM has
 * no network device and no way to the host's loopback (which TSI or virtio-net would give it).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { networkInterfaces } from 'node:os';
import type { LaunchedBottle } from '@bot-bottle/core';
import { docker, dockerOk } from '@bot-bottle/backend-kit';
import { ON, RUN_LABEL, inBottle, launch, removeTestResources, testEnv, testImages, uniq, type TestEnv } from './helpers.js';

const TEST_LABEL = RUN_LABEL;

const test = suite(`${ON}: isolation, attacks from inside a bottle`);

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
  hostServer?: net.Server;
  hostPort?: number;
  loopbackServer?: net.Server;
  loopbackPort?: number;
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
  // A host service bound to every address.
  ctx.hostServer = net.createServer((s) => s.end('host'));
  await new Promise<void>((r) => ctx.hostServer!.listen(0, '0.0.0.0', () => r()));
  ctx.hostPort = (ctx.hostServer.address() as net.AddressInfo).port;
  // A host service on loopback only: what smolvm's TSI and virtio-net gateway would hand a guest.
  ctx.loopbackServer = net.createServer((s) => s.end('host loopback'));
  await new Promise<void>((r) => ctx.loopbackServer!.listen(0, '127.0.0.1', () => r()));
  ctx.loopbackPort = (ctx.loopbackServer.address() as net.AddressInfo).port;
  ctx.a = (await launch(ctx.t)).bottle;
  ctx.b = (await launch(ctx.t)).bottle;
});

test.after(async () => {
  await ctx.a?.destroy();
  await ctx.b?.destroy();
  ctx.hostServer?.close();
  ctx.loopbackServer?.close();
  await removeTestResources();
  await ctx.t?.cleanup();
});

test('the guards are real: the test servers answer from where they should', async () => {
  // Without this, every "refused" below could pass because the servers never ran.
  const fromNet = await docker(['run', '--rm', '--label', TEST_LABEL, '--network', ctx.net!, ctx.runtime!, 'curl', '-sS', '-m', '5', `telnet://${ctx.server}:8080`]);
  assert.ok(fromNet.stdout.includes('hi'), `server reachable on its own network: ${fromNet.stderr}`);
  const decoy = await docker(['run', '--rm', '--label', TEST_LABEL, '--network', ctx.metaNet!, ctx.runtime!, 'curl', '-sS', '-m', '5', 'http://169.254.169.254/']);
  assert.is(decoy.stdout, 'decoy');
  const host = await docker(['run', '--rm', '--label', TEST_LABEL, ctx.runtime!, 'curl', '-sS', '-m', '5', `telnet://172.17.0.1:${ctx.hostPort}`]);
  assert.ok(host.stdout.includes('host'), 'a plain container reaches the host service (the hole a bottle must not have)');
});

test('the bottle has no interface but loopback and no route', async () => {
  const r = await inBottle(ctx.a!, 'cat /proc/net/dev; echo ---; cat /proc/net/route');
  assert.is(r.exitCode, 0);
  const [dev = '', route = ''] = r.stdout.split('---');
  const ifaces = dev.split('\n').slice(2).map((l) => l.split(':')[0]!.trim()).filter(Boolean);
  assert.equal(ifaces, ['lo']);
  assert.is(route.trim().split('\n').length, 1, `no routes beyond the header: ${route}`);
});

test("host services on the host's loopback are unreachable: the guest's 127.0.0.1 is its own, and smolvm's host alias leads nowhere", async () => {
  const hostLocal = await new Promise<string>((resolve) => {
    const c = net.connect(ctx.loopbackPort!, '127.0.0.1');
    c.on('data', (d) => resolve(String(d)));
    c.on('error', (e) => resolve(e.message));
  });
  assert.is(hostLocal, 'host loopback', 'control: the loopback service answers on the host');
  const r = await probe(ctx.a!, [`127.0.0.1:${ctx.loopbackPort}`, `100.96.0.1:${ctx.loopbackPort}`, `host.smolvm.internal:${ctx.loopbackPort}`, `localhost:${ctx.loopbackPort}`]);
  for (const [t, outcome] of Object.entries(r)) assert.is.not(outcome, 'open', `${t} must be unreachable`);
});

test('a server on another docker network is unreachable by IP and by name', async () => {
  const r = await probe(ctx.a!, [`${ctx.serverIp}:8080`, `${ctx.server}:8080`]);
  for (const [t, outcome] of Object.entries(r)) assert.is.not(outcome, 'open', `${t} must be unreachable`);
});

test('host services on 0.0.0.0 are unreachable through every host address', async () => {
  const hostAddrs = Object.values(networkInterfaces()).flat().filter((i) => i && i.family === 'IPv4').map((i) => i!.address);
  const gateways = ['172.17.0.1', ...hostAddrs];
  const r = await probe(ctx.a!, [...new Set(gateways)].map((a) => `${a}:${ctx.hostPort}`));
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
  // And bottle A holds its own bundle's three sockets, nothing of bottle B's.
  const own = await inBottle(ctx.a!, `ls /run/bot-bottle; grep -c ${ctx.b!.slug} /proc/mounts; true`);
  assert.is(own.stdout, 'egress.sock\ngit.sock\nsupervise.sock\n0\n');
});

test('the bottle reaches its own bundle, and only its own, through loopback', async () => {
  const r = await inBottle(ctx.a!, "curl -sS -m 5 --noproxy '*' http://127.0.0.1:3128/__bottle/health");
  assert.match(r.stdout, /"ok":true/, r.stdout + r.stderr);
  // A request through the proxy lands in bottle A's audit log, not in bottle B's.
  const host = `${ctx.a!.slug}.example.invalid`;
  const refused = await inBottle(ctx.a!, `curl -sS -m 10 http://${host}/`);
  assert.match(refused.stdout, /refused/);
  const logOf = (slug: string) => readFile(path.join(ctx.t!.env.XDG_STATE_HOME!, 'bot-bottle', 'bottles', slug, 'log', 'audit.jsonl'), 'utf8').catch(() => '');
  assert.ok((await logOf(ctx.a!.slug)).includes(host), 'audited by its own bundle');
  assert.not.ok((await logOf(ctx.b!.slug)).includes(host), 'not seen by the other bundle');
});

test('no docker socket and no docker client in the bottle', async () => {
  const r = await inBottle(ctx.a!, 'for p in /var/run/docker.sock /run/docker.sock /run/containerd/containerd.sock; do test -e $p && echo "found $p"; done; command -v docker; true');
  assert.is(r.stdout.trim(), '');
});

test('the agent user cannot become root', async () => {
  const r = await inBottle(ctx.a!, 'id -u; su -c id 2>&1 </dev/null; sudo -n id 2>&1; true');
  assert.ok(r.stdout.startsWith('1000'));
  assert.not.ok(/uid=0/.test(r.stdout.split('\n').slice(1).join('\n')), r.stdout);
});

test.run();
