/**
 * The docker Target on a real bottle, both ways it can work: through the exec channel (one
 * `docker exec -i` running the image's exec agent) and with one `docker exec` / `docker cp` per call.
 * Each case runs on both and the results must be the same, so provisioners cannot tell them apart.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isBottleError, type LaunchedBottle } from '@bot-bottle/core';
import { DockerTarget, dockerStats } from '../../src/index.js';
import { launch, testEnv, testImages, type TestEnv } from '../helpers.js';

const test = suite('docker target: exec channel and plain docker agree');
const ctx: { t?: TestEnv; b?: LaunchedBottle; host?: string; channel?: DockerTarget; plain?: DockerTarget } = {};

test.before(async () => {
  await testImages();
  ctx.t = await testEnv();
  ctx.b = await launch(ctx.t);
  const container = (ctx.b.target as DockerTarget).container;
  ctx.channel = new DockerTarget(container, true);
  ctx.plain = new DockerTarget(container, false);
  ctx.host = await mkdtemp(path.join(tmpdir(), 'bbtest-target-'));
});

test.after(async () => {
  await ctx.channel?.close();
  await ctx.b?.destroy();
  await ctx.t?.cleanup();
  if (ctx.host) await rm(ctx.host, { recursive: true, force: true });
});

/** How many processes in the bottle have a command line matching `pattern` (the image has no pgrep). */
async function processes(target: DockerTarget, pattern: string): Promise<number> {
  const r = await target.exec(['sh', '-c', 'for f in /proc/[0-9]*/cmdline; do tr "\\0" " " < "$f" 2>/dev/null; echo; done | grep -c -E "$P" || true'], { env: { P: pattern } });
  return Number(r.stdout.trim());
}

const both = () => [['channel', ctx.channel!], ['plain', ctx.plain!]] as const;

test('stdout, stderr and the exit code; the default user and cwd', async () => {
  for (const [way, target] of both()) {
    const r = await target.exec(['sh', '-c', 'echo out; echo err >&2; id -un; pwd; exit 5']);
    assert.equal(r, { exitCode: 5, stdout: 'out\nroot\n/home/node/workspace\n', stderr: 'err\n' }, way);
  }
});

test('user, env, cwd; HOME as docker exec sets it (the bottle\'s env names /home/node)', async () => {
  for (const [way, target] of both()) {
    const r = await target.exec(['sh', '-c', 'echo "$(id -un) $(id -u):$(id -g) $HOME $FOO $(pwd) ${HTTPS_PROXY:-none}"'], { user: 'node', env: { FOO: 'bar baz' }, cwd: '/tmp' });
    assert.is(r.stdout, 'node 1000:1000 /home/node bar baz /tmp http://127.0.0.1:3128\n', way);
    const root = await target.exec(['sh', '-c', 'echo $HOME']);
    assert.is(root.stdout, '/home/node\n', way);
  }
});

test('stdin: text and 3 MiB of binary arrive whole; no stdin means an empty one', async () => {
  const big = Buffer.alloc(3 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff;
  const sum = execFileSync('sha256sum', { input: big }).toString().split(' ')[0];
  for (const [way, target] of both()) {
    assert.is((await target.exec(['tr', 'a-z', 'A-Z'], { stdin: 'hello\n' })).stdout, 'HELLO\n', way);
    assert.is((await target.exec(['sh', '-c', 'sha256sum | cut -d" " -f1'], { stdin: big })).stdout.trim(), sum, way);
    assert.is((await target.exec(['sh', '-c', 'cat | wc -c'])).stdout.trim(), '0', way);
  }
});

test('a missing command is exit 127 with a message; a signal is 128+n', async () => {
  for (const [way, target] of both()) {
    const r = await target.exec(['no-such-command-here']);
    // docker exec says 127 since Engine 23, 126 before; the channel says 127.
    assert.ok(r.exitCode === 127 || (way === 'plain' && r.exitCode === 126), `${way}: ${r.exitCode}`);
    assert.match(r.stdout + r.stderr, /no-such-command-here/, way);
    assert.is((await target.exec(['sh', '-c', 'kill -TERM $$'])).exitCode, 143, way);
  }
});

test('an unknown user is refused', async () => {
  for (const [way, target] of both()) {
    const r = await target.exec(['true'], { user: 'nobody-such' });
    assert.ok(r.exitCode !== 0, way);
    assert.match(r.stdout + r.stderr, /nobody-such/, way);
  }
});

test('a timeout stops the command and says so (the channel also kills it, which docker exec cannot)', async () => {
  for (const [way, target] of both()) {
    const err = await target.exec(['sleep', way === 'channel' ? '31' : '32'], { timeoutMs: 500 }).then(() => null, (e: Error) => e);
    assert.ok(err, `${way}: timed out`);
    assert.match(err!.message, /timed out/, way);
  }
  await new Promise((r) => setTimeout(r, 200));
  assert.is(await processes(ctx.plain!, '^sleep 31'), 0, 'the channel killed its timed-out command');
  // The channel still works after a timeout.
  assert.is((await ctx.channel!.exec(['echo', 'still here'])).stdout, 'still here\n');
});

test('copyIn of a file: at the path, root-owned, with its mode; into an existing dir under its name', async () => {
  const f = path.join(ctx.host!, 'secret.txt');
  await writeFile(f, 'one\ntwo\n');
  await chmod(f, 0o640);
  for (const [way, target] of both()) {
    const dir = `/tmp/copy-file-${way}`;
    await target.exec(['mkdir', '-p', `${dir}/into`]);
    await target.copyIn(f, `${dir}/as-named.txt`);
    await target.copyIn(f, `${dir}/into`);
    const r = await target.exec(['sh', '-c', `cd ${dir} && stat -c '%n %U %a' as-named.txt into/secret.txt && cat as-named.txt`]);
    assert.is(r.stdout, 'as-named.txt root 640\ninto/secret.txt root 640\none\ntwo\n', way);
  }
});

test('copyIn of a tree: nested files, modes, a symlink kept as a link, an empty dir; landing as docker cp does', async () => {
  const src = path.join(ctx.host!, 'skill');
  await mkdir(path.join(src, 'ref', 'deep', 'empty'), { recursive: true });
  await writeFile(path.join(src, 'SKILL.md'), '# skill\n');
  await writeFile(path.join(src, 'run.sh'), '#!/bin/sh\necho ran\n');
  await chmod(path.join(src, 'run.sh'), 0o755);
  for (let i = 0; i < 300; i++) await writeFile(path.join(src, 'ref', `f${i}.md`), `file ${i}\n`);
  await writeFile(path.join(src, 'ref', 'deep', 'x.txt'), 'x\n');
  await symlink('SKILL.md', path.join(src, 'link.md'));
  const listing = 'cd $D && find . | sort | md5sum | cut -c1-32; find . -type f | wc -l; stat -c "%U %a" run.sh SKILL.md; readlink link.md; ./run.sh; test -d ref/deep/empty && echo empty-dir';
  const results: string[] = [];
  for (const [way, target] of both()) {
    const base = `/tmp/copy-tree-${way}`;
    await target.exec(['mkdir', base]);
    await target.copyIn(src, `${base}/new`); // a path that does not exist: the tree lands as it
    await target.exec(['mkdir', '-p', `${base}/existing`]);
    await target.copyIn(src, `${base}/existing`); // an existing dir: the tree lands inside, under its name
    const a = await target.exec(['sh', '-c', listing], { env: { D: `${base}/new` } });
    const b = await target.exec(['sh', '-c', listing], { env: { D: `${base}/existing/skill` } });
    assert.is(a.exitCode, 0, `${way}: ${a.stderr}`);
    assert.is(a.stdout, b.stdout, way);
    results.push(a.stdout);
  }
  assert.is(results[0], results[1], 'the channel lands a tree exactly as docker cp does');
  assert.match(results[0]!, /\n303\nroot 755\nroot 644\nSKILL\.md\nran\nempty-dir\n$/, results[0]);
});

test('copyIn fails with the path\'s name: a missing host path; a guest dir that does not exist', async () => {
  for (const [way, target] of both()) {
    const err = await target.copyIn(path.join(ctx.host!, 'nope'), '/tmp/nope').then(() => null, (e: Error) => e);
    assert.ok(err, way);
    assert.match(err!.message, /nope/, way);
    const noParent = await target.copyIn(ctx.host!, '/tmp/no-such-parent/x').then(() => null, (e: Error) => e);
    assert.ok(noParent, way);
    assert.match(noParent!.message, /no-such-parent/, way);
    // Both are BottleErrors a user can act on, the same either way: which side failed, and a fix.
    assert.ok(isBottleError(err) && isBottleError(noParent), `${way}: ${err} / ${noParent}`);
    assert.is(err.code, 'BACKEND_FAILED', way);
    assert.match(err.message, `in docker container ${target.container} failed`, way);
    assert.match(err.details[0]!, /^on the host: /, way);
    assert.match(err.suggestions[0]!, `Check that ${path.join(ctx.host!, 'nope')} exists`, way);
    assert.is(noParent.code, 'BACKEND_FAILED', way);
    assert.not.match(noParent.details[0]!, /^on the host/, way);
    assert.match(noParent.suggestions[0]!, 'Check that /tmp/no-such-parent exists in the bottle', way);
  }
});

test('a channel whose agent dies fails the request in flight and every later one with a BottleError and a fix', async () => {
  const fresh = new DockerTarget(ctx.channel!.container, true);
  assert.is((await fresh.exec(['echo', 'up'])).stdout, 'up\n', 'control: the channel works');
  const pending = fresh.exec(['sleep', '41']).then(() => null, (e: unknown) => e);
  // Kill the agent that runs this sleep (its parent), from a plain docker exec.
  const killed = await ctx.plain!.exec(['sh', '-c', 'for p in /proc/[0-9]*; do [ "$(tr "\\0" " " < $p/cmdline 2>/dev/null)" = "sleep 41 " ] && kill -9 "$(cut -d" " -f4 $p/stat)" && echo killed; done; true']);
  assert.match(killed.stdout, 'killed', killed.stderr);
  const err = await pending;
  assert.ok(isBottleError(err), String(err));
  assert.is(err.code, 'BACKEND_FAILED');
  assert.match(err.message, `the connection into docker container ${fresh.container} closed`);
  assert.match(err.suggestions.join('\n'), 'bottle ls');
  const later = await fresh.exec(['true']).then(() => null, (e: unknown) => e);
  assert.is(later, err, 'a later request gets the same error');
  await ctx.plain!.exec(['sh', '-c', 'for p in /proc/[0-9]*; do [ "$(tr "\\0" " " < $p/cmdline 2>/dev/null)" = "sleep 41 " ] && kill -9 "${p#/proc/}"; done; true']);
});

test('the channel costs one docker process however many calls go through it', async () => {
  const fresh = new DockerTarget(ctx.channel!.container, true);
  const before = dockerStats.spawned;
  for (let i = 0; i < 20; i++) await fresh.exec(['true']);
  await fresh.copyIn(ctx.host!, '/tmp/copy-count');
  assert.is(dockerStats.spawned - before, 1);
  await fresh.close();
  // The agent exits with its channel.
  await new Promise((r) => setTimeout(r, 300));
  assert.is(await processes(ctx.plain!, '^node /usr/local/lib/bot-bottle/exec-agent'), 1, 'only the test\'s own channel agent is left');
});

test.run();
