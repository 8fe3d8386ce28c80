/**
 * The gate end to end with real git clients, a real git daemon and file:// upstreams.
 */
import { mkdirSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execa } from 'execa';
import { cleanup, clientEnv, commitFile, commitUpstream, git, gitOk, hasObject, makeUpstream, rawPush, rawRequest, refsOf, startTestGate, tmpDir, type RawCommand, type TestGate } from './helpers.js';

const Gate = suite<{ root: string; home: string; bare: string; ro: string; t: TestGate }>('gate over file:// upstreams');

Gate.before(async (ctx) => {
  ctx.root = tmpDir();
  ctx.home = path.join(ctx.root, 'home');
  ctx.bare = await makeUpstream(ctx.root, 'app');
  ctx.ro = await makeUpstream(ctx.root, 'docs');
  ctx.t = await startTestGate(ctx.root, [
    { name: 'app', upstream: `file://${ctx.bare}`, protect: ['main', 'release/*'] },
    { name: 'docs', upstream: `file://${ctx.ro}`, push: false },
    { name: 'open', upstream: `file://${ctx.bare}` },
  ]);
});

Gate.after(async (ctx) => {
  await ctx.t.close();
  cleanup(ctx.root);
});

const clone = async (ctx: { root: string; home: string; t: TestGate }, name: string, dir = `${name}-${Math.random().toString(36).slice(2, 7)}`) => {
  const work = path.join(ctx.root, dir);
  await gitOk(['clone', '--quiet', `${ctx.t.url}/${name}.git`, work], { home: ctx.home });
  return work;
};

Gate('clone by the gate URL, commit, push a branch: the upstream has it, and so does the mirror', async (ctx) => {
  const work = await clone(ctx, 'open');
  assert.is(await gitOk(['symbolic-ref', '--short', 'HEAD'], { cwd: work, home: ctx.home }), 'main', 'the clone checks out the upstream default branch');
  const id = await commitFile(work, ctx.home, 'feature.txt', 'x\n');
  const r = await git(['push', 'origin', 'HEAD:refs/heads/feature'], { cwd: work, home: ctx.home });
  assert.is(r.exitCode, 0, r.all);
  assert.match(r.all, /accepted the push/);
  assert.is(await gitOk(['rev-parse', 'refs/heads/feature'], { cwd: ctx.bare, home: ctx.home }), id);
  assert.is(await gitOk(['rev-parse', 'refs/heads/feature'], { cwd: ctx.t.mirror('open'), home: ctx.home }), id);
  const push = ctx.t.audit().filter((a) => a.service === 'receive-pack' && a.repo === 'open' && a.decision === 'allow');
  assert.ok(push.some((a) => a.refs.some((u) => u.ref === 'refs/heads/feature' && u.new === id)), 'the push is an audit line with its ref');
});

Gate('fetch sees a commit made upstream meanwhile (the mirror is refreshed first)', async (ctx) => {
  const work = await clone(ctx, 'open');
  const id = await commitUpstream(ctx.root, ctx.bare, `meanwhile-${Date.now()}.txt`);
  await gitOk(['fetch', '--quiet', 'origin'], { cwd: work, home: ctx.home });
  assert.is(await gitOk(['rev-parse', 'origin/main'], { cwd: work, home: ctx.home }), id);
  const fetches = ctx.t.audit().filter((a) => a.service === 'upload-pack' && a.repo === 'open' && a.decision === 'allow');
  assert.ok(fetches.length >= 2, 'clone and fetch are audit lines');
  assert.equal(fetches[0]!.refs, []);
});

Gate('a branch deleted upstream disappears from the mirror', async (ctx) => {
  await gitOk(['branch', 'gone', 'main'], { cwd: ctx.bare, home: ctx.home });
  const work = await clone(ctx, 'open');
  assert.ok((await gitOk(['branch', '-r'], { cwd: work, home: ctx.home })).includes('origin/gone'));
  await gitOk(['branch', '-D', 'gone'], { cwd: ctx.bare, home: ctx.home });
  await gitOk(['fetch', '--quiet', '--prune', 'origin'], { cwd: work, home: ctx.home });
  assert.not.ok((await gitOk(['branch', '-r'], { cwd: work, home: ctx.home })).includes('origin/gone'));
  assert.is((await git(['rev-parse', '--verify', 'refs/heads/gone'], { cwd: ctx.t.mirror('open'), home: ctx.home })).exitCode, 128);
});

Gate('non-fast-forward: the upstream refuses, the client sees its message, the mirror keeps nothing', async (ctx) => {
  const work = await clone(ctx, 'open');
  await gitOk(['push', '--quiet', 'origin', 'HEAD:refs/heads/nff'], { cwd: work, home: ctx.home });
  // Someone else moves nff upstream; the bottle's next push is based on the old tip.
  const other = path.join(ctx.root, `other-nff-${Date.now()}`);
  await gitOk(['clone', '--quiet', '--branch', 'nff', ctx.bare, other], { home: ctx.home });
  await commitFile(other, ctx.home, 'theirs.txt', 'theirs\n');
  await gitOk(['push', '--quiet', 'origin', 'HEAD:nff'], { cwd: other, home: ctx.home });
  const upstreamBefore = await refsOf(ctx.bare, ctx.home);
  const mine = await commitFile(work, ctx.home, 'mine.txt', 'mine\n');
  // The gate refreshed its mirror when the push connected, so the client itself sees "fetch first".
  const plain = await git(['push', 'origin', 'HEAD:refs/heads/nff'], { cwd: work, home: ctx.home });
  assert.is.not(plain.exitCode, 0);
  assert.match(plain.all, /\[rejected\][^\n]*(fetch first|non-fast-forward)/);
  const mirrorBefore = await refsOf(ctx.t.mirror('open'), ctx.home);
  // A forced push with a lease on the tip the bottle last saw is refused too (the branch moved);
  // the mirror keeps neither the ref nor the objects.
  const leased = await git(['push', '--force-with-lease=refs/heads/nff', 'origin', 'HEAD:refs/heads/nff'], { cwd: work, home: ctx.home });
  assert.is.not(leased.exitCode, 0, leased.all);
  assert.is(await refsOf(ctx.bare, ctx.home), upstreamBefore, 'the upstream is unchanged');
  assert.is(await refsOf(ctx.t.mirror('open'), ctx.home), mirrorBefore, 'the mirror is unchanged');
  assert.not.ok(await hasObject(ctx.t.mirror('open'), ctx.home, mine), 'the refused commit is not in the mirror');
});

Gate('a push that sends no ref update (client-side fetch first, nothing to push) is still an audit line', async (ctx) => {
  const work = await clone(ctx, 'open');
  const emptyPushes = () => ctx.t.audit().filter((a) => a.service === 'receive-pack' && a.repo === 'open' && a.refs.length === 0).length;
  const before = emptyPushes();
  const upToDate = await git(['push', 'origin', 'HEAD:refs/heads/main'], { cwd: work, home: ctx.home });
  assert.is(upToDate.exitCode, 0, upToDate.all);
  assert.match(upToDate.all, /Everything up-to-date/);
  await commitUpstream(ctx.root, ctx.bare, `moved-${Date.now()}.txt`);
  await commitFile(work, ctx.home, 'stale.txt', 'stale\n');
  const stale = await git(['push', 'origin', 'HEAD:refs/heads/main'], { cwd: work, home: ctx.home });
  assert.is.not(stale.exitCode, 0);
  assert.match(stale.all, /\[rejected\][^\n]*fetch first/);
  for (let i = 0; i < 50 && emptyPushes() < before + 2; i++) await new Promise((r) => setTimeout(r, 20));
  assert.is(emptyPushes(), before + 2, 'one line per push');
  const line = ctx.t.audit().filter((a) => a.service === 'receive-pack' && a.refs.length === 0).pop()!;
  assert.equal([line.decision, line.reason, line.upstream], ['allow', null, `file://${ctx.bare}`]);
});

Gate('a forced push is forwarded (as a lease on the tip the bottle saw) and the upstream takes it', async (ctx) => {
  const work = await clone(ctx, 'open');
  await commitFile(work, ctx.home, 'first.txt', '1\n');
  await gitOk(['push', '--quiet', 'origin', 'HEAD:refs/heads/rewrite'], { cwd: work, home: ctx.home });
  await gitOk(['commit', '--quiet', '--amend', '-m', 'rewritten'], { cwd: work, home: ctx.home });
  const plain = await git(['push', 'origin', 'HEAD:refs/heads/rewrite'], { cwd: work, home: ctx.home });
  assert.is.not(plain.exitCode, 0, 'a plain push of a rewritten branch is a non-fast-forward');
  const forced = await git(['push', '--force', 'origin', 'HEAD:refs/heads/rewrite'], { cwd: work, home: ctx.home });
  assert.is(forced.exitCode, 0, forced.all);
  const head = await gitOk(['rev-parse', 'HEAD'], { cwd: work, home: ctx.home });
  assert.is(await gitOk(['rev-parse', 'refs/heads/rewrite'], { cwd: ctx.bare, home: ctx.home }), head);
  assert.is(await gitOk(['rev-parse', 'refs/heads/rewrite'], { cwd: ctx.t.mirror('open'), home: ctx.home }), head);
});

Gate('a pre-receive hook on the upstream refuses: the client sees the upstream message; mirror unchanged', async (ctx) => {
  const hook = path.join(ctx.bare, 'hooks', 'pre-receive');
  writeFileSync(hook, '#!/bin/sh\necho "upstream policy: every commit needs a ticket number" >&2\nexit 1\n');
  chmodSync(hook, 0o755);
  try {
    const work = await clone(ctx, 'open');
    const id = await commitFile(work, ctx.home, 'hooked.txt', 'x\n');
    const mirrorBefore = await refsOf(ctx.t.mirror('open'), ctx.home);
    const upstreamBefore = await refsOf(ctx.bare, ctx.home);
    const r = await git(['push', 'origin', 'HEAD:refs/heads/hooked'], { cwd: work, home: ctx.home });
    assert.is.not(r.exitCode, 0);
    assert.match(r.all, /upstream policy: every commit needs a ticket number/);
    assert.match(r.all, /refused the push/);
    assert.match(r.all, /pre-receive hook declined/);
    assert.is(await refsOf(ctx.t.mirror('open'), ctx.home), mirrorBefore);
    assert.is(await refsOf(ctx.bare, ctx.home), upstreamBefore);
    assert.not.ok(await hasObject(ctx.t.mirror('open'), ctx.home, id));
    const line = ctx.t.audit().find((a) => a.service === 'receive-pack' && a.decision === 'deny' && a.refs.some((u) => u.ref === 'refs/heads/hooked'));
    assert.ok(line, 'the refused push is an audit line');
    assert.match(line!.reason ?? '', /upstream refused/);
  } finally {
    writeFileSync(hook, '#!/bin/sh\nexit 0\n');
  }
});

Gate('protect: pushing to, creating and deleting protected refs is refused with a message that says so', async (ctx) => {
  const work = await clone(ctx, 'app');
  await commitFile(work, ctx.home, 'p.txt', 'p\n');
  const toMain = await git(['push', 'origin', 'HEAD:main'], { cwd: work, home: ctx.home });
  assert.is.not(toMain.exitCode, 0);
  assert.match(toMain.all, /refs\/heads\/main is protected in this bottle \(protect: "main"\); pushing to it is refused/);
  const release = await git(['push', 'origin', 'HEAD:refs/heads/release/1.0/fix'], { cwd: work, home: ctx.home });
  assert.is.not(release.exitCode, 0);
  assert.match(release.all, /refs\/heads\/release\/1.0\/fix is protected in this bottle \(protect: "release\/\*"\); creating it is refused/);
  // A protected branch that already exists upstream cannot be deleted through the gate.
  await gitOk(['branch', 'release/2', 'main'], { cwd: ctx.bare, home: ctx.home });
  const upstreamWithRelease = await refsOf(ctx.bare, ctx.home);
  await gitOk(['fetch', '--quiet', 'origin'], { cwd: work, home: ctx.home });
  const del = await git(['push', 'origin', '--delete', 'release/2'], { cwd: work, home: ctx.home });
  assert.is.not(del.exitCode, 0);
  assert.match(del.all, /refs\/heads\/release\/2 is protected in this bottle \(protect: "release\/\*"\); deleting it is refused/);
  const delMain = await git(['push', 'origin', ':refs/heads/main'], { cwd: work, home: ctx.home });
  assert.is.not(delMain.exitCode, 0);
  assert.match(delMain.all, /deleting it is refused/);
  assert.is(await refsOf(ctx.bare, ctx.home), upstreamWithRelease);
  // An unprotected branch still goes through, and can be deleted.
  assert.is((await git(['push', 'origin', 'HEAD:refs/heads/agent-work'], { cwd: work, home: ctx.home })).exitCode, 0);
  assert.is((await git(['push', 'origin', '--delete', 'agent-work'], { cwd: work, home: ctx.home })).exitCode, 0);
  assert.is((await git(['rev-parse', '--verify', 'refs/heads/agent-work'], { cwd: ctx.bare, home: ctx.home })).exitCode, 128);
  const denied = ctx.t.audit().filter((a) => a.repo === 'app' && a.decision === 'deny');
  assert.ok(denied.some((a) => /protected/.test(a.reason ?? '') && a.refs.some((u) => u.ref === 'refs/heads/main')));
});

Gate('protect: no ref that main could resolve to is pushed (tag main, MAIN, refs/heads/refs/heads/main, …); the upstream and a fresh clone keep main', async (ctx) => {
  const work = await clone(ctx, 'app');
  const evil = await commitFile(work, ctx.home, 'shadow.txt', 'the agent wants this to be main\n');
  const upstreamMain = await gitOk(['rev-parse', 'refs/heads/main'], { cwd: ctx.bare, home: ctx.home });
  const lsRemote = () => gitOk(['ls-remote', ctx.bare], { home: ctx.home });
  const upstreamBefore = await lsRemote();
  const attempts: [string, RegExp][] = [
    ['refs/tags/main', /resolve the short name main to refs\/tags\/main before refs\/heads\/main/],
    ['refs/heads/MAIN', /case-insensitive upstream or clone \(macOS, Windows\) it is the same file as refs\/heads\/main/],
    ['refs/heads/Main', /same file as refs\/heads\/main/],
    ['refs/heads/refs/heads/main', /protected branch main behind extra refs\/, heads\/, tags\/ or remotes\/ prefixes/],
    ['refs/tags/heads/main', /behind extra refs\/, heads\/, tags\/ or remotes\/ prefixes/],
    ['refs/remotes/main', /refs\/remotes\/main wherever no branch main exists/],
    ['refs/tags/origin/main', /resolve origin\/main to a tag refs\/tags\/origin\/main before a clone's remote-tracking branch/],
    ['refs/heads/ma\u200cin', /same file as refs\/heads\/main/],
    ['refs/tags/RELEASE/1.0', /protect: "release\/\*"/],
  ];
  for (const [ref, why] of attempts) {
    const r = await git(['push', 'origin', `HEAD:${ref}`], { cwd: work, home: ctx.home });
    assert.is.not(r.exitCode, 0, `${ref}: ${r.all}`);
    assert.match(r.all, new RegExp(`remote: git-gate: ${ref.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} would shadow a protected branch in this bottle \\(protect: "`), `${ref}: ${r.all}`);
    assert.match(r.all, why, `${ref}: ${r.all}`);
    assert.match(r.all, /Push to a branch that is not protected instead, e\.g\. git push origin HEAD:agent-work/, ref);
    const line = ctx.t.audit().find((a) => a.repo === 'app' && a.service === 'receive-pack' && a.decision === 'deny' && a.refs.some((u) => u.ref === ref && u.new === evil));
    assert.ok(line, `${ref}: the refusal is an audit line`);
    assert.match(line!.reason ?? '', /would shadow a protected branch/);
  }
  // A branch named HEAD is refused whatever is protected.
  const head = await git(['push', 'origin', 'HEAD:refs/heads/HEAD'], { cwd: work, home: ctx.home });
  assert.is.not(head.exitCode, 0);
  assert.match(head.all, /refs\/heads\/HEAD is refused in this bottle: a ref with a component named HEAD/);
  // Several refs in one push, one of them a shadow: the whole push is refused.
  const mixed = await git(['push', 'origin', 'HEAD:refs/heads/shadow-mixed', 'HEAD:refs/tags/main'], { cwd: work, home: ctx.home });
  assert.is.not(mixed.exitCode, 0);
  assert.is(await lsRemote(), upstreamBefore, 'the upstream is unchanged (git ls-remote)');
  assert.not.ok(await hasObject(ctx.bare, ctx.home, evil), 'the upstream never got the commit');
  // A fresh clone through the gate, and one straight from the upstream, still take main for the upstream's main.
  for (const source of [`${ctx.t.url}/app.git`, ctx.bare]) {
    const fresh = path.join(ctx.root, `fresh-${Math.random().toString(36).slice(2, 7)}`);
    await gitOk(['clone', '--quiet', source, fresh], { home: ctx.home });
    const r = await git(['rev-parse', 'main'], { cwd: fresh, home: ctx.home });
    assert.is(r.stdout.trim(), upstreamMain, source);
    assert.not.match(r.stderr, /ambiguous/, source);
    assert.is(await gitOk(['rev-parse', 'origin/main'], { cwd: fresh, home: ctx.home }), upstreamMain, source);
  }
  // Controls: the same commit goes out under names that shadow nothing, and the upstream has them
  // (features/, as an earlier test leaves a branch named feature on this upstream).
  for (const ref of ['refs/heads/agent-work-shadow', 'refs/heads/mainline', 'refs/heads/features/main-fix', 'refs/tags/v-shadow-control']) {
    const r = await git(['push', 'origin', `HEAD:${ref}`], { cwd: work, home: ctx.home });
    assert.is(r.exitCode, 0, `${ref}: ${r.all}`);
    assert.is(await gitOk(['rev-parse', ref], { cwd: ctx.bare, home: ctx.home }), evil, ref);
  }
  assert.is((await git(['push', 'origin', '--delete', 'agent-work-shadow', 'mainline', 'features/main-fix', 'refs/tags/v-shadow-control'], { cwd: work, home: ctx.home })).exitCode, 0);
  assert.is(await lsRemote(), upstreamBefore);
});

Gate('ref names no git client sends (.lock, a space, a trailing slash) are refused before anything is forwarded', async (ctx) => {
  const work = await clone(ctx, 'open');
  const id = await commitFile(work, ctx.home, 'raw.txt', 'raw\n');
  const base = await gitOk(['rev-parse', 'origin/main'], { cwd: work, home: ctx.home });
  const zero = '0'.repeat(40);
  const upstreamBefore = await gitOk(['ls-remote', ctx.bare], { home: ctx.home });
  const port = ctx.t.gate.port!;
  const push = (ref: string) => rawPush(port, '/open.git', { old: zero, new: id, ref }, { repo: work, home: ctx.home, revs: [id, `^${base}`] });
  for (const [ref, why] of [
    ['refs/heads/main.lock', /ends in "\.lock", the name of git's lock file/],
    ['refs/heads/raw-a raw-b', /contains a space/],
    ['refs/heads/raw-dir/', /ends in "\/" or "\."/],
  ] as const) {
    const said = await push(ref);
    assert.match(said, /git-gate: ".*" is not a ref name git accepts/, `${ref}: ${said}`);
    assert.match(said, why, `${ref}: ${said}`);
    assert.match(said, /nothing was sent to the upstream/);
    assert.not.match(said, /accepted the push/);
  }
  // Before the fix the name with a space reached the policy as refs/heads/raw-a and was forwarded.
  assert.is(await gitOk(['ls-remote', ctx.bare], { home: ctx.home }), upstreamBefore, 'the upstream is unchanged');
  // Control: the same raw client pushes an ordinary name, and the upstream has it.
  const ok = await push('refs/heads/raw-control');
  assert.match(ok, /accepted the push/, ok);
  assert.match(ok, /ok refs\/heads\/raw-control/, ok);
  assert.is(await gitOk(['rev-parse', 'refs/heads/raw-control'], { cwd: ctx.bare, home: ctx.home }), id);
  await gitOk(['push', '--quiet', 'origin', '--delete', 'raw-control'], { cwd: work, home: ctx.home });
});

Gate('a ref name with a line break or another control character refuses the whole push before git or the upstream sees it', async (ctx) => {
  const work = await clone(ctx, 'open');
  const id = await commitFile(work, ctx.home, 'smuggle.txt', 'smuggle\n');
  const base = await gitOk(['rev-parse', 'origin/main'], { cwd: work, home: ctx.home });
  const zero = '0'.repeat(40);
  const port = ctx.t.gate.port!;
  const pack = { repo: work, home: ctx.home, revs: [id, `^${base}`] };
  const upstreamBefore = await gitOk(['ls-remote', ctx.bare], { home: ctx.home });
  const mirrorBefore = await refsOf(ctx.t.mirror('open'), ctx.home);
  const deniedBefore = ctx.t.audit().filter((a) => a.decision === 'deny').length;
  // receive-pack writes each name to the pre-receive hook as "<old> <new> <ref>\n": a name with a
  // line break becomes two lines that each look like an ordinary update (here two valid,
  // unprotected branches, which the hook used to forward to the upstream).
  const cases: [string, RawCommand[]][] = [
    ['a name that spells a second update line', [{ old: zero, new: id, ref: `refs/heads/smuggle-a\n${zero} ${id} refs/heads/smuggle-b` }]],
    // The capabilities follow a NUL, so this line keeps its trailing newline in the name: the hook saw "…smuggle-c" and an empty line.
    ['a name ending in a line break', [{ old: zero, new: id, ref: 'refs/heads/smuggle-c\n' }]],
    // A second command (no capabilities): receive-pack drops one trailing newline, not two.
    ['a second command ending in two line breaks', [{ old: zero, new: id, ref: 'refs/heads/smuggle-d' }, { raw: Buffer.from(`${zero} ${id} refs/heads/smuggle-e\n\n`) }]],
    ['a carriage return', [{ old: zero, new: id, ref: 'refs/heads/smuggle-f\rrefs/heads/smuggle-g' }]],
    ['a tab', [{ old: zero, new: id, ref: 'refs/heads/smuggle-h\tx' }]],
    ['a name that is not UTF-8', [{ raw: Buffer.concat([Buffer.from(`${zero} ${id} refs/heads/smuggle-\xff`, 'latin1'), Buffer.from('\0report-status side-band-64k')]) }]],
    ['a line that is not "<old> <new> <ref>"', [{ old: zero, new: id, ref: 'refs/heads/smuggle-i' }, { raw: Buffer.from(`${zero}  refs/heads/smuggle-j`) }]],
  ];
  for (const [what, cmds] of cases) {
    const said = await rawPush(port, '/open.git', cmds, pack);
    assert.match(said, /git-gate: /, `${what}: ${JSON.stringify(said)}`);
    assert.match(said, /the whole push was refused and nothing was sent to the upstream/, `${what}: ${JSON.stringify(said)}`);
    assert.not.match(said, /accepted the push/, what);
    assert.not.match(said, /\bok refs\//, what);
    assert.is(await gitOk(['ls-remote', ctx.bare], { home: ctx.home }), upstreamBefore, `${what}: the upstream is unchanged`);
    assert.is(await refsOf(ctx.t.mirror('open'), ctx.home), mirrorBefore, `${what}: the mirror is unchanged`);
  }
  const denied = ctx.t.audit().filter((a) => a.decision === 'deny').slice(deniedBefore);
  assert.is(denied.length, cases.length, 'each refused push is one audit line');
  for (const a of denied) {
    assert.is(a.service, 'receive-pack');
    assert.is(a.repo, 'open');
    assert.match(a.reason ?? '', /the whole push was refused and nothing was sent to the upstream/);
  }
  assert.ok(denied[0]!.refs.some((u) => u.ref === `refs/heads/smuggle-a\n${zero} ${id} refs/heads/smuggle-b`), 'the audit line names the ref as it was sent');
  // Control: the same raw client pushes two ordinary names in one push, and the upstream has both.
  const ok = await rawPush(port, '/open.git', [{ old: zero, new: id, ref: 'refs/heads/smuggle-ok-1' }, { raw: Buffer.from(`${zero} ${id} refs/heads/smuggle-ok-2\n`) }], pack);
  assert.match(ok, /accepted the push/, ok);
  assert.match(ok, /ok refs\/heads\/smuggle-ok-1/, ok);
  assert.match(ok, /ok refs\/heads\/smuggle-ok-2/, ok);
  for (const ref of ['refs/heads/smuggle-ok-1', 'refs/heads/smuggle-ok-2']) assert.is(await gitOk(['rev-parse', ref], { cwd: ctx.bare, home: ctx.home }), id, ref);
  await gitOk(['push', '--quiet', 'origin', '--delete', 'smuggle-ok-1', 'smuggle-ok-2'], { cwd: work, home: ctx.home });
});

Gate('a push of 3,000 tags at once is read whole by the front and the hook, and goes through', async (ctx) => {
  // The hook once read its stdin with readFileSync, which fails with EAGAIN on the non-blocking
  // pipe git gives it as soon as the input outgrows the pipe's buffer.
  const bare = await makeUpstream(ctx.root, 'many');
  const t = await startTestGate(ctx.root, [{ name: 'many', upstream: `file://${bare}` }]);
  try {
    const work = await clone({ ...ctx, t }, 'many');
    const id = await commitFile(work, ctx.home, 'many.txt', 'many\n');
    const tags = Array.from({ length: 3000 }, (_, i) => `refs/tags/many-${String(i).padStart(4, '0')}-${'x'.repeat(40)}`);
    await execa('git', ['update-ref', '--stdin'], { cwd: work, env: clientEnv(ctx.home), extendEnv: false, input: tags.map((r) => `create ${r} ${id}\n`).join('') });
    const r = await git(['push', '--quiet', 'origin', '--tags'], { cwd: work, home: ctx.home });
    assert.is(r.exitCode, 0, r.all.slice(-2000));
    assert.is((await gitOk(['for-each-ref', '--format=%(refname)', 'refs/tags/'], { cwd: bare, home: ctx.home })).split('\n').length, tags.length);
    const line = t.audit().find((a) => a.service === 'receive-pack' && a.decision === 'allow' && a.refs.length === tags.length);
    assert.ok(line, 'one audit line with every ref');
  } finally {
    await t.close();
  }
});

Gate('push: false: clone works, push is refused before anything is sent', async (ctx) => {
  const work = await clone(ctx, 'docs');
  await commitFile(work, ctx.home, 'd.txt', 'd\n');
  const before = await refsOf(ctx.ro, ctx.home);
  const r = await git(['push', 'origin', 'HEAD:refs/heads/new'], { cwd: work, home: ctx.home });
  assert.is.not(r.exitCode, 0);
  assert.match(r.all, /remote error: git-gate: docs\.git is read-only in this bottle \(push: false\)/);
  assert.is(await refsOf(ctx.ro, ctx.home), before);
  assert.ok(ctx.t.audit().some((a) => a.repo === 'docs' && a.service === 'receive-pack' && a.decision === 'deny' && /read-only/.test(a.reason ?? '')));
});

Gate('undeclared names and path tricks are refused with a clear message, by a real client', async (ctx) => {
  const cases: [string, RegExp][] = [
    ['other.git', /repository "\/other\.git" is not declared for this bottle \(declared: app\.git, docs\.git, open\.git\)/],
    ['../app.git', /refused path "\/\.\.\/app\.git"/],
    ['app', /"\/app" is not declared.*did you mean app\.git\?/],
    ['app.git.git', /"\/app\.git\.git" is not declared.*did you mean app\.git\?/],
    ['APP.git', /"\/APP\.git" is not declared.*did you mean app\.git\?/],
    ['app.git/', /refused path "\/app\.git\/"/],
    ['app.git/objects', /refused path/],
  ];
  for (const [p, want] of cases) {
    const r = await git(['ls-remote', `${ctx.t.url}/${p}`], { home: ctx.home });
    assert.is.not(r.exitCode, 0, p);
    assert.match(r.all, /fatal: remote error: git-gate: /, p);
    assert.match(r.all, want, `${p}: ${r.all}`);
  }
});

Gate('raw requests: absolute paths, ~user, //, symlinks, upload-archive, other services and junk are refused', async (ctx) => {
  const port = ctx.t.gate.port!;
  // A symlink planted beside the mirrors is never served: only declared names resolve.
  symlinkSync(ctx.bare, path.join(ctx.t.gate.reposDir, 'planted.git'));
  const cases: [string | Buffer, RegExp][] = [
    ['git-upload-pack /etc/passwd\0host=gate\0', /ERR git-gate: refused path "\/etc\/passwd"/],
    ['git-upload-pack //app.git\0host=gate\0', /ERR git-gate: refused path "\/\/app\.git"/],
    ['git-upload-pack ~root/app.git\0host=gate\0', /ERR git-gate: refused path "~root\/app\.git"/],
    ['git-upload-pack /~root/app.git\0host=gate\0', /ERR git-gate: refused path/],
    ['git-upload-pack app.git\0host=gate\0', /ERR git-gate: refused path "app\.git"/],
    ['git-upload-pack /./app.git\0host=gate\0', /ERR git-gate: refused path/],
    [`git-upload-pack ${ctx.bare}\0host=gate\0`, /ERR git-gate: refused path/],
    ['git-upload-pack /planted.git\0host=gate\0', /ERR git-gate: repository "\/planted\.git" is not declared/],
    ['git-upload-archive /app.git\0host=gate\0', /ERR git-gate: git archive --remote \(upload-archive\) is not served/],
    ['git-frobnicate /app.git\0host=gate\0', /ERR git-gate: service "git-frobnicate" is not served/],
    [Buffer.from('GET / HTTP/1.1\r\nHost: gate\r\n\r\n'), /ERR git-gate: not a git:\/\/ request/],
    ['hello\0', /ERR git-gate: not a git:\/\/ request/],
  ];
  for (const [line, want] of cases) {
    const got = await rawRequest(port, line);
    assert.match(got, want, `${JSON.stringify(String(line))} -> ${JSON.stringify(got)}`);
  }
  const real = await git(['archive', `--remote=${ctx.t.url}/app.git`, 'HEAD'], { home: ctx.home });
  assert.is.not(real.exitCode, 0);
  assert.match(real.all, /remote error: git-gate: git archive --remote \(upload-archive\) is not served/);
  const lines = ctx.t.audit().filter((a) => a.decision === 'deny');
  assert.ok(lines.some((a) => a.repo === '/planted.git'));
  assert.ok(lines.some((a) => a.service === 'upload-archive'));
  assert.ok(lines.some((a) => a.service === 'frobnicate'));
});

Gate('every audit line has time, service, repo, refs, decision and reason', (ctx) => {
  const lines = ctx.t.audit();
  assert.ok(lines.length > 10);
  for (const l of lines) {
    assert.type(l.time, 'string');
    assert.ok(!Number.isNaN(Date.parse(l.time)));
    assert.is(l.source, 'git-gate');
    assert.type(l.service, 'string');
    assert.type(l.repo, 'string');
    assert.ok(Array.isArray(l.refs));
    assert.ok(l.decision === 'allow' || l.decision === 'deny');
    assert.ok(l.decision === 'allow' ? l.reason === null : typeof l.reason === 'string' && l.reason.length > 0);
  }
});

Gate.run();

const Mirrors = suite('mirror folders');

Mirrors('a symlink where a mirror would be stops the gate from starting', async () => {
  const root = tmpDir();
  try {
    const bare = await makeUpstream(root, 'app');
    const dataDir = path.join(root, 'data');
    mkdirSync(path.join(dataDir, 'repos'), { recursive: true });
    symlinkSync(bare, path.join(dataDir, 'repos', 'app.git'));
    const { parseGitGateConfig, startGitGate } = await import('@bot-bottle/git-gate');
    const config = parseGitGateConfig({ listen: { host: '127.0.0.1', port: 0 }, dataDir, upstreams: [{ name: 'app', upstream: `file://${bare}`, identityFile: null, knownHosts: null, push: true, protect: [] }] });
    try {
      await startGitGate(config);
      assert.unreachable('the gate started over a symlink');
    } catch (e) {
      assert.match((e as Error).message, /app\.git is a symbolic link; the gate serves only folders it made itself/);
    }
  } finally {
    cleanup(root);
  }
});

Mirrors.run();
