/**
 * A bottle on a user's image (the manifest's "image": a Debian image with python3 and pytest and no
 * Node, made here from the Debian base, never pulled): the agent layer is added, the project's tests
 * run in the workspace as `node`, and the guarantees of the default image hold: the same container
 * flags, no way to a host service on 0.0.0.0, no injected secret anywhere in the bottle. An image the
 * layer cannot take is refused before anything starts, and leaves nothing behind.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isBottleError, type LaunchedBottle } from '@bot-bottle/core';
import { localDebianBase, type EnsuredImages } from '@bot-bottle/images';
import { DockerTarget, containerName, docker, dockerOk } from '../../src/index.js';
import { TEST_LABEL, inBottle, planFor, removeTestResources, testEnv, testImages, type TestEnv } from '../helpers.js';

const test = suite('a bottle on a user\'s image');

/** The same Dockerfile as @bot-bottle/images' tests: the same tag, so the image is built once per machine. */
const PYTHON_DOCKERFILE = `ARG BASE
FROM \${BASE}
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-pytest && rm -rf /var/lib/apt/lists/* \\
 && rm -rf /usr/local/bin/node /usr/local/bin/npm /usr/local/bin/npx /usr/local/lib/node_modules
`;
const NO_SHELL_DOCKERFILE = 'FROM scratch\nCOPY hello.txt /hello.txt\n';

const CANARY = `bbcanary-${randomBytes(16).toString('hex')}`;
const SECRET_ENV = 'BBTEST_USER_IMAGE_SECRET';

/** Builds a test image once (tag: a hash of base and Dockerfile, as the images package's tests tag it). */
async function testImage(name: string, dockerfile: string, files: Record<string, string> = {}): Promise<string> {
  const base = (await localDebianBase()) ?? ((await testImages()) as EnsuredImages).choice.base;
  const baseId = (await dockerOk(['image', 'inspect', '--format', '{{.Id}}', base], 'inspecting the base')).trim();
  const h = createHash('sha256').update(baseId).update('\0').update(dockerfile);
  for (const [f, t] of Object.entries(files)) h.update(`\0${f}\0${t}`);
  const tag = `bot-bottle-test-${name}:${h.digest('hex').slice(0, 12)}`;
  if ((await docker(['image', 'inspect', tag])).exitCode === 0) return tag;
  const dir = await mkdtemp(path.join(tmpdir(), 'bbtest-userimg-'));
  try {
    await writeFile(path.join(dir, 'Dockerfile'), dockerfile);
    for (const [f, t] of Object.entries(files)) await writeFile(path.join(dir, f), t);
    await dockerOk(['build', '-q', '--label', 'bot-bottle-test.image=1', '--build-arg', `BASE=${base}`, '-t', tag, dir], `building test image ${name}`, { timeoutMs: 20 * 60_000 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return tag;
}

const ctx: { t?: TestEnv; b?: LaunchedBottle; image?: string; project?: string; hostServer?: net.Server; hostPort?: number } = {};

test.before(async () => {
  await testImages();
  ctx.image = await testImage('python', PYTHON_DOCKERFILE);
  ctx.t = await testEnv({ [SECRET_ENV]: CANARY });
  ctx.hostServer = net.createServer((s) => s.end('host'));
  await new Promise<void>((r) => ctx.hostServer!.listen(0, '0.0.0.0', () => r()));
  ctx.hostPort = (ctx.hostServer.address() as net.AddressInfo).port;
  // A small Python project with a pytest suite.
  ctx.project = await mkdtemp(path.join(tmpdir(), 'bbtest-proj-'));
  const proj = path.join(ctx.project, 'proj');
  await mkdir(path.join(proj, 'tests'), { recursive: true });
  await writeFile(path.join(proj, 'calc.py'), 'def add(a, b):\n    return a + b\n');
  await writeFile(path.join(proj, 'tests', 'test_calc.py'), 'import getpass\nfrom calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n\ndef test_runs_as_node():\n    assert getpass.getuser() == "node"\n');
  await writeFile(path.join(proj, 'pytest.ini'), '[pytest]\npythonpath = .\n');
  const manifest = {
    bottles: { dev: { image: ctx.image, egress: { routes: [{ host: 'api.user-image.invalid', auth: { header: 'x-api-key', env: SECRET_ENV } }] } } },
    agents: { demo: { bottle: 'dev', provisioners: [] } },
  };
  const plan = await planFor(ctx.t, manifest);
  assert.equal(plan.image, { source: 'reference', ref: ctx.image, key: 'bottles.dev.image' });
  ctx.b = await ctx.t.backend.launch(plan, { progress: (step, m) => process.stderr.write(`  ${step}${m ? `: ${m}` : ''}\n`) });
});

test.after(async () => {
  await ctx.b?.destroy();
  ctx.hostServer?.close();
  await removeTestResources();
  await ctx.t?.cleanup();
  if (ctx.project) await rm(ctx.project, { recursive: true, force: true });
});

test('the bottle runs the layered image, and its exec channel runs on bot-bottle\'s Node', async () => {
  const container = (ctx.b!.target as DockerTarget).container;
  const image = (await dockerOk(['inspect', '--format', '{{.Config.Image}}', container], 'inspect')).trim();
  assert.match(image, /^bot-bottle-layered:[0-9a-f]{12}$/);
  const r = await ctx.b!.target.exec(['sh', '-c', 'for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline; echo; done | grep exec-agent.mjs | grep -v grep']);
  assert.match(r.stdout, /^\/opt\/bot-bottle\/glibc\/ld\.so --library-path \/opt\/bot-bottle\/glibc \/opt\/bot-bottle\/node\/bin\/node \/usr\/local\/lib\/bot-bottle\/exec-agent\.mjs/m);
});

test('a project\'s pytest suite runs in the workspace as node', async () => {
  await ctx.b!.target.copyIn(path.join(ctx.project!, 'proj'), '/home/node/workspace');
  const own = await ctx.b!.target.exec(['chown', '-R', 'node:node', '/home/node/workspace/proj']);
  assert.is(own.exitCode, 0, own.stderr);
  const r = await ctx.b!.target.exec(['python3', '-m', 'pytest', '-q', '-p', 'no:cacheprovider'], { user: 'node', cwd: '/home/node/workspace/proj', env: { HOME: '/home/node', USER: 'node' }, timeoutMs: 120_000 });
  assert.is(r.exitCode, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /2 passed/);
  const who = await inBottle(ctx.b!, 'id -un; pwd; command -v node || echo "no node"');
  assert.equal(who.stdout.trim().split('\n'), ['node', '/home/node/workspace', 'no node']);
});

test('the same container flags as the default image: no network, capabilities dropped, limits, no new privileges', async () => {
  const container = (ctx.b!.target as DockerTarget).container;
  const f = JSON.parse((await dockerOk(['inspect', '--format', '{{json .HostConfig}}', container], 'inspect')).trim()) as Record<string, unknown>;
  assert.is(f.NetworkMode, 'none');
  assert.equal(f.CapDrop, ['ALL']);
  assert.equal((f.CapAdd as string[]).map((c) => c.replace(/^CAP_/, '')).sort(), ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'KILL', 'SETGID', 'SETUID']);
  assert.equal(f.SecurityOpt, ['no-new-privileges']);
  assert.ok((f.Memory as number) > 0 && (f.PidsLimit as number) > 0 && (f.NanoCpus as number) > 0, JSON.stringify({ m: f.Memory, p: f.PidsLimit, c: f.NanoCpus }));
  assert.is(f.Memory, f.MemorySwap, 'no swap beyond memory');
});

test('a host service on 0.0.0.0 is unreachable at every host address; only loopback exists', async () => {
  const hostAddrs = Object.values(networkInterfaces()).flat().filter((i) => i && i.family === 'IPv4').map((i) => i!.address);
  const targets = [...new Set(['172.17.0.1', ...hostAddrs])].map((a) => [a, ctx.hostPort!]);
  // The user's own tools (python3) as the agent would use them.
  const probe = `import json, socket, sys
out = {}
for host, port in json.loads(sys.argv[1]):
    s = socket.socket(); s.settimeout(3)
    try:
        s.connect((host, port)); out[host] = 'open'
    except Exception as e:
        out[host] = type(e).__name__
    finally:
        s.close()
print(json.dumps(out))`;
  const r = await ctx.b!.target.exec(['python3', '-c', probe, JSON.stringify(targets)], { user: 'node', timeoutMs: 60_000 });
  assert.is(r.exitCode, 0, r.stderr);
  const outcome = JSON.parse(r.stdout) as Record<string, string>;
  assert.ok(Object.keys(outcome).length >= 2);
  for (const [host, o] of Object.entries(outcome)) assert.is.not(o, 'open', `${host}:${ctx.hostPort} must be unreachable`);
  // The control: a plain container on the default bridge does reach it (the hole the bottle must not have).
  const plain = await docker(['run', '--rm', '--label', TEST_LABEL, '--entrypoint', 'python3', ctx.image!, '-c', `import socket; s=socket.create_connection(("172.17.0.1", ${ctx.hostPort}), 5); print(s.recv(10).decode())`]);
  assert.is(plain.stdout.trim(), 'host', plain.stderr);
  const ifaces = await inBottle(ctx.b!, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; tail -n +2 /proc/net/route | wc -l");
  assert.equal(ifaces.stdout.trim().split('\n'), ['lo', '0']);
});

test('the injected secret is nowhere in the bottle: not its env, files, processes, nor docker\'s record', async () => {
  // The scan reads the canary on stdin, so that no process it starts carries it in argv or env.
  const files = await ctx.b!.target.exec(['sh', '-c', 'grep -rlF -f - / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev 2>/dev/null; true'], { stdin: CANARY, timeoutMs: 300_000 });
  assert.is(files.stdout.trim(), '', `files holding the secret: ${files.stdout}`);
  const procs = await ctx.b!.target.exec(['sh', '-c', 'grep -lF -f - /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null; true'], { stdin: CANARY });
  assert.is(procs.stdout.trim(), '', `processes holding the secret: ${procs.stdout}`);
  // The control: the same scan finds the placeholder the bottle does hold.
  const placeholder = await ctx.b!.target.exec(['sh', '-c', `printenv ${SECRET_ENV} | grep -lF -f - /proc/1/environ; true`]);
  assert.is(placeholder.stdout.trim(), '/proc/1/environ');
  const env = await inBottle(ctx.b!, `printenv ${SECRET_ENV}`);
  assert.match(env.stdout, /^bot-bottle-placeholder/);
  const inspect = await dockerOk(['inspect', containerName(ctx.b!.slug)], 'inspect');
  assert.not.ok(inspect.includes(CANARY), 'docker inspect of the bottle');
});

test('an image the layer cannot take is refused before launch, naming it; nothing is left', async () => {
  const image = await testImage('no-shell', NO_SHELL_DOCKERFILE, { 'hello.txt': 'hello\n' });
  const t = await testEnv();
  try {
    const plan = await planFor(t, { bottles: { dev: { image } }, agents: { demo: { bottle: 'dev', provisioners: [] } } });
    let err: unknown;
    await t.backend.launch(plan, { progress: () => undefined }).catch((e: unknown) => (err = e));
    assert.ok(isBottleError(err), String(err));
    assert.is(err.code, 'IMAGE_UNSUPPORTED');
    assert.is(err.message, `image ${image} (bottles.dev.image) cannot run a bottle: it has no /bin/sh (the provisioners and setup commands run sh)`);
    for (const args of [['ps', '-aq'], ['volume', 'ls', '-q']]) {
      assert.is((await dockerOk([...args, '--filter', `label=bot-bottle.slug=${plan.slug}`], 'listing')).trim(), '', `${args[0]} left for ${plan.slug}`);
    }
    assert.not.ok((await t.backend.list()).some((b) => b.slug === plan.slug), "bottle ls does not list it");
  } finally {
    await t.cleanup();
  }
});

test.run();
