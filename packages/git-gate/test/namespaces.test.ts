/**
 * Refs outside refs/heads/ and refs/tags/, pushed through the gate with real git clients to a
 * file:// upstream: refused by default, refs/replace/ and refs/namespaces/ always, other
 * namespaces only with the entry's `refs` opt-in (and still under `protect`).
 */
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cleanup, commitFile, git, gitOk, hasObject, makeUpstream, startTestGate, tmpDir, type TestGate } from './helpers.js';

const Refs = suite<{ root: string; home: string; bare: string; t: TestGate }>('refs outside refs/heads/ and refs/tags/');

Refs.before(async (ctx) => {
  ctx.root = tmpDir();
  ctx.home = path.join(ctx.root, 'home');
  ctx.bare = await makeUpstream(ctx.root, 'app');
  ctx.t = await startTestGate(ctx.root, [{ name: 'app', upstream: `file://${ctx.bare}`, protect: ['main'] }]);
});

Refs.after(async (ctx) => {
  await ctx.t.close();
  cleanup(ctx.root);
});

const clone = async (ctx: { root: string; home: string }, url: string) => {
  const work = path.join(ctx.root, `work-${Math.random().toString(36).slice(2, 7)}`);
  await gitOk(['clone', '--quiet', url, work], { home: ctx.home });
  return work;
};

/** What a `+refs/*:refs/*` consumer of the upstream (a mirror clone) reads as main's README. */
const mirrorReadsMain = async (ctx: { root: string; home: string; bare: string }) => {
  const mirror = path.join(ctx.root, `mirror-${Math.random().toString(36).slice(2, 7)}`);
  await gitOk(['clone', '--quiet', '--mirror', ctx.bare, mirror], { home: ctx.home });
  return gitOk(['show', 'main:README.md'], { cwd: mirror, home: ctx.home });
};

Refs('refs/replace/<main\'s tip> is refused with its reason in the push output and the audit log; a mirror of the upstream still reads main as main', async (ctx) => {
  const work = await clone(ctx, `${ctx.t.url}/app.git`);
  const main = await gitOk(['rev-parse', 'origin/main'], { cwd: work, home: ctx.home });
  await gitOk(['checkout', '--quiet', '--orphan', 'evil'], { cwd: work, home: ctx.home });
  const evil = await commitFile(work, ctx.home, 'README.md', 'the agent wants this to be main\n');
  const upstreamBefore = await gitOk(['ls-remote', ctx.bare], { home: ctx.home });
  assert.is(await mirrorReadsMain(ctx), 'hello');
  for (const ref of [`refs/replace/${main}`, `refs/Replace/${main}`, `refs/replace./${main}`]) {
    const r = await git(['push', 'origin', `${evil}:${ref}`], { cwd: work, home: ctx.home });
    assert.is.not(r.exitCode, 0, `${ref}: ${r.all}`);
    assert.match(r.all, new RegExp(`remote: git-gate: ${ref.replace(/[.]/g, '\\.')} is refused in this bottle: a ref under refs/replace/ makes git show another commit in place of the one it names`), `${ref}: ${r.all}`);
    assert.match(r.all, /no "refs" opt-in allows it/, ref);
    const line = ctx.t.audit().find((a) => a.repo === 'app' && a.service === 'receive-pack' && a.decision === 'deny' && a.refs.some((u) => u.ref === ref && u.new === evil));
    assert.ok(line, `${ref}: the refusal is an audit line`);
    assert.match(line!.reason ?? '', /a ref under refs\/replace\/ makes git show another commit in place of the one it names/, ref);
  }
  // A server run with GIT_NAMESPACE=x serves refs/namespaces/x/refs/heads/main as its main.
  const ns = await git(['push', 'origin', `${evil}:refs/namespaces/x/refs/heads/main`], { cwd: work, home: ctx.home });
  assert.is.not(ns.exitCode, 0, ns.all);
  assert.match(ns.all, /refs\/namespaces\/x\/refs\/heads\/main is refused in this bottle: a ref under refs\/namespaces\/<name>\/ is what a server run with GIT_NAMESPACE=<name> serves as its own refs/);
  assert.is(await gitOk(['ls-remote', ctx.bare], { home: ctx.home }), upstreamBefore, 'the upstream is unchanged');
  assert.not.ok(await hasObject(ctx.bare, ctx.home, evil), 'the upstream never got the commit');
  assert.is(await mirrorReadsMain(ctx), 'hello', 'a +refs/* mirror of the upstream reads main as main');
  assert.is((await git(['for-each-ref', 'refs/replace/', 'refs/namespaces/'], { cwd: ctx.t.mirror('app'), home: ctx.home })).stdout, '', 'the gate\'s mirror keeps no such ref');
});

Refs('refs/notes/, refs/pull/, refs/remotes/, refs/original/, refs/for/ and refs/stash are refused by default; branches and tags still push', async (ctx) => {
  const work = await clone(ctx, `${ctx.t.url}/app.git`);
  const id = await commitFile(work, ctx.home, 'ns.txt', 'ns\n');
  await gitOk(['notes', 'add', '-m', 'a note', 'HEAD'], { cwd: work, home: ctx.home });
  const upstreamBefore = await gitOk(['ls-remote', ctx.bare], { home: ctx.home });
  const notes = await git(['push', 'origin', 'refs/notes/commits'], { cwd: work, home: ctx.home });
  assert.is.not(notes.exitCode, 0, notes.all);
  assert.match(notes.all, /remote: git-gate: refs\/notes\/commits is outside the refs this bottle may push \(refs\/heads\/ and refs\/tags\/\); creating it is refused/);
  assert.match(notes.all, /"refs": \["refs\/notes\/\*"\]/, 'the message names the opt-in');
  const line = ctx.t.audit().find((a) => a.decision === 'deny' && a.refs.some((u) => u.ref === 'refs/notes/commits'));
  assert.ok(line, 'the refusal is an audit line');
  assert.match(line!.reason ?? '', /refs\/notes\/commits is outside the refs this bottle may push/);
  for (const ref of ['refs/pull/1/merge', 'refs/remotes/origin/topic', 'refs/original/refs/heads/topic', 'refs/for/topic', 'refs/stash', 'refs/bisect/bad']) {
    const r = await git(['push', 'origin', `HEAD:${ref}`], { cwd: work, home: ctx.home });
    assert.is.not(r.exitCode, 0, `${ref}: ${r.all}`);
    // refs/stash has no namespace under refs/ (a name rule); the others are outside the pushed namespaces.
    assert.match(r.all, ref === 'refs/stash' ? /remote: git-gate: "refs\/stash" is not a ref name git accepts/ : new RegExp(`remote: git-gate: ${ref} is outside the refs this bottle may push`), `${ref}: ${r.all}`);
  }
  assert.is(await gitOk(['ls-remote', ctx.bare], { home: ctx.home }), upstreamBefore, 'the upstream is unchanged');
  // Controls: a branch and a tag go through; protect still guards tags (a tag main shadows the branch).
  for (const ref of ['refs/heads/ns-control', 'refs/tags/v-ns-control']) {
    const r = await git(['push', 'origin', `HEAD:${ref}`], { cwd: work, home: ctx.home });
    assert.is(r.exitCode, 0, `${ref}: ${r.all}`);
    assert.is(await gitOk(['rev-parse', ref], { cwd: ctx.bare, home: ctx.home }), id, ref);
  }
  const tagMain = await git(['push', 'origin', 'HEAD:refs/tags/main'], { cwd: work, home: ctx.home });
  assert.is.not(tagMain.exitCode, 0);
  assert.match(tagMain.all, /refs\/tags\/main would shadow a protected branch/);
  await gitOk(['push', '--quiet', 'origin', '--delete', 'ns-control', 'refs/tags/v-ns-control'], { cwd: work, home: ctx.home });
});

Refs('with "refs": ["refs/notes/*"] the entry pushes notes; protect applies inside the namespace, and refs/replace/ stays refused', async (ctx) => {
  const t = await startTestGate(ctx.root, [{ name: 'app', upstream: `file://${ctx.bare}`, protect: ['main', 'refs/notes/review'], refs: ['refs/notes/*'] }]);
  try {
    const work = await clone(ctx, `${t.url}/app.git`);
    const id = await commitFile(work, ctx.home, 'noted.txt', 'noted\n');
    await gitOk(['push', '--quiet', 'origin', 'HEAD:refs/heads/noted'], { cwd: work, home: ctx.home });
    await gitOk(['notes', 'add', '-m', 'reviewed', 'HEAD'], { cwd: work, home: ctx.home });
    const note = await gitOk(['rev-parse', 'refs/notes/commits'], { cwd: work, home: ctx.home });
    const r = await git(['push', 'origin', 'refs/notes/commits'], { cwd: work, home: ctx.home });
    assert.is(r.exitCode, 0, r.all);
    assert.match(r.all, /accepted the push/);
    assert.is(await gitOk(['rev-parse', 'refs/notes/commits'], { cwd: ctx.bare, home: ctx.home }), note, 'the upstream has the notes');
    assert.ok(t.audit().some((a) => a.decision === 'allow' && a.refs.some((u) => u.ref === 'refs/notes/commits' && u.new === note)));
    const review = await git(['push', 'origin', 'refs/notes/commits:refs/notes/review'], { cwd: work, home: ctx.home });
    assert.is.not(review.exitCode, 0);
    assert.match(review.all, /refs\/notes\/review is protected in this bottle \(protect: "refs\/notes\/review"\); creating it is refused/);
    const main = await gitOk(['rev-parse', 'origin/main'], { cwd: work, home: ctx.home });
    const replace = await git(['push', 'origin', `${id}:refs/replace/${main}`], { cwd: work, home: ctx.home });
    assert.is.not(replace.exitCode, 0);
    assert.match(replace.all, /a ref under refs\/replace\/ makes git show another commit/);
    // Still only the opted-in namespace.
    const pull = await git(['push', 'origin', 'HEAD:refs/pull/1/merge'], { cwd: work, home: ctx.home });
    assert.is.not(pull.exitCode, 0);
    assert.match(pull.all, /refs\/pull\/1\/merge is outside the refs this bottle may push \(refs\/heads\/, refs\/tags\/ and "refs": \["refs\/notes\/\*"\]\)/);
    assert.is((await git(['rev-parse', '--verify', '--quiet', 'refs/notes/review'], { cwd: ctx.bare, home: ctx.home })).exitCode, 1);
    await gitOk(['push', '--quiet', 'origin', '--delete', 'noted', 'refs/notes/commits'], { cwd: work, home: ctx.home });
    assert.is((await git(['rev-parse', '--verify', '--quiet', 'refs/notes/commits'], { cwd: ctx.bare, home: ctx.home })).exitCode, 1, 'an opted-in ref can be deleted again');
  } finally {
    await t.close();
  }
});

Refs.run();
