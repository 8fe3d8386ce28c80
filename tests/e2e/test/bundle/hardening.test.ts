/**
 * The bundle attacked where it holds everything: a real bottle, its real bundle, a test-made
 * HTTPS upstream with a route that injects a canary secret, a test-made git:// upstream whose push
 * hook waits for the test (so the gate's git daemon, receive-pack, push hook and `git push` can be
 * looked at while they run), and an ssh "upstream" that accepts and never speaks (so the gate's ssh
 * can be looked at while it waits).
 *
 * Processes are read from a test-made helper container that shares the bundle's pid namespace with
 * CAP_SYS_PTRACE (the bundle itself keeps no right to read other users' /proc files); the canary
 * reaches that helper on stdin, never in its environment. Each claim has a control that proves
 * the check would have seen the opposite.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bundleName, socketVolumeName } from '@bot-bottle/backend-docker';
import { RUN_ID, RUN_LABEL_KEY, TEST_LABEL, docker, dockerOk, inBottle, inBottleAsRoot, launchBottle, startWorld, testImages, uniq, type TestBottle, type World } from './helpers.js';

const test = suite('bundle hardening (real bottle, real bundle)');

const CANARY = `bbcanary-${randomBytes(12).toString('hex')}`;
const labels = ['--label', TEST_LABEL, '--label', `${RUN_LABEL_KEY}=${RUN_ID}`];
const SOCKETS = '/run/bot-bottle';
const CA_KEY = '/etc/bot-bottle-egress/ca.key';
const GIT_FILES = '/run/bot-bottle-git';

interface Proc {
  pid: number;
  ppid: number;
  /** Real, effective, saved and file-system uid. */
  uids: number[];
  gids: number[];
  capEff: string;
  comm: string;
  args: string;
  /** Whether its environ holds the canary; null when it could not be read. */
  canary: boolean | null;
  fds: string[];
}

const ctx: {
  world?: World;
  b?: TestBottle;
  bundle?: string;
  volume?: string;
  gitUp?: string;
  tarpit?: string;
  runtime?: string;
  egressUid?: number;
  gitUid?: number;
} = {};

/** Runs a shell snippet in the bundle (as `user`, default root). */
async function inBundle(script: string, user?: string) {
  const r = await docker(['exec', ...(user ? ['-u', user] : []), ctx.bundle!, 'sh', '-c', script], { timeoutMs: 60_000 });
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, all: `${r.stdout}${r.stderr}` };
}
async function inBundleOk(script: string, user?: string): Promise<string> {
  const r = await inBundle(script, user);
  if (r.exitCode !== 0) throw new Error(`bundle: ${script} exited ${r.exitCode}:\n${r.all}`);
  return r.stdout.trim();
}

const SCAN = `
const fs = require('fs');
const canary = fs.readFileSync(0, 'utf8').trim();
const out = [];
for (const d of fs.readdirSync('/proc')) {
  if (!/^[0-9]+$/.test(d) || Number(d) === process.pid) continue;
  try {
    const status = fs.readFileSync('/proc/' + d + '/status', 'utf8');
    const field = (k) => ((new RegExp('^' + k + ':\\\\s*(.*)$', 'm')).exec(status) || [])[1] || '';
    let env = null;
    try { env = fs.readFileSync('/proc/' + d + '/environ', 'latin1'); } catch {}
    let fds = [];
    try { fds = fs.readdirSync('/proc/' + d + '/fd').map((f) => { try { return fs.readlinkSync('/proc/' + d + '/fd/' + f); } catch { return ''; } }); } catch {}
    out.push({
      pid: Number(d), ppid: Number(field('PPid')),
      uids: field('Uid').split(/\\s+/).map(Number), gids: field('Gid').split(/\\s+/).map(Number),
      capEff: field('CapEff'), comm: fs.readFileSync('/proc/' + d + '/comm', 'utf8').trim(),
      args: fs.readFileSync('/proc/' + d + '/cmdline', 'latin1').split('\\0').filter(Boolean).join(' '),
      canary: env === null ? null : env.includes(canary), fds,
    });
  } catch {}
}
process.stdout.write(JSON.stringify(out));
`;

/** Every process of the bundle, read from a helper in its pid namespace (the canary on stdin). */
async function scan(): Promise<Proc[]> {
  const r = await docker(['run', '--rm', '-i', ...labels, '--network', 'none', '--pid', `container:${ctx.bundle}`, '--cap-add', 'SYS_PTRACE', ctx.runtime!, 'node', '-e', SCAN], { input: CANARY, timeoutMs: 60_000 });
  if (r.exitCode !== 0) throw new Error(`scan failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Proc[];
}

/** Scans until `want` holds (the process it waits for has started), at most `tries` times. */
async function scanUntil(want: (ps: Proc[]) => boolean, what: string, tries = 100): Promise<Proc[]> {
  for (let i = 0; ; i++) {
    const ps = await scan();
    if (want(ps)) return ps;
    if (i >= tries) throw new Error(`never saw ${what}; processes:\n${ps.map((p) => `${p.pid} ${p.uids[0]} ${p.args}`).join('\n')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// Node names its main thread MainThread, so the supervisor is told from docker-init (pid 1) by its argv.
const supervisorOf = (ps: Proc[]) => ps.find((p) => p.pid !== 1 && /^node \S*\/bundle\/dist\/main\.js/.test(p.args));
const describe = (p: Proc) => `${p.pid} uid=${p.uids.join(',')} cap=${p.capEff} canary=${p.canary} ${p.args}`;

/** Every process but docker's init and the supervisor runs as a service user, with no capability and no canary. */
function assertServicesUnprivileged(ps: Proc[]): void {
  const sup = supervisorOf(ps);
  assert.ok(sup, 'the supervisor is running');
  for (const p of ps) {
    if (p.pid === 1 || p.pid === sup!.pid) continue;
    const uid = p.uids[0]!;
    assert.ok(uid === ctx.egressUid || uid === ctx.gitUid, `runs as a service user: ${describe(p)}`);
    assert.ok(p.uids.every((u) => u === uid) && p.gids.every((g) => g === p.gids[0]), `no other id left: ${describe(p)}`);
    assert.is(p.gids[0], uid === ctx.egressUid ? ctx.egressUid : ctx.gitUid, describe(p));
    assert.is(p.capEff, '0000000000000000', `no capability: ${describe(p)}`);
    assert.is(p.canary, false, `environ readable and free of the secret: ${describe(p)}`);
  }
}

async function readyLines(): Promise<number> {
  const logs = await docker(['logs', ctx.bundle!]);
  return (`${logs.stdout}${logs.stderr}`.match(/: ready \(/g) ?? []).length;
}

/** Restarts the bundle and waits until it says it is ready again, or stops. */
async function restartBundle(): Promise<'ready' | 'exited'> {
  const before = await readyLines();
  await dockerOk(['restart', ctx.bundle!], 'restarting the bundle');
  for (let i = 0; i < 600; i++) {
    if ((await readyLines()) > before) return 'ready';
    const state = (await docker(['inspect', '--format', '{{.State.Status}}', ctx.bundle!])).stdout.trim();
    if (state === 'exited') return 'exited';
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the bundle neither became ready nor stopped:\n${(await docker(['logs', '--tail', '20', ctx.bundle!])).stderr}`);
}

/** The HTTPS route with the injected canary works from the bottle. */
async function egressWorks(marker: string): Promise<void> {
  const r = await inBottle(ctx.b!, `curl -sS https://api.example.test/echo?case=${marker}`);
  assert.is(r.exitCode, 0, r.stderr);
  const got = (await ctx.world!.upstream.requests()).find((x) => x.url.includes(`case=${marker}`));
  assert.is(got?.headers.authorization, `Bearer ${CANARY}`);
}

test.before(async () => {
  ctx.world = await startWorld();
  const images = await testImages();
  ctx.runtime = images.runtime;
  const dir = ctx.world.dir;
  // The git:// upstream: a real git daemon whose pre-receive hook waits until the test releases it.
  ctx.gitUp = uniq('bbtest-gitup');
  const hook = '#!/bin/sh\ni=0\nwhile [ ! -e /tmp/srv/release ] && [ $i -lt 3000 ]; do sleep 0.2; i=$((i+1)); done\n';
  await dockerOk(
    [
      'run', '-d', ...labels, '--name', ctx.gitUp, '--network', ctx.world.network, '-u', 'node', '-e', `HOOK=${hook}`, images.runtime, 'sh', '-c',
      'set -e; mkdir -p /tmp/srv; git init -q --bare --initial-branch=main /tmp/srv/app.git'
        + ' && git init -q --initial-branch=main /tmp/seed && echo app > /tmp/seed/README.md && git -C /tmp/seed add README.md'
        + ' && git -C /tmp/seed -c user.name=Up -c user.email=up@example.invalid commit -q -m initial && git -C /tmp/seed push -q /tmp/srv/app.git main'
        + ' && printf "%s" "$HOOK" > /tmp/srv/app.git/hooks/pre-receive && chmod +x /tmp/srv/app.git/hooks/pre-receive'
        + ' && exec git daemon --reuseaddr --export-all --enable=receive-pack --base-path=/tmp/srv --listen=0.0.0.0 /tmp/srv',
    ],
    'starting the git upstream',
  );
  // The ssh "upstream": accepts connections and never speaks, so the gate's ssh waits in its handshake.
  ctx.tarpit = uniq('bbtest-tarpit');
  await dockerOk(['run', '-d', ...labels, '--name', ctx.tarpit, '--network', ctx.world.network, images.runtime, 'node', '-e', "require('net').createServer(() => {}).listen(22)"], 'starting the ssh tarpit');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bbtest hardening', '-f', path.join(dir, 'id_test')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bbtest host', '-f', path.join(dir, 'host_test')]);
  const hostPub = (await readFile(path.join(dir, 'host_test.pub'), 'utf8')).trim().split(' ').slice(0, 2).join(' ');
  await writeFile(path.join(dir, 'known_hosts_test'), `${ctx.tarpit} ${hostPub}\n`);
  for (let i = 0; ; i++) {
    if ((await docker(['exec', ctx.gitUp, 'git', 'ls-remote', 'git://127.0.0.1/app.git'])).exitCode === 0) break;
    if (i > 100) throw new Error(`the git upstream did not start: ${(await docker(['logs', ctx.gitUp])).stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  const manifest = {
    bottles: {
      dev: {
        egress: { routes: [{ host: 'api.example.test', auth: { header: 'authorization', env: 'BBTEST_HARDEN_TOKEN', format: 'Bearer {value}' }, to: ctx.world.upstream.url }] },
        git: [
          { Name: 'app', Upstream: `git://${ctx.gitUp}/app.git` },
          { Name: 'slow', Upstream: `ssh://git@${ctx.tarpit}:22/slow.git`, IdentityFile: path.join(dir, 'id_test'), KnownHosts: path.join(dir, 'known_hosts_test') },
        ],
      },
    },
    agents: { demo: { bottle: 'dev', provisioners: [] } },
  };
  ctx.b = await launchBottle(ctx.world, manifest, { BBTEST_HARDEN_TOKEN: CANARY });
  await ctx.b.bottle.ready;
  ctx.bundle = bundleName(ctx.b.plan.slug);
  ctx.volume = socketVolumeName(ctx.b.plan.slug);
  ctx.egressUid = Number(await inBundleOk('id -u bot-bottle-egress'));
  ctx.gitUid = Number(await inBundleOk('id -u bot-bottle-git'));
});

test.after(async () => {
  await ctx.b?.bottle.destroy().catch(() => undefined);
  await ctx.world?.cleanup();
});

test('at rest: only docker-init and the supervisor are root; the services run as their users with no capability and no secret', async () => {
  const ps = await scan();
  const sup = supervisorOf(ps)!;
  // Control: the search finds the canary where docker put it (the supervisor's environment).
  assert.is(sup.uids[0], 0);
  // The supervisor's capabilities are exactly CHOWN, DAC_OVERRIDE, KILL, SETGID, SETUID (no FOWNER).
  assert.is(sup.capEff, '00000000000000e3');
  assert.is(sup.canary, true, 'the scan reads environ and finds the canary in the supervisor');
  // The supervisor holds neither the audit log nor the CA key open.
  assert.not.ok(sup.fds.some((f) => f.includes('/var/log/bot-bottle') || f.includes('bot-bottle-egress')), sup.fds.join(', '));
  const egress = ps.find((p) => p.args.includes('egress-service.js'));
  const git = ps.find((p) => p.args.includes('git-service.js'));
  assert.ok(egress && git, ps.map(describe).join('\n'));
  assert.is(egress!.uids[0], ctx.egressUid);
  assert.is(git!.uids[0], ctx.gitUid);
  // Each service holds the audit log open (the descriptor the supervisor handed down).
  for (const p of [egress!, git!]) assert.ok(p.fds.some((f) => f.endsWith('/audit.jsonl')), p.fds.join(', '));
  assertServicesUnprivileged(ps);
});

test('a push in flight: git daemon, receive-pack, the push hook and git push all run as the git user, without the secret', async () => {
  const push = inBottle(
    ctx.b!,
    'cd /home/node && rm -rf app && git clone -q git://127.0.0.1:9418/app.git app && cd app'
      + ' && git -c user.name=Agent -c user.email=agent@example.invalid commit -q --allow-empty -m hardening && git push origin HEAD:main 2>&1',
    180_000,
  );
  try {
    const ps = await scanUntil((p) => p.some((x) => /push --porcelain/.test(x.args)), 'the hook\'s git push');
    const want: [string, RegExp][] = [
      ['git daemon', /git(-| )daemon --inetd/],
      ['receive-pack', /receive-pack/],
      ['the push hook', /pre-receive\.js/],
      ['git push', /push --porcelain/],
    ];
    for (const [what, re] of want) {
      const found = ps.filter((p) => re.test(p.args));
      assert.ok(found.length > 0, `${what} is running: ${ps.map(describe).join('\n')}`);
      for (const p of found) {
        assert.is(p.uids[0], ctx.gitUid, `${what} as the git user: ${describe(p)}`);
        assert.is(p.canary, false, `${what} has no secret: ${describe(p)}`);
        assert.is(p.capEff, '0000000000000000', describe(p));
      }
    }
    assertServicesUnprivileged(ps);
  } finally {
    await docker(['exec', ctx.gitUp!, 'touch', '/tmp/srv/release']);
  }
  const r = await push;
  assert.is(r.exitCode, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /accepted the push/);
  const lines = (await readFile(ctx.b!.plan.egress.auditLogPath, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(lines.some((l) => l.source === 'git-gate' && l.service === 'receive-pack' && l.decision === 'allow' && Array.isArray(l.refs) && (l.refs as unknown[]).length === 1), 'the hook\'s audit line reached the log');
});

test('ssh to an upstream runs as the git user, with its own 600 copy of the key and without the secret', async () => {
  const waiting = inBottle(ctx.b!, 'git ls-remote git://127.0.0.1:9418/slow.git 2>&1', 120_000);
  waiting.catch(() => undefined);
  const ps = await scanUntil((p) => p.some((x) => x.comm === 'ssh'), 'ssh');
  for (const p of ps.filter((x) => x.comm === 'ssh' || /git(-| )fetch/.test(x.args))) {
    assert.is(p.uids[0], ctx.gitUid, describe(p));
    assert.is(p.canary, false, describe(p));
    assert.is(p.capEff, '0000000000000000', describe(p));
  }
  const ssh = ps.find((x) => x.comm === 'ssh')!;
  assert.match(ssh.args, `-i ${GIT_FILES}/key-1`);
  assertServicesUnprivileged(ps);
  // The copy is the git user's alone; the egress user cannot read it, the git user can (control).
  assert.is(await inBundleOk(`stat -c '%U %a' ${GIT_FILES} ${GIT_FILES}/key-1`), 'bot-bottle-git 700\nbot-bottle-git 600');
  const asEgress = await inBundle(`cat ${GIT_FILES}/key-1`, 'bot-bottle-egress');
  assert.is.not(asEgress.exitCode, 0);
  assert.match(asEgress.all, /Permission denied/);
  const asGit = await inBundle(`cat ${GIT_FILES}/key-1`, 'bot-bottle-git');
  assert.is(asGit.stdout, await readFile(path.join(ctx.world!.dir, 'id_test'), 'utf8'));
});

test('the service users cannot read the CA key or the supervisor\'s environment; root can (control)', async () => {
  const asRoot = await inBundle(`cat ${CA_KEY}`);
  assert.is(asRoot.exitCode, 0, asRoot.all);
  assert.is(asRoot.stdout, await readFile(ctx.b!.plan.egress.caKeyPath, 'utf8'));
  const sup = supervisorOf(await scan())!;
  for (const user of ['bot-bottle-git', 'bot-bottle-egress']) {
    const key = await inBundle(`cat ${CA_KEY}`, user);
    assert.is.not(key.exitCode, 0, `${user} read the CA key`);
    assert.match(key.all, /Permission denied/);
    const env = await inBundle(`cat /proc/${sup.pid}/environ /proc/1/environ`, user);
    assert.is.not(env.exitCode, 0);
    assert.not.ok(env.stdout.includes(CANARY), `${user} read a root process's environment`);
  }
  // The git user cannot read the egress process's environment or memory either.
  const egress = (await scan()).find((p) => p.args.includes('egress-service.js'))!;
  const peek = await inBundle(`cat /proc/${egress.pid}/environ; head -c 1 /proc/${egress.pid}/mem`, 'bot-bottle-git');
  assert.is.not(peek.exitCode, 0);
  assert.match(peek.all, /Permission denied/);
});

test('the git user cannot remove or replace the gateway\'s socket; it can add and remove a file of its own (control)', async () => {
  const own = await inBundle(`touch ${SOCKETS}/bbtest-git-own && rm ${SOCKETS}/bbtest-git-own`, 'bot-bottle-git');
  assert.is(own.exitCode, 0, own.all);
  for (const op of [`rm -f ${SOCKETS}/egress.sock`, `mv ${SOCKETS}/egress.sock ${SOCKETS}/moved`, `ln -sfn /etc/passwd ${SOCKETS}/egress.sock`, `rm -f ${SOCKETS}/ready`]) {
    const r = await inBundle(op, 'bot-bottle-git');
    assert.is.not(r.exitCode, 0, `${op} worked`);
    assert.match(r.all, /Operation not permitted|Permission denied/);
  }
  assert.is(await inBundleOk(`stat -c '%F %U' ${SOCKETS}/egress.sock ${SOCKETS}/ready`), 'socket bot-bottle-egress\nregular file root');
  await egressWorks('after-git-user-attempts');
});

test('the socket folder is read-only in the bottle: root there cannot replace a socket or the ready marker', async () => {
  const ops = [
    `ln -sfn /etc/passwd ${SOCKETS}/ready`,
    `rm -f ${SOCKETS}/egress.sock`,
    `mv ${SOCKETS}/git.sock ${SOCKETS}/moved`,
    `ln -s /etc/passwd ${SOCKETS}/supervise.sock`,
    `chmod 777 ${SOCKETS}`,
    `mount -o remount,rw ${SOCKETS}`,
  ];
  const attempt = (dir: string) =>
    inBottleAsRoot(ctx.b!, `id -u; ${ops.map((op) => `if ${op.replaceAll(SOCKETS, dir)} 2>/tmp/err; then echo "ALLOWED: ${op}"; else cat /tmp/err; fi`).join('; ')}`);
  // Control: root in the bottle does all of it in a folder of its own that holds the same names.
  assert.is((await inBottleAsRoot(ctx.b!, 'mkdir -p /tmp/bbtest-sock && touch /tmp/bbtest-sock/ready /tmp/bbtest-sock/egress.sock /tmp/bbtest-sock/git.sock')).exitCode, 0);
  const control = await attempt('/tmp/bbtest-sock');
  assert.ok(control.stdout.startsWith('0\n'), 'the bottle runs these as root');
  assert.is((control.stdout.match(/ALLOWED/g) ?? []).length, ops.length - 1, `everything but the remount works in its own folder: ${control.stdout}`);
  const r = await attempt(SOCKETS);
  assert.not.match(r.stdout, /ALLOWED/, r.stdout);
  assert.match(r.stdout, /Read-only file system/);
  assert.is(await inBundleOk(`stat -c '%F' ${SOCKETS}/egress.sock ${SOCKETS}/git.sock; stat -c '%F %a' ${SOCKETS}/ready`), 'socket\nsocket\nregular file 644');
  await egressWorks('after-ro-attempts');
});

/** Test files in the bundle that the planted symlinks point at: mode 600 and a known content. */
const TARGETS = ['egress.sock', 'git.sock', 'ready', 'supervise.sock'];
const targetOf = (name: string) => `/etc/bbtest-target-${name}`;
async function makeTargets(): Promise<void> {
  await inBundleOk(TARGETS.map((n) => `printf 'target %s\\n' ${n} > ${targetOf(n)} && chmod 600 ${targetOf(n)}`).join(' && '));
}
async function targetsState(): Promise<string> {
  return inBundleOk(TARGETS.map((n) => `stat -c '%n %a %s' ${targetOf(n)} && cat ${targetOf(n)}`).join(' && '));
}
const TARGETS_UNTOUCHED = TARGETS.map((n) => `${targetOf(n)} 600 ${`target ${n}\n`.length}\ntarget ${n}`).join('\n');

/** A test-made container with the socket volume mounted read-write, standing in for a bottle that could write there. */
function inVolume(script: string, detach = false) {
  return docker(['run', ...(detach ? ['-d'] : ['--rm']), ...labels, '--network', 'none', '-v', `${ctx.volume}:/s`, ctx.runtime!, 'sh', '-c', script], { timeoutMs: 60_000 });
}

test('symlinks planted in the socket folder (by a writer the bottle cannot be) are never followed when the bundle starts again', async () => {
  await makeTargets();
  // Control: a symlink planted in the volume resolves, in the bundle, to the bundle's own file, so a
  // path-following chmod or write there would land in it.
  await inBundleOk(`printf 'control\\n' > /etc/bbtest-control && chmod 600 /etc/bbtest-control`);
  assert.is((await inVolume('ln -s /etc/bbtest-control /s/bbtest-control-link')).exitCode, 0);
  await inBundleOk(`node -e "const fs = require('fs'); fs.chmodSync('${SOCKETS}/bbtest-control-link', 0o666); fs.appendFileSync('${SOCKETS}/bbtest-control-link', 'followed\\n')"`);
  assert.is(await inBundleOk(`stat -c '%a' /etc/bbtest-control && cat /etc/bbtest-control`), '666\ncontrol\nfollowed');
  assert.is((await inVolume('rm -f /s/bbtest-control-link')).exitCode, 0);

  assert.is(await targetsState(), TARGETS_UNTOUCHED);
  const plant = TARGETS.map((n) => `rm -f /s/${n} && ln -s ${targetOf(n)} /s/${n}`).join(' && ');
  const planted = await inVolume(`${plant} && ls -l /s`);
  assert.is(planted.exitCode, 0, planted.stderr);
  assert.match(planted.stdout, `ready -> ${targetOf('ready')}`);
  assert.is(await restartBundle(), 'ready', (await docker(['logs', ctx.bundle!])).stderr);

  assert.is(await targetsState(), TARGETS_UNTOUCHED, 'the files the symlinks named are as they were');
  assert.is(
    await inBundleOk(`stat -c '%n %F %a %U' ${SOCKETS} ${SOCKETS}/egress.sock ${SOCKETS}/git.sock ${SOCKETS}/ready; ls ${SOCKETS}`),
    [
      `${SOCKETS} directory 1775 bot-bottle-egress`,
      `${SOCKETS}/egress.sock socket 666 bot-bottle-egress`,
      `${SOCKETS}/git.sock socket 666 bot-bottle-git`,
      `${SOCKETS}/ready regular file 644 root`,
      'egress.sock',
      'git.sock',
      'ready',
    ].join('\n'),
    'the planted names are gone (supervise.sock included); the sockets and the marker are new',
  );
  assert.is((await docker(['inspect', '--format', '{{.State.Status}}', ctx.bundle!])).stdout.trim(), 'running');
  await egressWorks('after-planted-restart');
  const git = await inBottle(ctx.b!, 'git ls-remote git://127.0.0.1:9418/app.git HEAD');
  assert.is(git.exitCode, 0, git.stderr);
});

test('symlinks re-planted as fast as a writer can while the bundle starts: never followed', async () => {
  await makeTargets();
  const racer = await inVolume(
    `node -e "
const fs = require('fs'); const names = ${JSON.stringify(TARGETS)}; let n = 0;
for (;;) {
  for (const name of names) { try { fs.symlinkSync('/etc/bbtest-target-' + name, '/s/.' + name + '.l'); fs.renameSync('/s/.' + name + '.l', '/s/' + name); } catch {} }
  if (++n % 500 === 0 && fs.existsSync('/s/.stop')) break;
  if (n > 3e6) break;
}
console.log(n);"`,
    true,
  );
  assert.is(racer.exitCode, 0, racer.stderr);
  const racerId = racer.stdout.trim();
  // With its names taken over and over, the bundle may fail to bind (and says so) or may win.
  const outcome = await restartBundle();
  assert.is((await inVolume('touch /s/.stop')).exitCode, 0);
  await docker(['wait', racerId], { timeoutMs: 120_000 });
  await docker(['rm', '-f', racerId]);
  assert.is(await targetsState(), TARGETS_UNTOUCHED, `the files the symlinks named are as they were (bundle ${outcome})`);
  if (outcome === 'exited') assert.not.match((await docker(['logs', '--tail', '5', ctx.bundle!])).stderr, /\n\s+at /, 'a clear line, no stack trace');
  // Once nobody fights it, the bundle starts and serves again.
  assert.is((await inVolume(`rm -f /s/.stop /s/.*.l ${TARGETS.map((n) => `/s/${n}`).join(' ')}`)).exitCode, 0);
  assert.is(await restartBundle(), 'ready');
  assert.is(await targetsState(), TARGETS_UNTOUCHED);
  await egressWorks('after-race');
});

test('a CA key the host left open to others: the git service tries it as its user and the bundle refuses to start', async () => {
  const key = ctx.b!.plan.egress.caKeyPath;
  const dir = path.dirname(key);
  const { chmod, stat } = await import('node:fs/promises');
  const modes = [(await stat(dir)).mode & 0o777, (await stat(key)).mode & 0o777];
  assert.equal(modes, [0o700, 0o600], 'the launcher made the folder 700 and the key 600');
  try {
    await chmod(dir, 0o755);
    await chmod(key, 0o644);
    // Control: the git user now really can read it.
    const open = await inBundle(`cat ${CA_KEY} >/dev/null && echo readable`, 'bot-bottle-git');
    assert.is(open.stdout.trim(), 'readable', open.all);
    assert.is(await restartBundle(), 'exited');
    const logs = (await docker(['logs', '--tail', '5', ctx.bundle!])).stderr;
    assert.match(logs, `bundle: git-gate's user can read ${CA_KEY}, which must stay closed to it`);
    assert.match(logs, /fix: On the host, keep the bottle's egress folder mode 700 and its ca.key mode 600/);
    assert.not.match(logs, /\n\s+at /);
  } finally {
    await chmod(dir, modes[0]!);
    await chmod(key, modes[1]!);
  }
  assert.is(await restartBundle(), 'ready');
  await egressWorks('after-key-closed-again');
});

test.run();
