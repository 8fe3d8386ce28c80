/**
 * The gate as a bottle meets it: real bottles and bundles launched by the docker backend (with the
 * `ca` and `git` provisioners), and an SSH git upstream in its own container (Debian's
 * openssh-server and git, test-made host and client keys) on a test-made internal network that
 * only the bundles join. The agent uses the ordinary Upstream URLs; the key stays in the bundle.
 *
 * One upstream container and two bottles serve every case: bottle A declares `app` (pushable,
 * `protect: ["release/*"]`) and `docs` (`push: false`); bottle B declares `app` only, for the race.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { makePlan, runProvisioners, validateManifest, type BottlePlan, type LaunchedBottle } from '@bot-bottle/core';
import caProvisioner from '@bot-bottle/provisioner-ca';
import gitProvisioner from '@bot-bottle/provisioner-git';
import { DockerBackend, bundleName, containerName, docker, dockerOk, ensureImages } from '@bot-bottle/backend-docker';
import type { GitAuditEntry } from '@bot-bottle/git-gate';

const TEST_LABEL = 'bot-bottle-test=1';
const RUN_LABEL = `bot-bottle-test.run=${Math.random().toString(36).slice(2, 10)}`;
const labels = ['--label', TEST_LABEL, '--label', RUN_LABEL];
const MIRRORS = '/var/lib/bot-bottle/git-gate/repos';
const ZERO = '0'.repeat(40);

/** The upstream image: the runtime image plus Debian's sshd; host keys come from the test, not the image. */
const SSHD_DOCKERFILE = `ARG RUNTIME
FROM \${RUNTIME}
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssh-server git \\
 && rm -rf /var/lib/apt/lists/* /etc/ssh/ssh_host_* \\
 && useradd --create-home --home-dir /home/git --shell /usr/bin/git-shell git \\
 && usermod -p '*' git \\
 && mkdir -p /srv/git /run/sshd \\
 && chown git:git /srv/git
`;

const SSHD_CONFIG = `Port 22
HostKey /etc/ssh/test_host_key
AuthorizedKeysFile .ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
AllowUsers git
`;

interface Bottle {
  launched: LaunchedBottle;
  plan: BottlePlan;
  bundle: string;
  container: string;
}

const ctx: {
  dir?: string;
  network?: string;
  upstream?: string;
  key?: string;
  keyLines?: string[];
  a?: Bottle;
  b?: Bottle;
  env?: NodeJS.ProcessEnv;
  /** The race's commits and who won (0: bottle A, 1: bottle B). */
  race?: { ids: string[]; winner: number };
} = {};

const sh = (cmd: string, args: string[], cwd?: string) => execFileSync(cmd, args, { cwd, stdio: 'pipe', encoding: 'utf8' });
const url = (repo: string) => `ssh://git@${ctx.upstream}:22/srv/git/${repo}.git`;

/** Runs a shell snippet in a container (as `user`), returning exit code and output. */
async function inContainer(container: string, script: string, user?: string, timeoutMs = 120_000) {
  const r = await docker(['exec', ...(user ? ['-u', user] : []), container, 'sh', '-c', script], { timeoutMs });
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, all: `${r.stdout}${r.stderr}` };
}
/** A snippet run in the upstream container as its git user, on its bare repos. */
const onUpstream = (script: string) => inContainer(ctx.upstream!, `cd /srv/git && ${script}`, 'git');
async function onUpstreamOk(script: string): Promise<string> {
  const r = await onUpstream(script);
  if (r.exitCode !== 0) throw new Error(`upstream: ${script} exited ${r.exitCode}:\n${r.all}`);
  return r.stdout.trim();
}

/** Runs a shell snippet in a bottle as the agent user, in its home. */
async function agent(b: Bottle, script: string, timeoutMs = 120_000) {
  const r = await b.launched.target.exec(['sh', '-c', `cd /home/node && ${script}`], { user: 'node', env: { HOME: '/home/node', USER: 'node', LANG: 'C' }, timeoutMs });
  return { ...r, all: `${r.stdout}${r.stderr}` };
}
async function agentOk(b: Bottle, script: string): Promise<string> {
  const r = await agent(b, script);
  if (r.exitCode !== 0) throw new Error(`bottle: ${script} exited ${r.exitCode}:\n${r.all}`);
  return r.stdout.trim();
}

/** The mirror's refs and whether it holds an object, read inside the bundle. */
const mirrorRefs = async (b: Bottle, repo: string) => (await inContainer(b.bundle, `git -C ${MIRRORS}/${repo}.git for-each-ref --format='%(objectname) %(refname)'`)).stdout;
const mirrorHas = async (b: Bottle, repo: string, id: string) => (await inContainer(b.bundle, `git -C ${MIRRORS}/${repo}.git cat-file -e ${id}^{commit}`)).exitCode === 0;

async function audit(b: Bottle): Promise<GitAuditEntry[]> {
  const text = await readFile(b.plan.egress.auditLogPath, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.source === 'git-gate') as unknown as GitAuditEntry[];
}

/** Builds (once: the tag is a hash of its Dockerfile and base) the upstream image. */
async function sshdImage(runtime: string): Promise<string> {
  const tag = `bot-bottle-test-sshd:${createHash('sha256').update(runtime).update('\0').update(SSHD_DOCKERFILE).digest('hex').slice(0, 12)}`;
  if ((await docker(['image', 'inspect', '--format', '{{.Id}}', tag])).exitCode === 0) return tag;
  const ctxDir = path.join(ctx.dir!, 'sshd-image');
  sh('mkdir', ['-p', ctxDir]);
  await writeFile(path.join(ctxDir, 'Dockerfile'), SSHD_DOCKERFILE);
  const r = await docker(['build', '--label', TEST_LABEL, '--build-arg', `RUNTIME=${runtime}`, '-t', tag, ctxDir], { timeoutMs: 20 * 60_000 });
  if (r.exitCode !== 0) throw new Error(`building the test sshd image failed:\n${r.stdout}\n${r.stderr}`);
  return tag;
}

/** Keys made by the test: the upstream's host key (and a KnownHosts for it), the authorized client key. */
function makeKeys(dir: string, host: string): { key: string; knownHosts: string; upstreamDir: string } {
  const upstreamDir = path.join(dir, 'upstream');
  const clientDir = path.join(dir, 'client');
  sh('mkdir', ['-p', upstreamDir, clientDir]);
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'test host key', '-f', path.join(upstreamDir, 'host_key')]);
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bot-bottle test client', '-f', path.join(clientDir, 'id_ed25519')]);
  sh('cp', [path.join(clientDir, 'id_ed25519.pub'), path.join(upstreamDir, 'authorized_keys')]);
  execFileSync('sh', ['-c', `printf '%s\\n' "$SSHD_CONFIG" > sshd_config`], { cwd: upstreamDir, env: { ...process.env, SSHD_CONFIG } });
  const [type, body] = sh('cat', [path.join(upstreamDir, 'host_key.pub')]).trim().split(' ');
  const knownHosts = path.join(clientDir, 'known_hosts');
  execFileSync('sh', ['-c', `printf '%s\\n' "$LINE" > "$FILE"`], { env: { ...process.env, LINE: `${host} ${type} ${body}`, FILE: knownHosts } });
  // The container runs sshd as root and reads these through the mount; sshd wants its host key private.
  sh('chmod', ['-R', 'a+rX', upstreamDir]);
  return { key: path.join(clientDir, 'id_ed25519'), knownHosts, upstreamDir };
}

async function launchBottle(manifest: object): Promise<Bottle> {
  const loaded = await validateManifest(manifest, '<test>', ctx.dir!);
  const plan = makePlan({ manifest: loaded, agentName: 'demo', copyCwd: false, userCwd: ctx.dir! }, { env: ctx.env!, backend: 'docker' });
  if (plan.launchProblems.length) throw new Error(`launch problems: ${plan.launchProblems.join('; ')}`);
  plan.labels['bot-bottle-test'] = '1';
  const [k, v] = RUN_LABEL.split('=') as [string, string];
  plan.labels[k] = v;
  const launched = await new DockerBackend(ctx.env!).launch(plan, { progress: () => undefined });
  try {
    await runProvisioners(
      [
        { definition: caProvisioner, options: {}, packageName: '@bot-bottle/provisioner-ca' },
        { definition: gitProvisioner, options: {}, packageName: '@bot-bottle/provisioner-git' },
      ],
      { plan, target: launched.target, endpoints: launched.endpoints, hostEnv: ctx.env! },
    );
  } catch (e) {
    await launched.destroy();
    throw e;
  }
  return { launched, plan, bundle: bundleName(plan.slug), container: containerName(plan.slug) };
}

const test = suite('git-gate in real bottles');

test.before(async () => {
  const images = await ensureImages({ progress: (m) => process.stderr.write(`  ${m}\n`) });
  ctx.dir = await mkdtemp(path.join(tmpdir(), 'bbtest-gitgate-'));
  const image = await sshdImage(images.runtime);
  const suffix = Math.random().toString(36).slice(2, 8);
  ctx.network = `bbtest-git-${suffix}`;
  ctx.upstream = `bbtest-git-upstream-${suffix}`;
  const keys = makeKeys(ctx.dir, ctx.upstream);
  ctx.key = keys.key;
  // Lines of the private key's body (the first one is the same for every ed25519 key).
  ctx.keyLines = (await readFile(keys.key, 'utf8')).split('\n').filter((l) => l && !l.startsWith('-----')).slice(1).filter((l) => l.length >= 30);
  assert.ok(ctx.keyLines.length >= 3, 'the key has lines to look for');

  await dockerOk(['network', 'create', '--internal', ...labels, ctx.network], 'creating the test network');
  await dockerOk(
    [
      'run', '-d', ...labels, '--name', ctx.upstream, '--network', ctx.network, '-v', `${keys.upstreamDir}:/keys:ro`, image,
      'sh', '-c',
      'install -m 600 /keys/host_key /etc/ssh/test_host_key'
        + ' && install -d -o git -g git -m 700 /home/git/.ssh'
        + ' && install -o git -g git -m 600 /keys/authorized_keys /home/git/.ssh/authorized_keys'
        + ' && exec /usr/sbin/sshd -D -e -f /keys/sshd_config',
    ],
    'starting the test ssh upstream',
  );
  for (let i = 0; ; i++) {
    const logs = await docker(['logs', ctx.upstream]);
    if (/Server listening on/.test(logs.stderr + logs.stdout)) break;
    if (i > 100) throw new Error(`the test sshd did not start:\n${logs.stdout}${logs.stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // Bare repos with an initial commit: app, docs, and one the bottles do not declare.
  await onUpstreamOk(
    'for r in app docs secret; do git init -q --bare --initial-branch=main $r.git'
      + ' && rm -rf /tmp/seed && git init -q --initial-branch=main /tmp/seed'
      + ' && echo "$r" > /tmp/seed/README.md && git -C /tmp/seed add README.md'
      + ' && git -C /tmp/seed -c user.name=Upstream -c user.email=up@example.invalid commit -q -m "initial $r"'
      + ' && git -C /tmp/seed push -q /srv/git/$r.git main || exit 1; done'
      + ' && git -C app.git branch release/1.0 main',
  );

  ctx.env = { ...process.env, XDG_STATE_HOME: path.join(ctx.dir, 'state'), BOT_BOTTLE_BUNDLE_NETWORK: ctx.network };
  const entry = (name: string, extra: object = {}) => ({ Name: name, Upstream: url(name), IdentityFile: keys.key, KnownHosts: keys.knownHosts, ...extra });
  const gitUser = { name: 'Agent', email: 'agent@example.invalid' };
  const manifestA = {
    bottles: { dev: { git: [entry('app', { protect: ['release/*'] }), entry('docs', { push: false })], git_user: gitUser } },
    agents: { demo: { bottle: 'dev', provisioners: ['ca', 'git'] } },
  };
  const manifestB = { bottles: { dev: { git: [entry('app')], git_user: gitUser } }, agents: { demo: { bottle: 'dev', provisioners: ['ca', 'git'] } } };
  [ctx.a, ctx.b] = await Promise.all([launchBottle(manifestA), launchBottle(manifestB)]);
});

test.after(async () => {
  await Promise.all([ctx.a?.launched.destroy(), ctx.b?.launched.destroy()].map((p) => p?.catch(() => undefined)));
  const c = await docker(['ps', '-aq', '--filter', `label=${RUN_LABEL}`]);
  const ids = c.stdout.split('\n').filter(Boolean);
  if (ids.length) await docker(['rm', '-f', '-v', ...ids], { timeoutMs: 60_000 });
  if (ctx.network) await docker(['network', 'rm', ctx.network]);
  if (ctx.dir) await rm(ctx.dir, { recursive: true, force: true });
});

test('the upstream really needs the key: the bundle without it, and the bottle itself, get nowhere', async () => {
  // The bundle reaches the upstream, but ssh without the entry's key is refused.
  const noKey = await inContainer(ctx.a!.bundle, `GIT_SSH_COMMAND='ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentityFile=none' git ls-remote ${url('app')}`);
  assert.is.not(noKey.exitCode, 0);
  assert.match(noKey.all, /Permission denied \(publickey\)/);
  // The bottle has no route to the upstream at all: with the rewrite switched off, ssh cannot even resolve it.
  const direct = await agent(ctx.a!, `GIT_CONFIG_GLOBAL=/dev/null git ls-remote ${url('app')}`);
  assert.is.not(direct.exitCode, 0);
  assert.match(direct.all, /Could not resolve hostname|Network is unreachable|not found/i);
});

test('clone by the original Upstream URL, commit, push: the upstream has the commit; fetch sees upstream work', async () => {
  const a = ctx.a!;
  await agentOk(a, `git clone -q ${url('app')} app`);
  assert.is(await agentOk(a, 'git -C app config remote.origin.url'), url('app'), 'the agent sees the ordinary URL');
  assert.is(await agentOk(a, 'cat app/README.md'), 'app');
  const id = await agentOk(a, 'cd app && echo one > one.txt && git add one.txt && git commit -q -m "from the bottle" && git rev-parse HEAD');
  const push = await agent(a, 'cd app && git push origin HEAD:main');
  assert.is(push.exitCode, 0, push.all);
  assert.match(push.all, /accepted the push/);
  assert.is(await onUpstreamOk('git -C app.git rev-parse main'), id);
  assert.is(await onUpstreamOk('git -C app.git log -1 --format=%an main'), 'Agent', 'git_user applied');

  // Someone pushes to the upstream directly; the bottle's next fetch sees it.
  const theirs = await onUpstreamOk(
    'rm -rf /tmp/other && git clone -q /srv/git/app.git /tmp/other && cd /tmp/other && echo theirs > theirs.txt && git add theirs.txt'
      + ' && git -c user.name=Someone -c user.email=s@example.invalid commit -q -m theirs && git push -q origin HEAD:main && git rev-parse HEAD',
  );
  const fetch = await agent(a, 'cd app && git fetch origin && git rev-parse origin/main');
  assert.is(fetch.exitCode, 0, fetch.all);
  assert.is(fetch.stdout.trim().split('\n').pop(), theirs);
  await agentOk(a, 'cd app && git merge -q --ff-only origin/main');

  const lines = await audit(a);
  assert.ok(lines.some((l) => l.service === 'upload-pack' && l.repo === 'app' && l.decision === 'allow' && l.upstream === url('app')), 'a fetch line');
  assert.ok(lines.some((l) => l.service === 'receive-pack' && l.repo === 'app' && l.decision === 'allow' && l.refs.some((r) => r.ref === 'refs/heads/main' && r.new === id)), 'a push line with its ref');
});

test('a pre-receive hook on the upstream refuses: the push fails with its message; the mirror is unchanged', async () => {
  const a = ctx.a!;
  await onUpstreamOk(`printf '#!/bin/sh\\necho "upstream policy: commits need a ticket number" >&2\\nexit 1\\n' > app.git/hooks/pre-receive && chmod +x app.git/hooks/pre-receive`);
  try {
    const before = await mirrorRefs(a, 'app');
    const upstreamBefore = await onUpstreamOk('git -C app.git for-each-ref');
    const id = await agentOk(a, 'cd app && echo hooked > hooked.txt && git add hooked.txt && git commit -q -m "no ticket" && git rev-parse HEAD');
    const push = await agent(a, 'cd app && git push origin HEAD:main');
    assert.is.not(push.exitCode, 0);
    assert.match(push.all, /remote: .*upstream policy: commits need a ticket number/);
    assert.match(push.all, /refused the push/);
    assert.is(await mirrorRefs(a, 'app'), before, 'the mirror refs are as before');
    assert.not.ok(await mirrorHas(a, 'app', id), 'the mirror keeps no object of the refused push');
    assert.is(await onUpstreamOk('git -C app.git for-each-ref'), upstreamBefore);
    const line = (await audit(a)).find((l) => l.service === 'receive-pack' && l.refs.some((r) => r.new === id));
    assert.is(line?.decision, 'deny', 'the refused push is an audit line');
  } finally {
    await onUpstreamOk('rm -f app.git/hooks/pre-receive');
  }
  await agentOk(a, 'cd app && git reset -q --hard origin/main');
});

test('a non-fast-forward push: refused by the upstream with its message; a stale push gets fetch first; the mirror is unchanged', async () => {
  const a = ctx.a!;
  await onUpstreamOk('git -C app.git config receive.denyNonFastForwards true');
  try {
    // A forced rewrite of main: the gate forwards it (over the tip the agent saw) and the upstream says no.
    const before = await mirrorRefs(a, 'app');
    const upstreamMain = await onUpstreamOk('git -C app.git rev-parse main');
    const id = await agentOk(a, 'cd app && git fetch -q && git reset -q --hard origin/main~1 && echo rewrite > rewrite.txt && git add rewrite.txt && git commit -q -m rewrite && git rev-parse HEAD');
    const forced = await agent(a, 'cd app && git push --force origin HEAD:main');
    assert.is.not(forced.exitCode, 0);
    assert.match(forced.all, /remote: .*denying non-fast-forward refs\/heads\/main/);
    assert.is(await mirrorRefs(a, 'app'), before);
    assert.not.ok(await mirrorHas(a, 'app', id));
    assert.is(await onUpstreamOk('git -C app.git rev-parse main'), upstreamMain);
  } finally {
    await onUpstreamOk('git -C app.git config --unset receive.denyNonFastForwards');
  }
  // Someone moved main meanwhile: the gate's refreshed advertisement shows it, so git refuses plainly.
  await onUpstreamOk(
    'rm -rf /tmp/other && git clone -q /srv/git/app.git /tmp/other && cd /tmp/other && echo meanwhile > meanwhile.txt && git add meanwhile.txt'
      + ' && git -c user.name=Someone -c user.email=s@example.invalid commit -q -m meanwhile && git push -q origin HEAD:main',
  );
  const linesBefore = (await audit(a)).length;
  const stale = await agent(a, 'cd app && git reset -q --hard HEAD~1 && echo stale > stale.txt && git add stale.txt && git commit -q -m stale && git push origin HEAD:main');
  assert.is.not(stale.exitCode, 0);
  assert.match(stale.all, /\[rejected\]\s+HEAD -> main \((fetch first|non-fast-forward)\)/);
  // The gate writes that line when it sees the empty command list, which can land just after the
  // client has exited: wait for it rather than read the log once.
  let last: GitAuditEntry | undefined;
  for (let i = 0; i < 100; i++) {
    const lines = await audit(a);
    if (lines.length > linesBefore) {
      last = lines.at(-1);
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal([last?.service, last?.decision, last?.refs], ['receive-pack', 'allow', []], 'the push git refused itself is an audit line too');
  await agentOk(a, 'cd app && git fetch -q && git reset -q --hard origin/main');
});

test('push: false is enforced: docs can be cloned and fetched, never pushed', async () => {
  const a = ctx.a!;
  await agentOk(a, `git clone -q ${url('docs')} docs`);
  assert.is(await agentOk(a, 'cat docs/README.md'), 'docs');
  const upstreamBefore = await onUpstreamOk('git -C docs.git for-each-ref');
  const push = await agent(a, 'cd docs && echo x > x.txt && git add x.txt && git commit -q -m x && git push origin HEAD:main');
  assert.is.not(push.exitCode, 0);
  assert.match(push.all, /git-gate: docs\.git is read-only in this bottle \(push: false\); push refused/);
  const branch = await agent(a, 'cd docs && git push origin HEAD:refs/heads/agent-work');
  assert.is.not(branch.exitCode, 0, 'not to a new branch either');
  assert.is(await onUpstreamOk('git -C docs.git for-each-ref'), upstreamBefore);
  const fetch = await agent(a, 'cd docs && git fetch origin');
  assert.is(fetch.exitCode, 0, fetch.all);
  const lines = await audit(a);
  assert.ok(lines.some((l) => l.repo === 'docs' && l.service === 'receive-pack' && l.decision === 'deny' && /push: false/.test(l.reason ?? '')));
  assert.ok(lines.some((l) => l.repo === 'docs' && l.service === 'upload-pack' && l.decision === 'allow'));
});

test('protect is enforced: no update, creation or deletion of a protected ref, nor of a ref that shadows it; other branches push', async () => {
  const a = ctx.a!;
  const releaseBefore = await onUpstreamOk('git -C app.git rev-parse release/1.0');
  await agentOk(a, 'cd app && git fetch -q && git reset -q --hard origin/main && echo p > p.txt && git add p.txt && git commit -q -m protected-try');
  const cases: [string, string, string][] = [
    ['update', 'git push origin HEAD:release/1.0', 'pushing to it'],
    ['create', 'git push origin HEAD:refs/heads/release/2.0', 'creating it'],
    ['delete', 'git push origin :release/1.0', 'deleting it'],
  ];
  for (const [what, cmd, words] of cases) {
    const r = await agent(a, `cd app && ${cmd}`);
    assert.is.not(r.exitCode, 0, `${what}: ${r.all}`);
    assert.match(r.all, /git-gate: refs\/heads\/release\/[12]\.0 is protected in this bottle \(protect: "release\/\*"\)/, `${what}: ${r.all}`);
    assert.ok(r.all.includes(words), `${what} names what was refused: ${r.all}`);
  }
  assert.is(await onUpstreamOk('git -C app.git rev-parse release/1.0'), releaseBefore, 'the protected branch is untouched');
  assert.is((await onUpstream('git -C app.git rev-parse --verify -q release/2.0')).exitCode, 1, 'no protected branch was created');
  // Shadows: refs a user's `release/1.0` could resolve to, or that a case-insensitive upstream
  // stores in the same file. Each refused; the upstream has none of them.
  for (const ref of ['refs/tags/release/1.0', 'refs/heads/RELEASE/1.0', 'refs/heads/refs/heads/release/1.0', 'refs/release/1.0', 'refs/remotes/release/1.0']) {
    const r = await agent(a, `cd app && git push origin HEAD:${ref}`);
    assert.is.not(r.exitCode, 0, `${ref}: ${r.all}`);
    assert.match(r.all, /git-gate: .*protect: "release\/\*"/, `${ref}: ${r.all}`);
  }
  const shadows = await onUpstreamOk("git -C app.git for-each-ref --format='%(refname)'");
  assert.not.match(shadows, /refs\/tags\/release|RELEASE|refs\/heads\/refs|^refs\/release|refs\/remotes/m, shadows);
  // A branch that is not protected is pushed.
  const ok = await agent(a, 'cd app && git push origin HEAD:agent-work');
  assert.is(ok.exitCode, 0, ok.all);
  assert.is(await onUpstreamOk('git -C app.git rev-parse agent-work'), await agentOk(a, 'git -C app rev-parse HEAD'));
  const lines = await audit(a);
  assert.ok(lines.some((l) => l.service === 'receive-pack' && l.decision === 'deny' && l.refs.some((r) => r.ref === 'refs/heads/release/1.0' && r.new === ZERO)), 'the refused deletion is audited');
});

test('refused with a clear message: undeclared repos, path tricks, upload-archive', async () => {
  const a = ctx.a!;
  const cases: [string, RegExp][] = [
    // The undeclared repo on the same host, by its ssh URL: not rewritten, and the bottle has no route.
    [`git ls-remote ${url('secret')}`, /Could not resolve hostname/],
    // ...and asked of the gate by name.
    ['git ls-remote git://127.0.0.1:9418/secret.git', /git-gate: repository "\/secret\.git" is not declared for this bottle \(declared: app\.git, docs\.git\)/],
    // Path tricks through the declared URL (insteadOf is a prefix rewrite) and straight at the gate.
    [`git ls-remote ${url('app')}/../secret.git`, /git-gate: refused path "\/app\.git\/\.\.\/secret\.git"/],
    ['git ls-remote git://127.0.0.1:9418/../secret.git', /git-gate: (refused path|repository) /],
    ['git ls-remote git://127.0.0.1:9418/srv/git/app.git', /git-gate: refused path "\/srv\/git\/app\.git"/],
    ['git ls-remote git://127.0.0.1:9418/app.git.git', /git-gate: repository "\/app\.git\.git" is not declared.*did you mean app\.git\?/],
    ['git ls-remote git://127.0.0.1:9418/APP.git', /did you mean app\.git\?/],
    ['git ls-remote git://127.0.0.1:9418/app', /did you mean app\.git\?/],
    ['git ls-remote "git://127.0.0.1:9418/~git/app.git"', /git-gate: refused path "\/?~git\/app\.git"/],
    [`git archive --remote=${url('app')} HEAD`, /git-gate: git archive --remote \(upload-archive\) is not served/],
  ];
  for (const [cmd, expected] of cases) {
    const r = await agent(a, cmd);
    assert.is.not(r.exitCode, 0, `${cmd} must fail:\n${r.all}`);
    assert.match(r.all, expected, `${cmd}:\n${r.all}`);
  }
  const lines = await audit(a);
  assert.ok(lines.some((l) => l.decision === 'deny' && l.repo === '/secret.git'), 'the undeclared repo is audited');
  assert.ok(lines.some((l) => l.decision === 'deny' && l.service === 'upload-archive'), 'upload-archive is audited');
});

/** A search for the key's lines over a container's whole filesystem, /proc's environ and cmdline files. */
const KEY_SEARCH = `
cd /
for d in /* /.dockerenv; do
  case "$d" in /proc|/sys) continue;; esac
  [ -e "$d" ] || continue
  grep -rlF -D skip -f /tmp/needles "$d" 2>/dev/null | grep -v '^/tmp/needles$'
done
for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do
  tr '\\0' '\\n' < "$f" 2>/dev/null | grep -qF -f /tmp/needles && echo "$f"
done
true`;

async function keySearch(container: string): Promise<string[]> {
  const needles = ctx.keyLines!.join('\n') + '\n';
  const put = await docker(['exec', '-i', container, 'sh', '-c', 'cat > /tmp/needles'], { input: needles });
  assert.is(put.exitCode, 0, put.stderr);
  const r = await docker(['exec', container, 'sh', '-c', KEY_SEARCH], { timeoutMs: 300_000 });
  assert.is(r.exitCode, 0, r.stderr);
  await docker(['exec', container, 'rm', '-f', '/tmp/needles']);
  return r.stdout.split('\n').filter(Boolean);
}

test('the private key is nowhere in the bottle: files, env, processes, docker inspect', async () => {
  const a = ctx.a!;
  // The search is real: run on the bundle, it finds the mounted key.
  const inBundle = await keySearch(a.bundle);
  assert.ok(inBundle.some((f) => f.startsWith('/etc/bot-bottle-git/')), `the bundle holds the key: ${inBundle.join(', ')}`);
  // A push is in flight while the bottle is searched? No: keep the bottle busy with git instead, so
  // its processes exist while /proc is read.
  const busy = agent(a, `for i in 1 2 3; do git ls-remote ${url('app')} >/dev/null; done`);
  const inBottle = await keySearch(a.container);
  await busy;
  assert.equal(inBottle, [], `the key's lines were found in the bottle: ${inBottle.join(', ')}`);
  const env = await agent(a, 'env; cat /home/node/.gitconfig');
  for (const l of ctx.keyLines!) assert.not.ok(env.stdout.includes(l));
  assert.not.match(env.stdout, /IdentityFile|id_ed25519|GIT_SSH|SSH_AUTH_SOCK/);
  const ps = await inContainer(a.container, 'for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline; echo; done');
  assert.not.match(ps.stdout, /id_ed25519|bot-bottle-git/);
  const inspect = await dockerOk(['inspect', a.container], 'inspect');
  for (const l of ctx.keyLines!) assert.not.ok(inspect.includes(l));
  assert.not.ok(inspect.includes(ctx.key!), 'the key file is not mounted into the bottle');
  assert.not.ok(inspect.includes('bot-bottle-git'), 'nor the bundle-only git mounts');
  assert.ok((await dockerOk(['inspect', a.bundle], 'inspect')).includes(ctx.key!), 'the bundle mounts it (so the check above is meaningful)');
});

test('two bottles push to one upstream branch at once: one wins, the other gets a clean non-fast-forward; fsck passes', async () => {
  const [a, b] = [ctx.a!, ctx.b!];
  await agentOk(a, 'cd app && git fetch -q && git reset -q --hard origin/main');
  await agentOk(b, `rm -rf app && git clone -q ${url('app')} app`);
  const ids = await Promise.all(
    [a, b].map((x, i) => agentOk(x, `cd app && echo ${i} > race-${i}.txt && git add race-${i}.txt && git commit -q -m race-${i} && git rev-parse HEAD`)),
  );
  const results = await Promise.all([a, b].map((x) => agent(x, 'cd app && git push origin HEAD:main')));
  const winners = results.flatMap((r, i) => (r.exitCode === 0 ? [i] : []));
  assert.is(winners.length, 1, `exactly one push wins:\n${results.map((r) => r.all).join('\n---\n')}`);
  const w = winners[0]!;
  ctx.race = { ids, winner: w };
  const loser = results[1 - w]!;
  const loserBottle = [a, b][1 - w]!;
  assert.match(loser.all, /\[(remote )?rejected\]\s+HEAD -> main/, loser.all);
  assert.match(loser.all, /fetch first|non-fast-forward/, loser.all);
  assert.not.match(loser.all, /fatal|corrupt|hung up|error: unpack/i);
  assert.is(await onUpstreamOk('git -C app.git rev-parse main'), ids[w]);
  assert.not.ok(await mirrorHas(loserBottle, 'app', ids[1 - w]!), "the loser's mirror keeps none of its push");
  const fsck = await onUpstream('git -C app.git fsck --strict --no-dangling');
  assert.is(fsck.exitCode, 0, fsck.all);
  // The loser catches up the ordinary way.
  const retry = await agent(loserBottle, 'cd app && git pull -q --rebase origin main && git push origin HEAD:main');
  assert.is(retry.exitCode, 0, retry.all);
  assert.is((await onUpstream('git -C app.git fsck --strict --no-dangling')).exitCode, 0);
});

test('every push and fetch is an audit line in the bottle\'s own audit log', async () => {
  // Bottle B did exactly this: clone, the race push, and (when it lost) pull and push again.
  const { ids, winner } = ctx.race!;
  const lines = await audit(ctx.b!);
  const shape = lines.map((l) => [l.service, l.repo, l.decision]);
  const race = lines[1];
  if (winner === 1) {
    assert.equal(shape, [['upload-pack', 'app', 'allow'], ['receive-pack', 'app', 'allow']]);
    assert.equal(race!.refs.map((r) => [r.ref, r.new]), [['refs/heads/main', ids[1]]]);
  } else {
    assert.equal(shape.map((x) => x[0]), ['upload-pack', 'receive-pack', 'upload-pack', 'receive-pack']);
    // The lost push: refused by the upstream (the hook's line, with its ref), or by git itself
    // after the refreshed advertisement (a push that sent no ref update).
    if (race!.decision === 'deny') {
      assert.equal(race!.refs.map((r) => [r.ref, r.new]), [['refs/heads/main', ids[1]]]);
      assert.match(race!.reason ?? '', /fetch first|non-fast-forward/);
    } else {
      assert.equal(race!.refs, []);
    }
    assert.is(lines[3]!.decision, 'allow');
    assert.is(lines[3]!.refs[0]!.ref, 'refs/heads/main');
  }
  for (const l of lines) {
    assert.ok(!Number.isNaN(Date.parse(l.time)), l.time);
    assert.is(l.upstream, url('app'));
  }
  // Bottle A's lines are in A's log only.
  assert.ok((await audit(ctx.a!)).some((l) => l.repo === 'docs'));
  assert.not.ok(lines.some((l) => l.repo === 'docs'));
});

test.run();
