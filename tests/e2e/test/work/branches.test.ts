/**
 * The agent's work back in the user's repo, through real `bottle run --copy-cwd` in real bottles:
 * a host repo whose tree, index, HEAD, config and hooks must not change; the agent commits on two
 * branches, pushes one, leaves one unpushed, and tries to push to main, to a tag and into another
 * bottle's namespace. After the run both branches are bottle/<slug>/*; planted hooks never ran;
 * diff, log, merge and apply do what they say, and refuse a dirty tree and changed attributes.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startWorld, type World } from '../bundle/helpers.js';

const CLI = path.resolve(import.meta.dirname, '../../../../apps/cli/bin/run.js');
const ctx: { world?: World; repo?: string; manifest?: string; hookMark?: string } = {};
const test = suite('work back: a branch per bottle in the host repo');

const git = (repo: string, ...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();

function bottle(args: string[], o: { cwd?: string; reject?: boolean } = {}) {
  const world = ctx.world!;
  return promisify(execFile)(process.execPath, [CLI, ...args], {
    cwd: o.cwd ?? ctx.repo!,
    env: { ...process.env, XDG_STATE_HOME: world.stateHome, BOT_BOTTLE_BUNDLE_NETWORK: world.network },
    timeout: 600_000,
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => {
      if (o.reject !== false) throw new Error(`bottle ${args.join(' ')} failed (${e.code}):\n${e.stdout}\n${e.stderr}`);
      return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    },
  );
}

/** The host repo as the user left it: what must not change. */
function snapshot(repo: string) {
  return {
    head: git(repo, 'rev-parse', 'HEAD'),
    symbolic: git(repo, 'symbolic-ref', 'HEAD'),
    status: git(repo, 'status', '--porcelain'),
    config: execFileSync('cat', [path.join(repo, '.git', 'config')], { encoding: 'utf8' }),
    others: git(repo, 'for-each-ref', '--format=%(refname) %(objectname)', 'refs/').split('\n').filter((l) => !l.startsWith('refs/heads/bottle/')),
  };
}

test.before(async () => {
  ctx.world = await startWorld();
  const repo = path.join(ctx.world.dir, 'project');
  await mkdir(repo, { recursive: true });
  git(repo, 'init', '-q', '-b', 'main');
  await writeFile(path.join(repo, 'app.py'), 'print(1)\n');
  await writeFile(path.join(repo, 'notes.txt'), 'user notes\n');
  git(repo, 'add', 'app.py');
  git(repo, '-c', 'user.name=User', '-c', 'user.email=user@example.com', 'commit', '-qm', 'init');
  // Hooks that would leave a mark if anything ran them on the host. The bottle gets a copy of
  // .git, hooks included (the project's own pre-commit checks work there); in the bottle the
  // mark's folder does not exist and they do nothing.
  ctx.hookMark = path.join(ctx.world.dir, 'HOOK-RAN');
  for (const hook of ['reference-transaction', 'post-merge', 'pre-commit', 'post-checkout', 'pre-push', 'post-applypatch', 'pre-merge-commit']) {
    await writeFile(path.join(repo, '.git', 'hooks', hook), `#!/bin/sh\n[ -d ${ctx.world.dir} ] && echo ${hook} >> ${ctx.hookMark}\nexit 0\n`, { mode: 0o755 });
  }
  ctx.repo = repo;
  ctx.manifest = path.join(ctx.world.dir, 'bottle.json');
  await writeFile(ctx.manifest, JSON.stringify({ bottles: { dev: { git_user: { name: 'Agent', email: 'agent@example.com' } } }, agents: { demo: { bottle: 'dev', provisioners: ['ca', 'git'], copyCwd: { maxBranches: 20 } } } }));
});
test.after(async () => {
  await ctx.world?.cleanup();
});

const AGENT = [
  'set -u; cd ~/workspace',
  'git checkout -q -b feat && echo 2 >> app.py && git commit -qam "feat: two"',
  'git push origin feat 2>&1 | sed "s/^/push-feat: /"',
  'git push origin HEAD:main 2>&1 | sed "s/^/push-main: /"',
  'git push origin HEAD:refs/tags/v1 2>&1 | sed "s/^/push-tag: /"',
  'git push origin "HEAD:refs/heads/bottle/$OTHER/stolen" 2>&1 | sed "s/^/push-other: /"',
  'git checkout -q -b local && echo 3 >> app.py && git commit -qam "local: three"',
  'echo agent-done',
].join('\n');

test('both branches come back as bottle/<slug>/*; main, a tag and another namespace are refused; the user\'s repo is untouched; no hook ran', async () => {
  const repo = ctx.repo!;
  const before = snapshot(repo);
  const r = await bottle(['run', 'demo', '--manifest', ctx.manifest!, '--', 'sh', '-c', AGENT.replace('$OTHER', 'demo-zzzzz')]);
  assert.match(r.stdout, 'agent-done');
  const out = r.stdout.split('\n');
  assert.ok(out.some((l) => /^push-feat: .*feat -> bottle\/demo-[a-z0-9]{5}\/feat/.test(l)), r.stdout);
  for (const which of ['main', 'tag', 'other']) {
    assert.ok(out.some((l) => l.startsWith(`push-${which}: `) && l.includes('pre-receive hook declined')), `${which} refused:\n${r.stdout}`);
  }
  assert.ok(out.some((l) => /push-main: remote: git-gate: refs\/heads\/main is refused: this bottle may push to workspace only under bottle\/demo-[a-z0-9]{5}\/\*/.test(l)), r.stdout);
  const slug = /bottle\/(demo-[a-z0-9]{5})\/feat/.exec(r.stdout)![1]!;
  assert.equal(git(repo, 'for-each-ref', '--format=%(refname:short)', `refs/heads/bottle/${slug}/`).split('\n').sort(), [`bottle/${slug}/feat`, `bottle/${slug}/local`, `bottle/${slug}/main`]);
  assert.is(git(repo, 'log', '-1', '--format=%s', `bottle/${slug}/local`), 'local: three', 'the unpushed branch came back');
  assert.equal(snapshot(repo), before, 'HEAD, index, working tree, config and the other refs are as they were');
  assert.not.ok(existsSync(ctx.hookMark!), `a host hook ran: ${existsSync(ctx.hookMark!) ? await readFile(ctx.hookMark!, 'utf8') : ''}`);
  assert.not.ok(git(repo, 'tag').includes('v1'));

  // diff and log: the work against where it started; --stat.
  const log = await bottle(['log', slug, '--branch', 'local']);
  assert.equal(log.stdout.trim().split('\n').map((l) => l.replace(/^\S+ \S+ /, '')), ['Agent  local: three', 'Agent  feat: two']);
  const stat = await bottle(['diff', slug, '--branch', 'feat', '--stat']);
  assert.match(stat.stdout, /app\.py \| 1 \+/);
  const several = await bottle(['diff', slug, '--branch', 'nope'], { reject: false });
  assert.is(several.code, 2);
  assert.match(several.stderr, `bottle ${slug} has no branch "nope"`);

  // apply: refused on a dirty tree, then as uncommitted changes; merge: the commits, hooks off.
  await writeFile(path.join(repo, 'app.py'), 'print(1)\nuser edit\n');
  const dirty = await bottle(['apply', slug, '--branch', 'local'], { reject: false });
  assert.is(dirty.code, 2);
  assert.match(dirty.stderr, 'has uncommitted changes; bottle apply needs a clean tree');
  git(repo, '-c', 'core.hooksPath=/dev/null', 'checkout', '-q', '--', 'app.py'); // the test's own restore, hooks off too
  await bottle(['apply', slug, '--branch', 'local']);
  assert.is(await readFile(path.join(repo, 'app.py'), 'utf8'), 'print(1)\n2\n3\n');
  assert.is(git(repo, 'rev-parse', 'HEAD'), before.head, 'apply commits nothing');
  git(repo, '-c', 'core.hooksPath=/dev/null', 'checkout', '-q', '--', 'app.py'); // the test's own restore, hooks off too
  git(repo, 'config', 'user.email', 'user@example.com');
  git(repo, 'config', 'user.name', 'User');
  await bottle(['merge', slug, '--branch', 'feat']);
  assert.is(git(repo, 'log', '-1', '--format=%s'), 'feat: two');
  assert.is(git(repo, 'symbolic-ref', 'HEAD'), 'refs/heads/main');
  assert.not.ok(existsSync(ctx.hookMark!), `a hook ran during merge: ${existsSync(ctx.hookMark!) ? await readFile(ctx.hookMark!, 'utf8') : ''}`);
});

test('work that changes .gitattributes is refused by merge and apply unless --allow-attributes', async () => {
  const repo = ctx.repo!;
  const r = await bottle(['run', 'demo', '--manifest', ctx.manifest!, '--', 'sh', '-c', 'cd ~/workspace && printf "*.py filter=lfs\\n" > .gitattributes && git add .gitattributes && git commit -qm attrs && echo ok']);
  assert.match(r.stdout, 'ok');
  const slug = git(repo, 'for-each-ref', '--sort=-creatordate', '--format=%(refname:short)', 'refs/heads/bottle/').split('\n').map((b) => b.split('/')[1]!).find((s) => git(repo, 'log', '-1', '--format=%s', `bottle/${s}/main`) === 'attrs')!;
  for (const cmd of ['merge', 'apply']) {
    const refused = await bottle([cmd, slug], { reject: false });
    assert.is(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, "the bottle's work changes .gitattributes, which choose the programs git runs on checkout");
  }
  await bottle(['merge', slug, '--allow-attributes']);
  assert.is(git(repo, 'log', '-1', '--format=%s'), 'attrs');
});

test('a kept bottle: its pushes are visible to bottle diff while it runs; bottle stop brings unpushed work home', async () => {
  const repo = ctx.repo!;
  const run = await bottle(['run', 'demo', '--manifest', ctx.manifest!, '--keep', '--', 'sh', '-c', 'cd ~/workspace && git checkout -q -b kept && echo 4 >> app.py && git commit -qam kept && git push -q origin kept 2>&1; echo pushed']);
  const slug = /ready: (demo-[a-z0-9]{5})/.exec(run.stderr)![1]!;
  try {
    assert.match((await bottle(['log', slug, '--branch', 'kept'])).stdout, 'kept');
    await bottle(['exec', slug, '--', 'sh', '-c', 'cd ~/workspace && git checkout -q -b later && echo 5 >> app.py && git commit -qam later']);
  } finally {
    await bottle(['stop', slug]);
  }
  assert.is(git(repo, 'log', '-1', '--format=%s', `bottle/${slug}/later`), 'later', 'the unpushed branch came back at stop');
});

test.run();
