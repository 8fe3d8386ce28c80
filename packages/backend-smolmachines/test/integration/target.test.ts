/**
 * The smolvm Target on a running bottle, both ways it can work: through the exec channel (one
 * `smolvm machine exec --interactive` running the image's exec agent) and with one smolvm call per
 * request (runuser for the agent user, `machine cp`, a tree as a tar stream). Each case runs both
 * ways and the results must agree, so provisioners cannot tell them apart.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isBottleError, type LaunchedBottle } from '@bot-bottle/core';
import { SmolvmTarget } from '../../src/index.js';
import { ON, launch, removeTestResources, testEnv, testImages, type TestEnv } from './helpers.js';

const test = suite(`${ON}: the Target, exec channel and one smolvm call per request agree`);
const ctx: { t?: TestEnv; b?: LaunchedBottle; host?: string; channel?: SmolvmTarget; plain?: SmolvmTarget } = {};

test.before(async () => {
  await testImages();
  ctx.t = await testEnv();
  ctx.b = (await launch(ctx.t)).bottle;
  const machine = (ctx.b.target as SmolvmTarget).machine;
  ctx.channel = new SmolvmTarget(machine, { cli: ctx.t.backend.cli });
  ctx.plain = new SmolvmTarget(machine, { cli: ctx.t.backend.cli, useChannel: false });
  ctx.host = await mkdtemp(path.join(tmpdir(), 'bbtest-smolvm-target-'));
});

test.after(async () => {
  await ctx.channel?.close();
  await ctx.b?.destroy();
  await removeTestResources();
  await ctx.t?.cleanup();
  if (ctx.host) await rm(ctx.host, { recursive: true, force: true });
});

const both = () => [['channel', ctx.channel!], ['plain', ctx.plain!]] as const;

test('stdout, stderr and the exit code; root in the workspace by default', async () => {
  for (const [way, target] of both()) {
    const r = await target.exec(['sh', '-c', 'echo out; echo err >&2; id -un; pwd; exit 5']);
    assert.equal(r, { exitCode: 5, stdout: 'out\nroot\n/home/node/workspace\n', stderr: 'err\n' }, way);
  }
});

test('as node: uid 1000, HOME /home/node, the env given, the cwd given, the bottle\'s proxy env', async () => {
  for (const [way, target] of both()) {
    const r = await target.exec(['sh', '-c', 'echo "$(id -un) $(id -u):$(id -g) $HOME $USER $FOO $(pwd) ${HTTPS_PROXY:-none}"'], { user: 'node', env: { FOO: 'bar baz' }, cwd: '/tmp' });
    assert.is(r.stdout, 'node 1000:1000 /home/node node bar baz /tmp http://127.0.0.1:3128\n', `${way}: ${r.stderr}`);
    // git config --global as node lands in node's home (the reason runuser gets HOME by --env).
    await target.exec(['git', 'config', '--global', 'user.name', `Bot ${way}`], { user: 'node' });
    const cfg = await target.exec(['sh', '-c', 'stat -c %U /home/node/.gitconfig; git config --file /home/node/.gitconfig user.name; test -e /root/.gitconfig && echo root-too || true']);
    assert.is(cfg.stdout, `node\nBot ${way}\n`, way);
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

test('a missing command is 127 with its name; a signal is 128+n; an unknown user is refused', async () => {
  for (const [way, target] of both()) {
    const r = await target.exec(['no-such-command-here']);
    assert.ok(r.exitCode === 127 || (way === 'plain' && r.exitCode === 126), `${way}: ${r.exitCode}`);
    assert.match(r.stdout + r.stderr, /no-such-command-here/, way);
    assert.is((await target.exec(['sh', '-c', 'kill -TERM $$'])).exitCode, 143, way);
    const u = await target.exec(['true'], { user: 'nobody-such' }).then((x) => x, (e: Error) => ({ exitCode: -1, stdout: '', stderr: e.message }));
    assert.ok(u.exitCode !== 0, way);
    assert.match(u.stdout + u.stderr, /nobody-such/, way);
  }
});

test('a timeout stops the command and says so', async () => {
  for (const [way, target] of both()) {
    const err = await target.exec(['sleep', way === 'channel' ? '31' : '32'], { timeoutMs: 800 }).then(() => null, (e: Error) => e);
    assert.ok(err, `${way}: timed out`);
    assert.match(err!.message, /timed out/, way);
  }
  await new Promise((r) => setTimeout(r, 1500));
  const left = await ctx.plain!.exec(['sh', '-c', 'for f in /proc/[0-9]*/cmdline; do tr "\\0" " " < "$f" 2>/dev/null; echo; done | grep -c -E "^sleep 3[12]" || true']);
  assert.is(left.stdout.trim(), '0', 'both timed-out commands were killed in the guest');
  assert.is((await ctx.channel!.exec(['echo', 'still here'])).stdout, 'still here\n');
});

test('copyIn of a file lands at the path, owned by root (the channel keeps its mode; machine cp gives 644)', async () => {
  const f = path.join(ctx.host!, 'secret.txt');
  await writeFile(f, 'one\ntwo\n');
  await chmod(f, 0o640);
  for (const [way, target] of both()) {
    const dir = `/tmp/copy-file-${way}`;
    await target.exec(['mkdir', '-p', dir]);
    await target.copyIn(f, `${dir}/as-named.txt`);
    const r = await target.exec(['sh', '-c', `stat -c '%U %G %a' ${dir}/as-named.txt && cat ${dir}/as-named.txt`]);
    assert.is(r.stdout, `root root ${way === 'channel' ? '640' : '644'}\none\ntwo\n`, way);
  }
});

test('copyIn of a tree to a new path: nested files, modes, a symlink kept as a link, an empty dir, root-owned', async () => {
  const src = path.join(ctx.host!, 'skill');
  await mkdir(path.join(src, 'ref', 'deep', 'empty'), { recursive: true });
  await writeFile(path.join(src, 'SKILL.md'), '# skill\n');
  await writeFile(path.join(src, 'run.sh'), '#!/bin/sh\necho ran\n');
  await chmod(path.join(src, 'run.sh'), 0o755);
  for (let i = 0; i < 300; i++) await writeFile(path.join(src, 'ref', `f${i}.md`), `file ${i}\n`);
  await symlink('SKILL.md', path.join(src, 'link.md'));
  const listing = 'cd $D && find . | sort | md5sum | cut -c1-32; find . -type f | wc -l; find . ! -user root | wc -l; stat -c "%a" run.sh SKILL.md; readlink link.md; ./run.sh; test -d ref/deep/empty && echo empty-dir';
  const results: string[] = [];
  for (const [way, target] of both()) {
    await target.exec(['mkdir', '-p', `/tmp/copy-tree-${way}`]);
    await target.copyIn(src, `/tmp/copy-tree-${way}/new`);
    const a = await target.exec(['sh', '-c', listing], { env: { D: `/tmp/copy-tree-${way}/new` } });
    assert.is(a.exitCode, 0, `${way}: ${a.stderr}`);
    results.push(a.stdout);
  }
  assert.is(results[0], results[1], 'both ways land the same tree');
  assert.match(results[0]!, /\n302\n0\n755\n644\nSKILL\.md\nran\nempty-dir\n$/, results[0]);
});

test('copyIn of a missing host path fails with its name, on the host side, with a fix', async () => {
  for (const [way, target] of both()) {
    const err = await target.copyIn(path.join(ctx.host!, 'nope'), '/tmp/nope').then(() => null, (e: unknown) => e);
    assert.ok(isBottleError(err), `${way}: ${String(err)}`);
    assert.is(err.code, 'BACKEND_FAILED', way);
    assert.match(err.message, `in smolvm machine ${target.machine.name} failed`, way);
    assert.match(err.details[0]!, /^on the host: /, way);
  }
});

test('a stopped machine: every request fails with a BottleError naming the machine', async () => {
  const other = await launch(ctx.t!);
  const machine = (other.bottle.target as SmolvmTarget).machine;
  const plain = new SmolvmTarget(machine, { cli: ctx.t!.backend.cli, useChannel: false });
  await other.bottle.destroy();
  const err = await plain.exec(['true']).then(() => null, (e: unknown) => e);
  assert.ok(isBottleError(err), String(err));
  assert.match(err.message, `smolvm machine ${machine.name}`);
});

test.run();
