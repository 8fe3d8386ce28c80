/**
 * protect against shadowing: every ref a user's short name could resolve to, compared the way a
 * case-insensitive upstream or clone compares it, is refused; ordinary names still pass.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { foldRefName, protectionOf, pushPolicyProblem, refNameProblem, refsPatternProblem } from '@bot-bottle/git-gate';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const Z = '0'.repeat(40);
const create = (ref: string) => [{ ref, old: Z, new: B }];

const Shadow = suite('protect: refs that shadow a protected name');

Shadow('every ref git rev-parse / checkout could resolve the short name main to is refused', () => {
  // git's order for a short name: <name>, refs/<name>, refs/tags/<name>, refs/heads/<name>,
  // refs/remotes/<name>, refs/remotes/<name>/HEAD (the last also a HEAD problem, below).
  const cases: [string, string][] = [
    ['refs/heads/main', 'exact'],
    ['refs/tags/main', 'dwim'],
    ['refs/remotes/main', 'dwim'],
  ];
  for (const [ref, kind] of cases) {
    const p = protectionOf(ref, ['main']);
    assert.ok(p, ref);
    assert.is(p!.pattern, 'main', ref);
    assert.is(p!.kind, kind, ref);
  }
  assert.match(pushPolicyProblem('app', true, ['main'], create('refs/tags/main'))!, /^git-gate: refs\/tags\/main would shadow a protected branch in this bottle \(protect: "main"\): git rev-parse and git checkout resolve the short name main to refs\/tags\/main before refs\/heads\/main, so every clone would take this tag for the branch; creating it is refused\. Push to a branch that is not protected instead, e\.g\. git push origin HEAD:agent-work$/);
  assert.match(pushPolicyProblem('app', true, ['main'], create('refs/remotes/main/HEAD'))!, /refs\/remotes\/main\/HEAD is refused in this bottle: a ref with a component named HEAD/);
});

Shadow('case and Unicode: the same file on a case-insensitive upstream (macOS, Windows) is refused', () => {
  for (const ref of [
    'refs/heads/MAIN',
    'refs/heads/Main',
    'refs/HEADS/main',
    'refs/heads/ma\u200cin', // a zero-width non-joiner, which HFS+ ignores in file names
    'refs/heads/\uff4d\uff41\uff49\uff4e', // full-width "main"
    'refs/heads/main.', // Windows drops trailing dots (git itself refuses a trailing "." anyway)
  ]) {
    const p = protectionOf(ref, ['main']);
    assert.ok(p, ref);
    assert.is(p!.kind, 'folded', ref);
  }
  assert.match(pushPolicyProblem('app', true, ['main'], create('refs/heads/MAIN'))!, /refs\/heads\/MAIN would shadow a protected branch in this bottle \(protect: "main"\): on a case-insensitive upstream or clone \(macOS, Windows\) it is the same file as refs\/heads\/main/);
  assert.is(protectionOf('refs/TAGS/Main', ['main'])!.kind, 'dwim');
  // Folding applies to the pattern as well, and to special folds ("ſ" is a long s, "K" the Kelvin sign).
  assert.ok(protectionOf('refs/heads/main', ['MAIN']));
  assert.ok(protectionOf('refs/heads/\u017Fecret', ['secret']));
  assert.ok(protectionOf('refs/heads/\u212Aeep', ['keep']));
  // Windows drops a component's trailing dots: release./1 is the folder release/.
  assert.is(protectionOf('refs/heads/release./1', ['release/*'])!.kind, 'folded');
  assert.is(foldRefName('refs/heads/Ma\u200dIN.'), 'refs/heads/main');
  // Composed and decomposed accents are one name (HFS+ stores the decomposed form).
  assert.is(protectionOf('refs/heads/cafe\u0301', ['caf\u00e9'])?.kind, 'folded');
  // A look-alike from another script is a different name on every file system; it shadows nothing.
  assert.is(protectionOf('refs/heads/m\u0430in', ['main']), null);
});

Shadow('extra refs/, heads/, tags/, remotes/ prefixes are stripped', () => {
  for (const ref of ['refs/heads/refs/heads/main', 'refs/tags/heads/main', 'refs/heads/heads/main', 'refs/heads/tags/main', 'refs/heads/remotes/main', 'refs/refs/heads/main', 'refs/tags/refs/tags/main', 'refs/heads/refs/remotes/refs/tags/MAIN']) {
    const p = protectionOf(ref, ['main']);
    assert.ok(p, ref);
    assert.is(p!.pattern, 'main', ref);
  }
  assert.is(protectionOf('refs/heads/refs/heads/main', ['main'])!.kind, 'nested');
  assert.is(protectionOf('refs/tags/heads/main', ['main'])!.kind, 'nested', 'the plainest reason wins');
  assert.match(pushPolicyProblem('app', true, ['main'], create('refs/heads/refs/heads/main'))!, /refs\/heads\/refs\/heads\/main would shadow a protected branch in this bottle \(protect: "main"\): its name is the protected branch main behind extra refs\/, heads\/, tags\/ or remotes\/ prefixes/);
  // The branch heads/x is what refs/heads/x spells as refs/<name>: protecting heads/* guards it from that too.
  assert.is(protectionOf('refs/heads/x', ['heads/*'])!.kind, 'dwim');
});

Shadow('a tag or remote-tracking ref posing as <remote>/main is refused; a branch origin/main is not', () => {
  for (const ref of ['refs/tags/origin/main', 'refs/tags/upstream/MAIN', 'refs/remotes/origin/main', 'refs/tags/heads/origin/main', 'refs/heads/tags/origin/main']) {
    assert.is(protectionOf(ref, ['main'])?.kind, 'remote-tracking', ref);
  }
  assert.match(pushPolicyProblem('app', true, ['main'], create('refs/tags/origin/main'))!, /git rev-parse and git checkout resolve origin\/main to a tag refs\/tags\/origin\/main before a clone's remote-tracking branch refs\/remotes\/origin\/main/);
  // A clone files a branch under refs/remotes/origin/, so it cannot pose as origin/main.
  assert.is(protectionOf('refs/heads/origin/main', ['main']), null);
  assert.is(protectionOf('refs/heads/feature/main', ['main']), null);
});

Shadow('glob patterns get the same treatment', () => {
  for (const ref of ['refs/heads/release/1.0', 'refs/tags/release/1.0', 'refs/heads/RELEASE/1.0', 'refs/heads/refs/heads/release/1.0', 'refs/remotes/release/x', 'refs/tags/origin/release/2']) {
    assert.is(protectionOf(ref, ['release/*'])?.pattern, 'release/*', ref);
  }
  assert.is(protectionOf('refs/heads/release', ['release/*']), null);
  assert.is(protectionOf('refs/tags/v1.0', ['release/*']), null);
  assert.is(protectionOf('refs/heads/releases/x', ['release/*']), null);
});

Shadow('refs/heads/X patterns are the branch pattern X; other refs/ patterns compare case-insensitively', () => {
  assert.is(protectionOf('refs/tags/main', ['refs/heads/main'])?.kind, 'dwim');
  assert.is(protectionOf('refs/heads/MAIN', ['refs/heads/main'])?.kind, 'folded');
  assert.is(protectionOf('refs/tags/v1', ['refs/tags/*'])?.kind, 'exact');
  assert.is(protectionOf('refs/TAGS/v1', ['refs/tags/*'])?.kind, 'folded');
  assert.is(protectionOf('refs/tags/V1', ['refs/tags/v1'])?.kind, 'folded');
  assert.match(pushPolicyProblem('app', true, ['refs/tags/*'], create('refs/Tags/v1'))!, /would shadow a protected ref in this bottle \(protect: "refs\/tags\/\*"\)/);
  // Gerrit's review refs stay pushable.
  assert.is(protectionOf('refs/for/main', ['main']), null);
  assert.is(protectionOf('refs/heads/v1', ['refs/tags/*']), null);
});

Shadow('controls: ordinary branches and tags still pass', () => {
  for (const ref of ['refs/heads/agent-work', 'refs/heads/mainline', 'refs/heads/feature/main-fix', 'refs/heads/main-2', 'refs/heads/my-main', 'refs/heads/domain', 'refs/tags/v1.0', 'refs/heads/ma\u00efn', 'refs/heads/fix/headers', 'refs/heads/ahead']) {
    assert.is(pushPolicyProblem('app', true, ['main', 'release/*'], create(ref)), null, ref);
  }
  assert.is(pushPolicyProblem('app', true, [], create('refs/tags/main')), null, 'nothing protected: nothing to shadow');
});

const Names = suite('ref names the hook must refuse itself');

Names('names git refuses are refused before the upstream is asked (git checks them only after pre-receive)', () => {
  const bad: [string, RegExp][] = [
    ['refs/heads/main.lock', /ends in "\.lock"/],
    ['refs/heads/x/main.lock', /ends in "\.lock"/],
    ['refs/heads/main/', /ends in "\/" or "\."/],
    ['refs/heads/main.', /ends in "\/" or "\."/],
    ['refs/heads//main', /"\/\/"/],
    ['refs/heads/a b', /space/],
    ['refs/heads/x\n0000 1111 refs/heads/main', /a line break/],
    ['refs/heads/x\ry', /a carriage return/],
    ['refs/heads/x\u0085y', /the control character U\+0085/],
    ['refs/heads/.hidden', /starts with "\."/],
    ['refs/heads/a..b', /"\.\."/],
    ['refs/heads/a@{1}', /"@\{"/],
    ['refs/heads/@', /"@"/],
    ['refs/heads/a\\b', /\\/],
    ['refs/heads/a:b', /:/],
    ['refs/heads/a*', /\*/],
    ['refs/main', /names no namespace/],
    ['REFS/heads/main', /does not start with "refs\/"/],
    ['heads/main', /does not start with "refs\/"/],
  ];
  for (const [ref, why] of bad) {
    assert.match(refNameProblem(ref) ?? '', why, JSON.stringify(ref));
    const msg = pushPolicyProblem('app', true, [], create(ref));
    assert.ok(msg, ref);
    assert.match(msg!, /is not a ref name git accepts .*nothing was sent to the upstream\. Push to an ordinary branch name instead/);
    assert.not.ok(msg!.includes('\n'), 'the name is quoted, so the message stays one line');
  }
  for (const ref of ['refs/heads/main', 'refs/heads/a.b', 'refs/heads/feature/x-1', 'refs/tags/v1.0', 'refs/heads/caf\u00e9']) assert.is(refNameProblem(ref), null, ref);
});

Names('a component named HEAD, in any case, is refused whatever is protected', () => {
  for (const ref of ['refs/heads/HEAD', 'refs/heads/head', 'refs/tags/HEAD', 'refs/heads/HEAD/x', 'refs/heads/feature/HEAD', 'refs/remotes/origin/HEAD']) {
    assert.match(pushPolicyProblem('app', true, [], create(ref))!, /is refused in this bottle: a ref with a component named HEAD \(in any case\) is ambiguous with git's own HEAD/, ref);
  }
  assert.match(pushPolicyProblem('app', true, [], [{ ref: 'refs/heads/HEAD', old: A, new: Z }])!, /deleting it is refused/);
});

Names('one bad ref refuses the whole push', () => {
  assert.ok(pushPolicyProblem('app', true, ['main'], [{ ref: 'refs/heads/topic', old: A, new: B }, { ref: 'refs/tags/main', old: Z, new: B }]));
  assert.ok(pushPolicyProblem('app', true, [], [{ ref: 'refs/heads/topic', old: A, new: B }, { ref: 'refs/heads/x.lock', old: Z, new: B }]));
});

const Namespaces = suite('refs outside refs/heads/ and refs/tags/');

Namespaces('refused by default, with what the entry may push and how to opt in', () => {
  for (const ref of ['refs/notes/commits', 'refs/pull/1/merge', 'refs/remotes/origin/topic', 'refs/original/refs/heads/topic', 'refs/for/main', 'refs/bisect/bad', 'refs/changes/01/1/1', 'refs/prefetch/remotes/origin/main']) {
    assert.match(pushPolicyProblem('app', true, [], create(ref))!, new RegExp(`^git-gate: ${ref} is outside the refs this bottle may push \\(refs/heads/ and refs/tags/\\); creating it is refused\\. Push a branch or a tag instead`), ref);
  }
  assert.match(pushPolicyProblem('app', true, [], create('refs/notes/commits'))!, /if the team uses refs\/notes\/, add it to the git entry in bottle\.json: "refs": \["refs\/notes\/\*"\]$/);
  // Another spelling of refs/heads/ is the same folder on a case-insensitive upstream: not a way around protect.
  for (const ref of ['refs/Heads/x', 'refs/TAGS/v1', 'refs/heads./x']) {
    assert.match(pushPolicyProblem('app', true, [], create(ref))!, /it spells refs\/(heads|tags)\/ another way/, ref);
  }
  // Controls.
  for (const ref of ['refs/heads/x', 'refs/tags/v1', 'refs/heads/notes/x']) assert.is(pushPolicyProblem('app', true, [], create(ref)), null, ref);
});

Namespaces('an opt-in allows exactly what its pattern matches; protect still applies inside it', () => {
  const refs = ['refs/notes/*', 'refs/for/main'];
  for (const ref of ['refs/notes/commits', 'refs/notes/a/b', 'refs/for/main']) assert.is(pushPolicyProblem('app', true, [], create(ref), refs), null, ref);
  for (const ref of ['refs/Notes/commits', 'refs/for/other', 'refs/notesx/y', 'refs/pull/1/merge']) {
    assert.match(pushPolicyProblem('app', true, [], create(ref), refs)!, /(is outside the refs this bottle may push \(refs\/heads\/, refs\/tags\/ and "refs": \["refs\/notes\/\*", "refs\/for\/main"\]\))/, ref);
  }
  assert.match(pushPolicyProblem('app', true, ['refs/notes/review'], create('refs/notes/review'), refs)!, /refs\/notes\/review is protected in this bottle \(protect: "refs\/notes\/review"\)/);
  assert.match(pushPolicyProblem('app', true, ['refs/for/release/*'], create('refs/for/release/1'), ['refs/for/*'])!, /refs\/for\/release\/1 is protected in this bottle \(protect: "refs\/for\/release\/\*"\)/);
  // Gerrit's review refs stay pushable with the opt-in even where main is protected.
  assert.is(pushPolicyProblem('app', true, ['main'], create('refs/for/main'), ['refs/for/*']), null);
});

Namespaces('refs/replace/ and refs/namespaces/ are refused whatever the opt-ins, in any spelling', () => {
  const main = 'c'.repeat(40);
  for (const ref of [`refs/replace/${main}`, `refs/REPLACE/${main}`, `refs/replace./${main}`, `refs/re\u200dplace/${main}`, 'refs/namespaces/x/refs/heads/main', 'refs/Namespaces/x/refs/tags/v1']) {
    for (const refs of [[], ['refs/replace/*', 'refs/namespaces/*', 'refs/REPLACE/*', 'refs/re\u200dplace/*', 'refs/replace./*', 'refs/Namespaces/*']]) {
      const msg = pushPolicyProblem('app', true, [], create(ref), refs);
      assert.match(msg ?? '', /is refused in this bottle: a ref under refs\/(replace|namespaces(\/<name>)?)\/ .*; no "refs" opt-in allows it; creating it is refused/, `${ref} ${JSON.stringify(refs)}`);
    }
  }
  assert.match(pushPolicyProblem('app', true, [], [{ ref: `refs/replace/${main}`, old: A, new: Z }])!, /deleting it is refused/);
});

Namespaces('refs patterns: one literal namespace under refs/, never heads, tags, replace or namespaces', () => {
  for (const p of ['refs/notes/*', 'refs/notes/commits', 'refs/for/*', 'refs/pull/*/merge', 'refs/changes/*']) assert.is(refsPatternProblem(p), null, p);
  const bad: [string, RegExp][] = [
    ['refs/*', /starts with refs\/<namespace>\//],
    ['refs/no*tes/x', /no "\*" in the namespace/],
    ['notes/*', /starts with refs\/<namespace>\//],
    ['refs/notes', /starts with refs\/<namespace>\//],
    ['refs/notes/', /starts with refs\/<namespace>\//],
    ['refs/notes/a b', /no spaces/],
    ['refs/notes/a\nb', /control characters/],
    ['refs/notes/../heads/*', /"\.\."/],
    ['refs/heads/*', /refs\/heads\/ and refs\/tags\/ are always pushed/],
    ['refs/Tags/*', /always pushed/],
    ['refs/replace/*', /refs\/replace\/ can never be opted in: a ref under refs\/replace\/ makes git show another commit in place of the one it names/],
    ['refs/Replace./x', /refs\/replace\/ can never be opted in/],
    ['refs/namespaces/x/*', /refs\/namespaces\/ can never be opted in/],
  ];
  for (const [p, why] of bad) assert.match(refsPatternProblem(p) ?? '', why, p);
});

Shadow.run();
Names.run();
Namespaces.run();

const Only = suite('only: the host repo\'s branch per bottle');
Only('every ref must be under the allowed namespace, exactly as spelt; another bottle\'s namespace, main and tags are refused', () => {
  const only = { only: ['refs/heads/bottle/demo-ab12c/*'] };
  assert.is(pushPolicyProblem('workspace', true, [], create('refs/heads/bottle/demo-ab12c/feat'), [], only), null);
  assert.is(pushPolicyProblem('workspace', true, [], create('refs/heads/bottle/demo-ab12c/a/b'), [], only), null);
  for (const ref of ['refs/heads/main', 'refs/tags/v1', 'refs/heads/bottle/demo-zzzzz/x', 'refs/heads/Bottle/demo-ab12c/x', 'refs/heads/bottle/demo-ab12c', 'refs/notes/commits']) {
    assert.match(pushPolicyProblem('workspace', true, [], create(ref), [], only)!, `git-gate: ${ref} is refused: this bottle may push to workspace only under bottle/demo-ab12c/* (its own branches in the host repo)`, ref);
  }
  // One bad ref refuses the whole push.
  assert.ok(pushPolicyProblem('workspace', true, [], [...create('refs/heads/bottle/demo-ab12c/ok'), ...create('refs/heads/main')], [], only));
});
Only('more refs in one push than maxRefsPerPush: refused whole', () => {
  const many = Array.from({ length: 4 }, (_, i) => create(`refs/heads/bottle/s-abcde/b${i}`)[0]!);
  assert.match(pushPolicyProblem('workspace', true, [], many, [], { only: ['refs/heads/bottle/s-abcde/*'], maxRefsPerPush: 3 })!, 'this push updates 4 refs; workspace takes at most 3 in one push');
  assert.is(pushPolicyProblem('workspace', true, [], many.slice(0, 3), [], { only: ['refs/heads/bottle/s-abcde/*'], maxRefsPerPush: 3 }), null);
});
Only.run();
