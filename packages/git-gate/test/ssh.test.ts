/**
 * The gate against a real OpenSSH upstream on 127.0.0.1: the key, the host-key rule, and
 * concurrent pushes from two bottles.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cleanup, commitFile, git, gitOk, hasObject, makeUpstream, refsOf, startSshd, startTestGate, tmpDir, type TestGate, type TestSshd } from './helpers.js';

interface Ctx {
  root: string;
  home: string;
  bare: string;
  sshd: TestSshd;
  upstream: string;
  gates: TestGate[];
}

const Ssh = suite<Ctx>('gate over an ssh upstream');

Ssh.before(async (ctx) => {
  ctx.root = tmpDir();
  ctx.home = path.join(ctx.root, 'home');
  ctx.bare = await makeUpstream(ctx.root, 'app');
  ctx.sshd = await startSshd(ctx.root);
  ctx.upstream = ctx.sshd.url(ctx.bare);
  ctx.gates = [];
});

Ssh.after(async (ctx) => {
  await Promise.all(ctx.gates.map((g) => g.close()));
  await ctx.sshd?.stop();
  cleanup(ctx.root);
});

async function gateFor(ctx: Ctx, entry: Partial<{ identityFile: string | null; knownHosts: string | null; protect: string[] }> = {}): Promise<TestGate> {
  const g = await startTestGate(ctx.root, [{ name: 'app', upstream: ctx.upstream, identityFile: ctx.sshd.clientKey, knownHosts: ctx.sshd.knownHosts, ...entry }]);
  ctx.gates.push(g);
  return g;
}

/** A bottle-like client home whose gitconfig rewrites the upstream URL to the gate. */
function bottleHome(ctx: Ctx, gate: TestGate, name: string): string {
  const home = path.join(ctx.root, `bottle-${name}`);
  mkdirSync(home, { recursive: true });
  writeFileSync(path.join(home, '.gitconfig'), `[url "${gate.url}/app.git"]\n\tinsteadOf = ${ctx.upstream}\n`);
  return home;
}

Ssh('the test upstream really needs the key (a direct client without it is refused)', async (ctx) => {
  const r = await git(['ls-remote', ctx.upstream], { home: ctx.home });
  assert.is.not(r.exitCode, 0);
});

Ssh('clone by the original Upstream URL, commit, push: the upstream has the commit; fetch sees upstream work', async (ctx) => {
  const gate = await gateFor(ctx);
  const home = bottleHome(ctx, gate, 'one');
  const work = path.join(ctx.root, 'work-one');
  await gitOk(['clone', '--quiet', ctx.upstream, work], { home });
  const id = await commitFile(work, home, 'from-bottle.txt', 'hi\n');
  const r = await git(['push', 'origin', 'HEAD:main'], { cwd: work, home });
  assert.is(r.exitCode, 0, r.all);
  assert.is(await gitOk(['rev-parse', 'main'], { cwd: ctx.bare, home: ctx.home }), id);

  // Someone pushes to the upstream directly; the bottle's next fetch sees it.
  const other = path.join(ctx.root, 'other');
  await gitOk(['clone', '--quiet', ctx.bare, other], { home: ctx.home });
  const theirs = await commitFile(other, ctx.home, 'theirs.txt', 'x\n');
  await gitOk(['push', '--quiet', 'origin', 'HEAD:main'], { cwd: other, home: ctx.home });
  await gitOk(['pull', '--quiet', '--ff-only'], { cwd: work, home });
  assert.is(await gitOk(['rev-parse', 'HEAD'], { cwd: work, home }), theirs);
  const lines = gate.audit();
  assert.ok(lines.some((l) => l.service === 'upload-pack' && l.decision === 'allow' && l.upstream === ctx.upstream));
  assert.ok(lines.some((l) => l.service === 'receive-pack' && l.decision === 'allow' && l.refs.some((u) => u.new === id)));
});

Ssh('a pre-receive refusal on the ssh upstream reaches the client; the mirror keeps nothing', async (ctx) => {
  const gate = await gateFor(ctx);
  const home = bottleHome(ctx, gate, 'hooked');
  const work = path.join(ctx.root, 'work-hooked');
  await gitOk(['clone', '--quiet', ctx.upstream, work], { home });
  const hook = path.join(ctx.bare, 'hooks', 'pre-receive');
  writeFileSync(hook, '#!/bin/sh\necho "upstream says: branch names must start with feature/" >&2\nexit 1\n', { mode: 0o755 });
  try {
    const id = await commitFile(work, home, 'refused.txt', 'no\n');
    const mirrorBefore = await refsOf(gate.mirror('app'), ctx.home);
    const r = await git(['push', 'origin', 'HEAD:refs/heads/wip'], { cwd: work, home });
    assert.is.not(r.exitCode, 0);
    assert.match(r.all, /upstream says: branch names must start with feature\//);
    assert.is(await refsOf(gate.mirror('app'), ctx.home), mirrorBefore);
    assert.not.ok(await hasObject(gate.mirror('app'), ctx.home, id));
    assert.is((await git(['rev-parse', '--verify', 'refs/heads/wip'], { cwd: ctx.bare, home: ctx.home })).exitCode, 128);
  } finally {
    writeFileSync(hook, '#!/bin/sh\nexit 0\n');
  }
});

Ssh('a changed host key is refused, and known_hosts is not rewritten', async (ctx) => {
  const gate = await gateFor(ctx, { knownHosts: ctx.sshd.wrongKnownHosts });
  const before = readFileSync(ctx.sshd.wrongKnownHosts, 'utf8');
  const r = await git(['ls-remote', `${gate.url}/app.git`], { home: ctx.home });
  assert.is.not(r.exitCode, 0);
  assert.match(r.all, /remote error: git-gate: app\.git is unavailable: the host key of upstream ssh:\/\/.* has CHANGED from the one in .*wrong_known_hosts; the gate refuses to connect/);
  assert.is(readFileSync(ctx.sshd.wrongKnownHosts, 'utf8'), before);
  const line = gate.audit().find((l) => l.decision === 'deny');
  assert.ok(line);
  assert.match(line!.reason ?? '', /has CHANGED/);
});

Ssh('an unknown host key is refused, never learned', async (ctx) => {
  const empty = path.join(ctx.root, 'empty_known_hosts');
  writeFileSync(empty, '');
  const gate = await gateFor(ctx, { knownHosts: empty });
  const r = await git(['ls-remote', `${gate.url}/app.git`], { home: ctx.home });
  assert.is.not(r.exitCode, 0);
  assert.match(r.all, /the host key of upstream .* is not in .*empty_known_hosts; the gate trusts no unknown host/);
  assert.is(readFileSync(empty, 'utf8'), '');
});

Ssh('a key the upstream does not authorize is reported as such', async (ctx) => {
  const stranger = path.join(ctx.root, 'stranger_key');
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
  const gate = await gateFor(ctx, { identityFile: stranger });
  const r = await git(['ls-remote', `${gate.url}/app.git`], { home: ctx.home });
  assert.is.not(r.exitCode, 0);
  assert.match(r.all, /refused the key .*stranger_key \(Permission denied \(publickey\)\)/);
});

async function race(ctx: Ctx, gates: [TestGate, TestGate], label: string): Promise<void> {
  const homes = gates.map((g, i) => bottleHome(ctx, g, `${label}-${i}`));
  const works = gates.map((_, i) => path.join(ctx.root, `work-${label}-${i}`));
  await Promise.all(works.map((w, i) => gitOk(['clone', '--quiet', ctx.upstream, w], { home: homes[i]! })));
  const ids = await Promise.all(works.map((w, i) => commitFile(w, homes[i]!, `race-${label}-${i}.txt`, `${i}\n`)));
  const results = await Promise.all(works.map((w, i) => git(['push', 'origin', 'HEAD:main'], { cwd: w, home: homes[i]! })));
  const winners = results.map((r, i) => (r.exitCode === 0 ? i : -1)).filter((i) => i >= 0);
  assert.is(winners.length, 1, `exactly one push wins:\n${results.map((r) => r.all).join('\n---\n')}`);
  const w = winners[0]!;
  const loser = results[1 - w]!;
  assert.match(loser.all, /fetch first|non-fast-forward/, `the other push is a non-fast-forward: ${loser.all}`);
  assert.is(await gitOk(['rev-parse', 'main'], { cwd: ctx.bare, home: ctx.home }), ids[w]);
  const fsck = await git(['fsck', '--strict', '--no-dangling'], { cwd: ctx.bare, home: ctx.home });
  assert.is(fsck.exitCode, 0, fsck.all);
  // The loser's mirror never kept its refused commit on a ref.
  const loserMirror = gates[1 - w]!.mirror('app');
  assert.not.ok((await refsOf(loserMirror, ctx.home)).includes(ids[1 - w]!));
  // After pulling (rebase), the loser's push goes through.
  await gitOk(['pull', '--quiet', '--rebase'], { cwd: works[1 - w]!, home: homes[1 - w]! });
  const again = await git(['push', 'origin', 'HEAD:main'], { cwd: works[1 - w]!, home: homes[1 - w]! });
  assert.is(again.exitCode, 0, again.all);
  assert.is((await git(['fsck', '--strict', '--no-dangling'], { cwd: ctx.bare, home: ctx.home })).exitCode, 0);
}

Ssh('two bottles (two gates) push to the same branch at once: one wins, the other is a clean non-fast-forward', async (ctx) => {
  const a = await gateFor(ctx);
  const b = await gateFor(ctx);
  for (let round = 0; round < 3; round++) await race(ctx, [a, b], `two-${round}`);
});

Ssh('two clients of one gate push to the same branch at once: one wins, the other is a clean non-fast-forward', async (ctx) => {
  const g = await gateFor(ctx);
  for (let round = 0; round < 2; round++) await race(ctx, [g, g], `one-${round}`);
});

Ssh.before.each((ctx) => { (ctx as unknown as { t0: number }).t0 = Date.now(); });
Ssh.after.each((ctx) => { if (process.env.GG_TIMING) process.stderr.write(`  ${Date.now() - (ctx as unknown as { t0: number }).t0} ms\n`); });
Ssh.run();
