/**
 * Resource limits on real bottles: a bottle that eats memory, spins every core or forks without end
 * is stopped by its own limits, while its bundle (and another bottle's) keeps answering. Each attack
 * is preceded by the same request succeeding, so "still answers" is never a server that never ran.
 * The upstream is a container this test makes, on an `--internal` network this test makes.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bundleLimits, makePlan, resolveLimits, validateManifest, type LaunchedBottle, type BottlePlan } from '@bot-bottle/core';
import { tmpdir } from 'node:os';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DOCKER, engineInfo, limitArgs, limitsForEngine } from '@bot-bottle/backend-kit';
import { bundleName, containerName, docker, dockerOk } from '../../src/index.js';
import { TEST_LABEL, inBottle, planFor, removeTestResources, testEnv, testImages, uniq, type TestEnv } from '../helpers.js';

const test = suite('limits: a bottle that misbehaves, and its bundle');

const MIB = 1024 * 1024;
const ROUTE_HOST = 'up.bbtest.invalid';
/** The small bottle: the least memory and processes a manifest may give, one core. */
const SMALL = { memory: '256m', cpus: 1, pids: 256 };

interface Launched {
  bottle: LaunchedBottle;
  plan: BottlePlan;
}

const ctx: { t?: TestEnv; net?: string; upstream?: string; small?: Launched; big?: Launched } = {};

function manifest(limits?: object) {
  return {
    bottles: { dev: { egress: { routes: [{ host: ROUTE_HOST, to: `http://${ctx.upstream}:8080` }] }, ...(limits ? { limits } : {}) } },
    agents: { demo: { bottle: 'dev', provisioners: [] } },
  };
}

async function launchWith(limits?: object): Promise<Launched> {
  const plan = await planFor(ctx.t!, manifest(limits));
  const [k, v] = TEST_LABEL.split('=') as [string, string];
  plan.labels[k] = v;
  const bottle = await ctx.t!.backend.launch(plan, { progress: () => undefined });
  await bottle.ready;
  return { bottle, plan };
}

/** A request from the bottle through its proxy env (CONNECT, TLS to the gateway) to the test upstream. */
async function throughGateway(b: Launched, what: string): Promise<void> {
  const r = await inBottle(b.bottle, `curl -sS -k -m 30 https://${ROUTE_HOST}/${what}`, 60_000);
  assert.is(r.stdout, `upstream ok /${what}`, `${b.plan.slug}: ${r.stdout}${r.stderr}`);
}

/** The gateway's own health page, through the bottle's forwarder (the gateway serves it to origin-form requests). */
async function health(b: Launched): Promise<void> {
  const r = await inBottle(b.bottle, "curl -sS -m 30 --noproxy '*' http://127.0.0.1:3128/__bottle/health", 60_000);
  assert.match(r.stdout, /"ok":true/, `${b.plan.slug}: ${r.stdout}${r.stderr}`);
}

async function inspect(name: string): Promise<{ HostConfig: Record<string, number>; State: { Running: boolean; OOMKilled: boolean } }> {
  return JSON.parse(await dockerOk(['inspect', '--format', '{{json .}}', name], 'inspect')) as never;
}

async function bundleIsFine(b: Launched): Promise<void> {
  const s = (await inspect(bundleName(b.plan.slug))).State;
  assert.ok(s.Running, 'the bundle is running');
  assert.not.ok(s.OOMKilled, 'the bundle was not OOM-killed');
}

test.before(async () => {
  const images = await testImages();
  ctx.net = uniq('bbtest-limits');
  await dockerOk(['network', 'create', '--internal', '--label', TEST_LABEL, ctx.net], 'test network');
  ctx.upstream = uniq('bbtest-limits-up');
  await dockerOk(['run', '-d', '--label', TEST_LABEL, '--network', ctx.net, '--name', ctx.upstream, '-u', 'node', images.runtime, 'node', '-e', "require('http').createServer((q, s) => s.end('upstream ok ' + q.url)).listen(8080)"], 'test upstream');
  ctx.t = await testEnv({ BOT_BOTTLE_BUNDLE_NETWORK: ctx.net });
  [ctx.small, ctx.big] = await Promise.all([launchWith(SMALL), launchWith()]);
});

test.after(async () => {
  await ctx.small?.bottle.destroy();
  await ctx.big?.bottle.destroy();
  await removeTestResources();
  await ctx.t?.cleanup();
});

test('docker inspect shows the limits on both containers; the bottle\'s come from the manifest or the defaults, the bundle\'s are fixed', async () => {
  const small = (await inspect(containerName(ctx.small!.plan.slug))).HostConfig;
  assert.equal(
    [small.Memory, small.MemorySwap, small.NanoCpus, small.CpuShares, small.PidsLimit, small.OomScoreAdj],
    [256 * MIB, 256 * MIB, 1e9, 1024, 256, 1000],
  );
  // Defaults follow the engine's machine: half its memory, every core, 4096 processes.
  const engine = await engineInfo();
  assert.ok(engine, 'docker info answers');
  const want = resolveLimits({}, engine!).bottle;
  const big = (await inspect(containerName(ctx.big!.plan.slug))).HostConfig;
  assert.equal(
    [big.Memory, big.MemorySwap, big.NanoCpus, big.PidsLimit, big.OomScoreAdj],
    [want.memoryBytes, want.memoryBytes, engine!.cpus * 1e9, 4096, 1000],
  );
  assert.ok(big.Memory! < engine!.memoryBytes, 'the default leaves the machine memory of its own');
  for (const b of [ctx.small!, ctx.big!]) {
    const h = (await inspect(bundleName(b.plan.slug))).HostConfig;
    assert.equal([h.Memory, h.MemorySwap, h.NanoCpus, h.CpuShares, h.PidsLimit, h.OomScoreAdj], [1024 * MIB, 1024 * MIB, 1e9, 4096, 1024, 0], b.plan.slug);
  }
});

test('the kernel holds the bottle to them (its own cgroup), and neither the agent nor root in the bottle can loosen them', async () => {
  const seen = await inBottle(
    ctx.small!.bottle,
    'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; cat /proc/self/oom_score_adj',
  );
  assert.equal(seen.stdout.trim().split('\n'), [String(256 * MIB), '256', '1000'], seen.stdout + seen.stderr);
  // Lower its OOM preference, raise its own limits, or leave its cgroup: as the agent and as root.
  const script = [
    'echo -1000 > /proc/self/oom_score_adj && echo "LOWERED $(cat /proc/self/oom_score_adj)"',
    'echo -1000 > /proc/1/oom_score_adj && echo "LOWERED-INIT"',
    'for f in /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max; do [ -e $f ] && echo max > $f && echo "RAISED $f"; done',
    'for f in /sys/fs/cgroup/memory/cgroup.procs /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/pids/cgroup.procs; do [ -e $f ] && echo $$ > $f && echo "MOVED $f"; done',
    'mkdir /sys/fs/cgroup/memory/escape 2>/dev/null && echo MKDIR',
    'true',
  ].join('; ');
  for (const user of ['node', 'root']) {
    const r = await ctx.small!.bottle.target.exec(['sh', '-c', script], { user });
    assert.is(r.stdout.trim(), '', `as ${user}: ${r.stdout}`);
    assert.ok(r.stderr.length > 0, `as ${user}, each attempt was refused with a message`);
  }
  const after = await inBottle(ctx.small!.bottle, 'cat /proc/1/oom_score_adj /proc/self/oom_score_adj');
  assert.equal(after.stdout.trim().split('\n'), ['1000', '1000']);
});

test('a memory hog (the agent, uid 1000) is killed by the bottle\'s limit; the bundle keeps running and its gateway answers', async () => {
  await throughGateway(ctx.small!, 'before-hog');
  // Touches every page it allocates; reports each 16 MiB, unbuffered, so its last words survive the kill.
  const hog = "const fs = require('fs'); const keep = []; for (let i = 1; ; i++) { keep.push(Buffer.alloc(1 << 20, 1)); if (i % 16 === 0) fs.writeSync(1, i + '\\n'); }";
  const r = await ctx.small!.bottle.target.exec(['node', '-e', hog], { user: 'node', env: { HOME: '/home/node' }, timeoutMs: 120_000 });
  assert.is(r.exitCode, 137, `killed by SIGKILL (the OOM killer): exit ${r.exitCode} ${r.stderr}`);
  const reached = Number(r.stdout.trim().split('\n').pop());
  assert.ok(reached >= 64 && reached < 256, `it grew until the 256m limit stopped it (last report ${reached} MiB)`);
  // The kill was the bottle's own cgroup's doing.
  const events = await inBottle(ctx.small!.bottle, 'cat /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null || cat /sys/fs/cgroup/memory.events');
  assert.match(events.stdout, /oom_kill [1-9]/, events.stdout);
  await bundleIsFine(ctx.small!);
  assert.ok((await inspect(containerName(ctx.small!.plan.slug))).State.Running, 'the bottle itself lives on');
  await throughGateway(ctx.small!, 'after-hog');
  await health(ctx.small!);
  await throughGateway(ctx.big!, 'other-bottle-after-hog');
});

test('a CPU hog on every core (the default: all of them) does not stop its gateway, nor another bottle\'s, from answering', async () => {
  await throughGateway(ctx.big!, 'before-spin');
  await throughGateway(ctx.small!, 'before-spin');
  // Two busy threads per core, each in the bottle's cgroup; it says when all spin, and stops on a file.
  const spin = [
    "const { Worker } = require('worker_threads'); const fs = require('fs'); const n = require('os').availableParallelism() * 2;",
    "let up = 0; for (let i = 0; i < n; i++) new Worker('for (;;) {}', { eval: true }).on('online', () => { if (++up === n) fs.writeFileSync('/tmp/spinning', String(process.pid)); });",
    "setInterval(() => { if (fs.existsSync('/tmp/stop-spinning')) process.exit(0); }, 100);",
  ].join(' ');
  const bottle = containerName(ctx.big!.plan.slug);
  await dockerOk(['exec', '-d', '-u', 'node', bottle, 'node', '-e', spin], 'starting the CPU hog');
  try {
    let pid = '';
    for (let i = 0; i < 600 && !pid; i++) {
      pid = (await docker(['exec', bottle, 'cat', '/tmp/spinning'])).stdout.trim();
      if (!pid) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(pid, 'every spinning thread started');
    await throughGateway(ctx.big!, 'while-spinning');
    await health(ctx.big!);
    await throughGateway(ctx.small!, 'other-bottle-while-spinning');
    // The hog ran all along: it is still there after the requests.
    assert.is((await docker(['exec', bottle, 'test', '-d', `/proc/${pid}`])).exitCode, 0, 'the hog still spins');
    await bundleIsFine(ctx.big!);
  } finally {
    await docker(['exec', '-u', 'node', bottle, 'touch', '/tmp/stop-spinning']);
  }
});

/**
 * A client started in the bottle before the fork bomb (a bomb leaves no process slot for a new
 * `docker exec`). It makes no process or thread of its own: on each line from stdin it answers
 * with the pids cgroup's numbers, or makes one request through the forwarder, or ends the bomb.
 */
const PROBER = String.raw`
const fs = require('fs'); const http = require('http'); const tls = require('tls');
const read = (a, b) => { try { return fs.readFileSync(a, 'utf8'); } catch { return fs.readFileSync(b, 'utf8'); } };
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
// agent: false, so that Node's own proxy support (NODE_USE_ENV_PROXY in the bottle) does not wrap these in another proxy request.
function viaGateway(what, done) {
  const req = http.request({ host: '127.0.0.1', port: 3128, method: 'CONNECT', path: process.argv[1] + ':443', agent: false });
  req.setTimeout(30000, () => req.destroy(new Error('timeout')));
  req.on('error', (e) => done('error ' + e.message));
  req.on('connect', (res, socket) => {
    // The gateway presents its own CA's certificate; the bottle's trust store is not what this test is about.
    const s = tls.connect({ socket, servername: process.argv[1], rejectUnauthorized: false });
    const get = http.get({ createConnection: () => s, host: process.argv[1], path: '/' + what }, (r) => { let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => done(b)); });
    get.on('error', (e) => done('error ' + e.message));
  });
  req.end();
}
function health(done) {
  const req = http.get({ host: '127.0.0.1', port: 3128, path: '/__bottle/health', agent: false }, (res) => { let b = ''; res.on('data', (d) => (b += d)); res.on('end', () => done(b)); });
  req.setTimeout(30000, () => req.destroy(new Error('timeout'))); req.on('error', (e) => done('error ' + e.message));
}
require('readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, arg] = line.split(' ');
  if (cmd === 'pids') say({ current: Number(read('/sys/fs/cgroup/pids/pids.current', '/sys/fs/cgroup/pids.current')), max: Number((/max (\d+)/.exec(read('/sys/fs/cgroup/pids/pids.events', '/sys/fs/cgroup/pids.events')) || [0, 0])[1]) });
  else if (cmd === 'get') viaGateway(arg, (body) => say({ body }));
  else if (cmd === 'health') health((body) => say({ body }));
  else if (cmd === 'stop') { fs.writeFileSync('/tmp/stop-bomb', ''); say({ stopped: true }); }
});
say({ ready: true });
`;

class Prober {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;
  constructor(container: string) {
    this.child = spawn(DOCKER, ['exec', '-i', '-u', 'node', container, 'node', '-e', PROBER, ROUTE_HOST]);
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }
  async next(): Promise<Record<string, unknown>> {
    const r = await this.lines.next();
    if (r.done) throw new Error('the prober ended');
    return JSON.parse(r.value) as Record<string, unknown>;
  }
  async ask(line: string): Promise<Record<string, unknown>> {
    this.child.stdin.write(line + '\n');
    return this.next();
  }
  close(): void {
    this.child.stdin.end();
    this.child.kill();
  }
}

test('a fork bomb (the agent) is stopped by the pids limit; its bundle, and another bottle\'s, still answer', async () => {
  const bottle = containerName(ctx.small!.plan.slug);
  const prober = new Prober(bottle);
  try {
    assert.equal(await prober.next(), { ready: true });
    // Control: the prober reaches the upstream and the gateway's health before the bomb.
    assert.is((await prober.ask('get before-bomb')).body, 'upstream ok /before-bomb');
    const before = await prober.ask('pids');
    assert.ok((before.current as number) < 64, `few processes before the bomb: ${JSON.stringify(before)}`);
    // Every process loops forking copies of itself until the stop file appears.
    await dockerOk(['exec', '-d', '-u', 'node', bottle, 'sh', '-c', 'b() { while [ ! -e /tmp/stop-bomb ]; do b & done; }; b'], 'starting the fork bomb');
    let at: Record<string, unknown> = before;
    for (let i = 0; i < 600 && !((at.max as number) > (before.max as number) && (at.current as number) >= 250); i++) {
      await new Promise((r) => setTimeout(r, 100));
      at = await prober.ask('pids');
    }
    assert.ok((at.max as number) > (before.max as number), `the pids limit refused forks: ${JSON.stringify(at)}`);
    assert.ok((at.current as number) >= 250 && (at.current as number) <= 256, `the bomb fills the bottle up to its limit and no further: ${JSON.stringify(at)}`);
    // With the bottle full, the gateway still answers it, and another bottle's still answers that one.
    assert.is((await prober.ask('get during-bomb')).body, 'upstream ok /during-bomb');
    const h = await prober.ask('health');
    assert.match(h.body as string, /"ok":true/, JSON.stringify(h));
    await throughGateway(ctx.big!, 'other-bottle-during-bomb');
    await bundleIsFine(ctx.small!);
    const still = await prober.ask('pids');
    // The control that the requests met a full bottle: the limit kept refusing forks while they ran
    // (the number of processes itself swings as the bomb's processes die and respawn).
    assert.ok((still.max as number) > (at.max as number), `the bomb was still pressing the limit during the requests: ${JSON.stringify({ at, still })}`);
    // End it and see the bottle recover.
    assert.equal(await prober.ask('stop'), { stopped: true });
    let left = still;
    for (let i = 0; i < 600 && (left.current as number) >= 64; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = await prober.ask('pids');
    }
    assert.ok((left.current as number) < 64, `the bomb ended: ${JSON.stringify(left)}`);
  } finally {
    prober.close();
    await docker(['exec', '-u', 'node', bottle, 'touch', '/tmp/stop-bomb']);
  }
  await throughGateway(ctx.small!, 'after-bomb');
});

test('the docker flags say exactly the limits: memory and memory+swap equal, so no swap', () => {
  const l = resolveLimits({ memory: '2g', cpus: 1.5, pids: 300 }, { memoryBytes: 8 * 2 ** 30, cpus: 4 }).bottle;
  assert.equal(limitArgs(l), ['--memory', String(2 * 2 ** 30), '--memory-swap', String(2 * 2 ** 30), '--cpus', '1.5', '--cpu-shares', '1024', '--pids-limit', '300', '--oom-score-adj', '1000']);
});

test('limits for the engine: the same machine keeps the plan; a smaller one (Docker Desktop\'s VM) re-resolves the defaults and the cpus cap', () => {
  const plan = resolveLimits({ cpus: 8 }, { memoryBytes: 32 * 2 ** 30, cpus: 10 });
  assert.is(limitsForEngine(plan, null), plan);
  assert.is(limitsForEngine(plan, { memoryBytes: 32 * 2 ** 30, cpus: 10, unenforced: [] }), plan);
  const vm = limitsForEngine(plan, { memoryBytes: 8 * 2 ** 30, cpus: 4, unenforced: [] });
  assert.equal([vm.bottle.cpus, vm.bottle.memory, vm.host.cpus], [4, '4g', 4]);
  // The bundle's share follows the engine's machine too: half its cores.
  assert.equal(vm.bundle, bundleLimits(4));
  assert.is(vm.bundle.cpus, 2);
});

test('a plan made on a bigger machine than the engine\'s launches with the engine\'s cores and memory, and says so', async () => {
  const engine = (await engineInfo())!;
  const loaded = await validateManifest(manifest({ cpus: engine.cpus + 62 }), '<test>', tmpdir());
  const plan = makePlan({ manifest: loaded, agentName: 'demo', copyCwd: false, userCwd: tmpdir() }, { env: ctx.t!.env, backend: 'docker', host: { cpus: engine.cpus + 62, memoryBytes: engine.memoryBytes * 4 } });
  assert.is(plan.limits.bottle.cpus, engine.cpus + 62, 'planned for the bigger machine');
  const [k, v] = TEST_LABEL.split('=') as [string, string];
  plan.labels[k] = v;
  const said: string[] = [];
  const b = await ctx.t!.backend.launch(plan, { progress: (step, m) => void said.push(`${step} ${m ?? ''}`) });
  try {
    const h = (await inspect(containerName(plan.slug))).HostConfig;
    const want = resolveLimits({}, engine).bottle;
    assert.equal([h.NanoCpus, h.Memory], [engine.cpus * 1e9, want.memoryBytes]);
    assert.ok(said.some((l) => l.startsWith(`limits the engine's machine has ${engine.cpus} cores`)), said.join('\n'));
    // The bundle's share and its gateway's processes follow the engine's machine too.
    const bundleCpus = bundleLimits(engine.cpus).cpus;
    assert.is((await inspect(bundleName(plan.slug))).HostConfig.NanoCpus, bundleCpus * 1e9);
    const cfg = JSON.parse(await readFile(path.join(plan.stateDir, 'bundle', 'bundle.json'), 'utf8')) as { egress: { workers: number } };
    assert.is(cfg.egress.workers, Math.floor(bundleCpus), `planned for ${plan.limits.bundle.cpus} bundle cores`);
  } finally {
    await b.destroy();
  }
});

test('bottles with limits still do their work: a build-sized allocation within the limit succeeds', async () => {
  // Control for the hog: the limit is a ceiling, not a squeeze; 128 MiB in a 256m bottle is fine.
  const r = await ctx.small!.bottle.target.exec(['node', '-e', "const keep = []; for (let i = 0; i < 128; i++) keep.push(Buffer.alloc(1 << 20, 1)); console.log('ok', keep.length)"], { user: 'node', timeoutMs: 60_000 });
  assert.is(r.stdout.trim(), 'ok 128', r.stderr);
});

test.run();
