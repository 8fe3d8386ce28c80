/** Port of the reference's TestProvisionGit and TestProvisionGitUser, plus the choices made here. */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import git from '../src/index.js';
import { cleanupTempDirs, contextFor, ENDPOINTS, planFor, rejects, tempDir, world } from '@bot-bottle/core/testing';

const AS_NODE = { user: 'node', env: { HOME: '/home/node', USER: 'node' } };
const REPO = { Name: 'claude-bottle', Upstream: 'ssh://git@host/repo.git', IdentityFile: '~/.ssh/id_ed25519' };

const test = suite('git');
test.after.each(cleanupTempDirs);

test('no-op when no cwd copy, no git entries and no git_user', async () => {
  const { ctx, target, warnings } = contextFor(await planFor(await world(), {}));
  await git.apply(ctx);
  assert.equal(target.calls, []);
  assert.equal(warnings, []);
});

test('copies the cwd .git when copy_cwd and .git is present', async () => {
  const w = await world();
  const cwd = path.join(w.base, 'cwd');
  await mkdir(path.join(cwd, '.git'), { recursive: true });
  const { ctx, target } = contextFor(await planFor(w, { copyCwd: true, userCwd: cwd }));
  await git.apply(ctx);
  assert.equal(target.calls, [
    { kind: 'exec', argv: ['mkdir', '-p', '/home/node/workspace'], options: {} },
    { kind: 'copyIn', hostPath: `${cwd}/.git`, guestPath: '/home/node/workspace/.git', isDirectory: true },
    // The workspace's history belongs to the agent (node); root does the chown.
    { kind: 'exec', argv: ['chown', '-R', 'node:node', '/home/node/workspace/.git'], options: {} },
    // Its origin: the host repo through git-gate; pushes mapped into the bottle's own namespace.
    { kind: 'exec', argv: ['sh', '-c', ORIGIN_SCRIPT, 'sh', '/home/node/workspace', 'git://127.0.0.1:9418/workspace.git', `bottle/${ctx.plan.slug}`], options: { user: 'node', env: { HOME: '/home/node', USER: 'node' } } },
  ]);
});

const ORIGIN_SCRIPT = [
  'set -e',
  'git -C "$1" remote remove origin 2>/dev/null || true',
  'git -C "$1" remote add origin "$2"',
  'git -C "$1" config remote.origin.push "refs/heads/*:refs/heads/$3/*"',
  'git -C "$1" config push.default upstream',
].join('\n');

test('a real repository is copied as one directory, not file by file', async () => {
  const w = await world();
  const cwd = path.join(w.base, 'repo');
  execFileSync('git', ['init', '-q', cwd]);
  const { ctx, target } = contextFor(await planFor(w, { copyCwd: true, userCwd: cwd }));
  await git.apply(ctx);
  assert.is(target.copies.length, 1);
  assert.is(target.copies[0]!.isDirectory, true);
});

test('skips the cwd when copy_cwd is false, even in a repository', async () => {
  const w = await world();
  const cwd = path.join(w.base, 'cwd');
  await mkdir(path.join(cwd, '.git'), { recursive: true });
  const { ctx, target } = contextFor(await planFor(w, { copyCwd: false, userCwd: cwd }));
  await git.apply(ctx);
  assert.equal(target.calls, []);
});

test('skips the cwd when it has no .git', async () => {
  const w = await world();
  const { ctx, target } = contextFor(await planFor(w, { copyCwd: true, userCwd: w.base }));
  await git.apply(ctx);
  assert.equal(target.calls, []);
});

test('a .git file (worktree or submodule) is not copied, with a warning', async () => {
  const w = await world();
  const cwd = path.join(w.base, 'wt');
  await mkdir(cwd);
  await writeFile(path.join(cwd, '.git'), 'gitdir: /somewhere/on/the/host/.git/worktrees/wt\n');
  const { ctx, target, warnings } = contextFor(await planFor(w, { copyCwd: true, userCwd: cwd }));
  await git.apply(ctx);
  assert.equal(target.calls, []);
  assert.is(warnings.length, 1);
  assert.match(warnings[0]!, `${cwd}/.git is a file`);
});

test('writes the gitconfig with the host:port form of the gate, staged in the stage dir', async () => {
  const plan = await planFor(await world(), { git: [REPO] });
  const { ctx, target } = contextFor(plan, { ...ENDPOINTS, gitGateHost: '127.0.0.1:9418' });
  await git.apply(ctx);
  assert.is(target.copies.length, 1);
  const staged = target.copies[0]!.hostPath;
  assert.is(path.dirname(staged), plan.stageDir);
  const content = await readFile(staged, 'utf8');
  assert.match(content, '[url "git://127.0.0.1:9418/claude-bottle.git"]');
  assert.match(content, '\tinsteadOf = ssh://git@host/repo.git');
  assert.is(target.copies[0]!.content, content);
});

test('the gitconfig is the agent user\'s ~/.gitconfig, owned by node', async () => {
  const plan = await planFor(await world(), { git: [REPO] });
  const { ctx, target } = contextFor(plan);
  await git.apply(ctx);
  assert.equal(
    target.calls.map((c) => (c.kind === 'exec' ? { argv: c.argv, options: c.options } : { copyTo: c.guestPath })),
    [{ copyTo: '/home/node/.gitconfig' }, { argv: ['chown', 'node:node', '/home/node/.gitconfig'], options: {} }],
  );
});

test('one insteadOf section per upstream, in manifest order; the endpoint comes from the backend', async () => {
  const plan = await planFor(await world(), {
    git: [REPO, { Name: 'docs', Upstream: 'git@example.com:org/docs.git' }, { Name: 'lib.v2', Upstream: 'https://example.com/org/lib.git' }],
  });
  const { ctx, target } = contextFor(plan, { ...ENDPOINTS, gitGateHost: 'bundle:9418' });
  await git.apply(ctx);
  assert.is(
    target.copies[0]!.content,
    '[url "git://bundle:9418/claude-bottle.git"]\n\tinsteadOf = ssh://git@host/repo.git\n' +
      '[url "git://bundle:9418/docs.git"]\n\tinsteadOf = git@example.com:org/docs.git\n' +
      '[url "git://bundle:9418/lib.v2.git"]\n\tinsteadOf = https://example.com/org/lib.git\n',
  );
});

test('real git rewrites each Upstream to the gate with the staged gitconfig, even one with ; or #', async () => {
  const upstreams = ['ssh://git@host/repo.git', 'git@example.com:org/docs.git', 'https://example.com/a;b/x#y.git'];
  const plan = await planFor(await world(), { git: upstreams.map((u, i) => ({ Name: `r${i}`, Upstream: u })) });
  const { ctx, target } = contextFor(plan);
  await git.apply(ctx);
  const home = await tempDir('bottle-git-home-');
  await writeFile(path.join(home, '.gitconfig'), target.copies[0]!.content!);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, GIT_CONFIG_NOSYSTEM: '1' };
  upstreams.forEach((u, i) => {
    const url = execFileSync('git', ['ls-remote', '--get-url', u], { env, encoding: 'utf8' }).trim();
    assert.is(url, `git://127.0.0.1:9418/r${i}.git`);
  });
});

test('an Upstream with a password is refused: it would put the secret in the bottle', async () => {
  // The manifest check refuses it first, without repeating the secret ...
  const w = await world();
  const refused = await rejects(() => planFor(w, { git: [{ Name: 'app', Upstream: 'https://bot:s3cret@example.com/app.git' }] }));
  assert.match([refused.message, ...(refused.details ?? [])].join('\n'), 'Upstream must not hold a password');
  assert.not.match(refused.message + JSON.stringify(refused.details ?? []), 's3cret');
  // ... and the provisioner refuses it again for a plan made some other way.
  const plan = await planFor(await world(), { git: [{ Name: 'app', Upstream: 'https://example.com/app.git' }] });
  plan.gitGate.upstreams[0]!.upstream = 'https://bot:s3cret@example.com/app.git';
  const { ctx, target } = contextFor(plan);
  assert.not.match(JSON.stringify(ctx.plan), 's3cret', 'the view the provisioner sees holds no password');
  assert.is(ctx.plan.repos[0]!.upstream, 'https://bot@example.com/app.git');
  const err = await rejects(() => git.apply(ctx));
  assert.is(err.code, 'PROVISIONER_FAILED');
  assert.match(err.message, 'git Upstream of "app" holds a password');
  assert.not.match(err.message, 's3cret');
  assert.equal(target.calls, []);
});

test('each apply stages its own gitconfig file (mode 644: it holds no secret)', async () => {
  const plan = await planFor(await world(), { git: [REPO] });
  const a = contextFor(plan);
  const b = contextFor(plan);
  await git.apply(a.ctx);
  await git.apply(b.ctx);
  assert.is.not(a.target.copies[0]!.hostPath, b.target.copies[0]!.hostPath);
  assert.is((await stat(a.target.copies[0]!.hostPath)).mode & 0o777, 0o644);
});

test('passes run in order: cwd .git, gate gitconfig, then git_user (which edits that gitconfig)', async () => {
  const w = await world();
  const cwd = path.join(w.base, 'cwd');
  await mkdir(path.join(cwd, '.git'), { recursive: true });
  const plan = await planFor(w, { copyCwd: true, userCwd: cwd, git: [REPO], gitUser: { name: 'Bot', email: 'bot@example.com' } });
  const { ctx, target } = contextFor(plan);
  await git.apply(ctx);
  assert.equal(
    target.calls.map((c) => (c.kind === 'exec' ? c.argv.join(' ') : `copyIn ${c.guestPath}`)),
    [
      'mkdir -p /home/node/workspace',
      'copyIn /home/node/workspace/.git',
      'chown -R node:node /home/node/workspace/.git',
      `sh -c ${ORIGIN_SCRIPT} sh /home/node/workspace git://127.0.0.1:9418/workspace.git bottle/${plan.slug}`,
      'copyIn /home/node/.gitconfig',
      'chown node:node /home/node/.gitconfig',
      'git config --global user.name Bot',
      'git config --global user.email bot@example.com',
    ],
  );
});

test('a failing guest command stops the launch with its output', async () => {
  const plan = await planFor(await world(), { git: [REPO] });
  const { ctx, target } = contextFor(plan);
  target.respond = () => ({ exitCode: 1, stdout: '', stderr: "chown: invalid user: 'node:node'\n" });
  const err = await rejects(() => git.apply(ctx));
  assert.is(err.message, '`chown node:node /home/node/.gitconfig` failed in recording target (exit 1)');
  assert.equal(err.details, ["chown: invalid user: 'node:node'"]);
});

const user = suite('git_user');
user.after.each(cleanupTempDirs);

function gitConfigCalls(calls: { kind: string; argv?: string[]; options?: unknown }[]) {
  return calls.filter((c) => c.kind === 'exec' && c.argv!.includes('git') && c.argv!.includes('config'));
}

user('no-op when the bottle declares no git_user', async () => {
  const { ctx, target } = contextFor(await planFor(await world(), {}));
  await git.apply(ctx);
  assert.equal(gitConfigCalls(target.calls), []);
});

user('sets name and email as node', async () => {
  const { ctx, target } = contextFor(await planFor(await world(), { gitUser: { name: 'Eric Bauerfeld', email: 'eric@dideric.is' } }));
  await git.apply(ctx);
  const calls = gitConfigCalls(target.calls);
  assert.is(calls.length, 2);
  // The reference's `runuser -u node --` prefix with HOME/USER forced is the exec option
  // {user: 'node', env: {HOME, USER}} here, so --global writes /home/node/.gitconfig, not root's.
  for (const c of calls) assert.equal(c.options, AS_NODE);
  assert.equal(calls[0]!.argv, ['git', 'config', '--global', 'user.name', 'Eric Bauerfeld']);
  assert.equal(calls[1]!.argv, ['git', 'config', '--global', 'user.email', 'eric@dideric.is']);
});

user('name only', async () => {
  const { ctx, target } = contextFor(await planFor(await world(), { gitUser: { name: 'Bot' } }));
  await git.apply(ctx);
  const calls = gitConfigCalls(target.calls);
  assert.is(calls.length, 1);
  assert.equal(calls[0]!.argv!.slice(3), ['user.name', 'Bot']);
});

user('email only', async () => {
  const { ctx, target } = contextFor(await planFor(await world(), { gitUser: { email: 'bot@example.com' } }));
  await git.apply(ctx);
  const calls = gitConfigCalls(target.calls);
  assert.is(calls.length, 1);
  assert.equal(calls[0]!.argv!.slice(3), ['user.email', 'bot@example.com']);
});

user('values are argv words, never shell text', async () => {
  const { ctx, target } = contextFor(await planFor(await world(), { gitUser: { name: `O'Brien "Bot" $(id); rm -rf /` } }));
  await git.apply(ctx);
  assert.equal(target.execs[0]!.argv, ['git', 'config', '--global', 'user.name', `O'Brien "Bot" $(id); rm -rf /`]);
});

test.run();
user.run();
