/**
 * One bottle prepared by the five built-in provisioners through core's runner (ca, git, prompt,
 * skills, supervise, in that order), then what they left, read from inside the bottle; and its
 * egress: a route whose credential the gateway injects (the upstream gets it, the bottle never
 * has it), a refused host with its audit line, and the secret canary (the injected value is in no
 * file, environ or command line of the guest, nor in what smolvm holds for the machine).
 * A test-made HTTPS server (its own CA, openssl-made) on a test-made --internal network stands in
 * for public hosts, reached through the routes' `to:`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import claude from '@bot-bottle/agent-claude';
import { SECRET_PLACEHOLDER, agentEnv, configureAgent, parseAuditEntry, runProvisioners, type BottlePlan, type EgressAuditEntry, type LaunchedBottle } from '@bot-bottle/core';
import { docker, dockerOk } from '@bot-bottle/backend-kit';
import ca from '@bot-bottle/provisioner-ca';
import git from '@bot-bottle/provisioner-git';
import prompt from '@bot-bottle/provisioner-prompt';
import skills from '@bot-bottle/provisioner-skills';
import supervise from '@bot-bottle/provisioner-supervise';
import { SmolmachinesBackend, listArgs, smolvm } from '../../src/index.js';
import { ENGINE, HARDWARE_KVM_HOST, ON, RUN_ID, RUN_LABEL, TEST_LABEL_KEY, inBottle, planFor, removeTestResources, testEnv, testImages, uniq, type TestEnv } from './helpers.js';

const test = suite(`${ON}: provisioners' results and egress in one bottle`);
const CANARY = `bbcanary-smolvm-${randomBytes(12).toString('hex')}`;
const PROMPT = `You are agent ${RUN_ID}. Keep "quotes" and $dollars as written.`;
const SKILL_FILES = 12;
const labels = ['--label', `${TEST_LABEL_KEY}=1`, '--label', RUN_LABEL];

interface Ctx {
  t: TestEnv;
  plan: BottlePlan;
  bottle: LaunchedBottle;
  upstream: string;
  warnings: string[];
}
const ctx = {} as Ctx;

/** The upstream: answers `echo METHOD URL`, logs each request (headers included) as a JSON line. */
const UPSTREAM = `
const fs = require('fs');
require('https').createServer({ key: fs.readFileSync('/srv/server.key'), cert: fs.readFileSync('/srv/server.crt') }, (q, s) => {
  console.log(JSON.stringify({ method: q.method, url: q.url, headers: q.headers }));
  s.end('echo ' + q.method + ' ' + q.url + '\\n');
}).listen(8443, () => console.log(JSON.stringify({ listening: true })));
`;

async function upstreamRequests(): Promise<{ method: string; url: string; headers: Record<string, string> }[]> {
  const r = await docker(['logs', ctx.upstream]);
  return r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).filter((l) => typeof l.method === 'string');
}

async function audit(): Promise<EgressAuditEntry[]> {
  const text = await readFile(ctx.plan.egress.auditLogPath, 'utf8').catch(() => '');
  return text.split('\n').map(parseAuditEntry).filter((e): e is EgressAuditEntry => e?.source === 'egress');
}

async function auditEntry(match: (e: EgressAuditEntry) => boolean): Promise<EgressAuditEntry> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const hit = (await audit()).find(match);
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`no audit entry matched; the log holds:\n${(await audit()).map((e) => JSON.stringify(e)).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test.before(async () => {
  const images = await testImages();
  const t = await testEnv();
  ctx.t = t;
  // The upstream, with its own CA, on an internal network only the bundle joins.
  const srv = path.join(t.dir, 'srv');
  await mkdir(srv, { recursive: true });
  ctx.upstream = uniq('bbtest-smolvm-upstream');
  const run = (...a: string[]) => execFileSync('openssl', a, { cwd: srv, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=smolvm test upstream CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${ctx.upstream}`);
  await writeFile(path.join(srv, 'ext.cnf'), `subjectAltName=DNS:${ctx.upstream}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'ext.cnf');
  await chmod(path.join(srv, 'server.key'), 0o644);
  await writeFile(path.join(srv, 'upstream.cjs'), UPSTREAM);
  const network = uniq('bbtest-smolvm-net');
  await dockerOk(['network', 'create', '--internal', ...labels, network], 'test network');
  await dockerOk(['run', '-d', ...labels, '--name', ctx.upstream, '--network', network, '-u', 'node', '-v', `${srv}:/srv:ro`, images.runtime, 'node', '/srv/upstream.cjs'], 'test upstream');
  for (let i = 0; i < 100 && !(await docker(['logs', ctx.upstream])).stdout.includes('listening'); i++) await new Promise((r) => setTimeout(r, 100));

  // Skills beside the manifest, a repo as the user's cwd, an identity file and known_hosts for git.
  for (const name of ['alpha', 'beta']) {
    await mkdir(path.join(t.dir, 'skills', name, 'ref'), { recursive: true });
    await writeFile(path.join(t.dir, 'skills', name, 'SKILL.md'), `---\nname: ${name}\ndescription: test skill ${name}\n---\n`);
    for (let i = 0; i < SKILL_FILES; i++) await writeFile(path.join(t.dir, 'skills', name, 'ref', `f${i}.md`), `${name} ${i}\n`);
  }
  const repo = path.join(t.dir, 'repo');
  await mkdir(repo);
  const g = (...a: string[]) => execFileSync('git', ['-C', repo, ...a], { stdio: 'pipe' });
  g('init', '-q', '-b', 'main');
  await writeFile(path.join(repo, 'README.md'), 'repo\n');
  g('add', 'README.md');
  g('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', `first commit ${RUN_ID}`);
  const key = path.join(t.dir, 'id_test');
  await writeFile(key, 'not a real key\n', { mode: 0o600 });
  const knownHosts = path.join(t.dir, 'known_hosts');
  await writeFile(knownHosts, 'git.example.test ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n');

  Object.assign(t.env, {
    BOT_BOTTLE_BUNDLE_NETWORK: network,
    BOT_BOTTLE_UPSTREAM_CA_CERTS: path.join(srv, 'ca.crt'),
    BOT_BOTTLE_KNOWN_HOSTS: knownHosts,
    BBTEST_SMOLVM_TOKEN: CANARY,
  });
  const to = `https://${ctx.upstream}:8443`;
  const manifest = {
    bottles: {
      dev: {
        git: [{ Name: 'app', Upstream: 'ssh://git@git.example.test/team/app.git', IdentityFile: key }],
        git_user: { name: `Agent ${RUN_ID}`, email: `agent-${RUN_ID}@example.com` },
        egress: {
          routes: [
            { host: 'api.example.test', auth: { header: 'authorization', env: 'BBTEST_SMOLVM_TOKEN', format: 'Bearer {value}' }, to },
            { host: 'open.example.test', to },
          ],
        },
        supervise: true,
      },
    },
    agents: { demo: { bottle: 'dev', prompt: PROMPT, skills: ['alpha', 'beta'] } },
  };
  // As in a real `bottle run`, the secret is in this process's own env too. On the double, smolvm
  // is a wrapper that records each call's argv and env (where a VM's process would get its env).
  process.env.BBTEST_SMOLVM_TOKEN = CANARY;
  if (ENGINE === 'double') {
    const wrapper = path.join(t.dir, 'smolvm-recording');
    await mkdir(path.join(t.dir, 'calls'));
    await writeFile(wrapper, `#!/bin/sh\n{ echo "$*"; env; } > "${path.join(t.dir, 'calls')}/$$"\nexec "${t.env.BOT_BOTTLE_SMOLVM}" "$@"\n`, { mode: 0o755 });
    t.env.BOT_BOTTLE_SMOLVM = wrapper;
    t.backend = new SmolmachinesBackend({ env: t.env, hostProbe: HARDWARE_KVM_HOST });
  }
  ctx.plan = await planFor(t, manifest, { copyCwd: true, userCwd: repo });
  ctx.bottle = await t.backend.launch(ctx.plan, { progress: () => undefined });
  ctx.warnings = [];
  const outcome = await runProvisioners(
    [ca, git, prompt, skills, supervise].map((definition) => ({ definition, options: {}, packageName: `@bot-bottle/provisioner-${definition.name}` })),
    { plan: ctx.plan, target: ctx.bottle.target, endpoints: ctx.bottle.endpoints, hostEnv: t.env, warn: (_n, m) => ctx.warnings.push(m) },
  );
  // As a session does next: Claude Code's definition registers the supervise server.
  await configureAgent({ definition: claude, plan: ctx.plan, target: ctx.bottle.target, outcome, env: agentEnv(ctx.plan, ctx.bottle.endpoints), secrets: new Map(), signal: new AbortController().signal, log: () => undefined, warn: (m) => ctx.warnings.push(m) });
  await ctx.bottle.ready;
});

test.after(async () => {
  delete process.env.BBTEST_SMOLVM_TOKEN;
  await ctx.bottle?.destroy();
  await removeTestResources();
  await ctx.t?.cleanup();
});

function ok(r: { exitCode: number; stdout: string; stderr: string }, what: string): string {
  assert.is(r.exitCode, 0, `${what}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

test('prompt: the file holds the prompt, owned by node, mode 600', async () => {
  const p = ctx.plan.guest.promptPath;
  assert.is(ok(await inBottle(ctx.bottle, `stat -c "%U %G %a" ${p} && cat ${p}`), 'prompt'), `node node 600\n${PROMPT}`);
});

test('skills: every file of both skills landed, everything under ~/.claude owned by node', async () => {
  const d = ctx.plan.guest.skillsDir;
  const out = ok(await inBottle(ctx.bottle, `cd ${d} && ls && find . -type f | wc -l && find ~/.claude ! -user node | wc -l && cat beta/ref/f7.md`), 'skills');
  assert.is(out, `alpha\nbeta\n${2 * (SKILL_FILES + 1)}\n0\nbeta 7\n`);
});

test('ca: the bottle\'s CA is in the system store; curl and node trust what the gateway presents, and nothing else', async () => {
  assert.is(ok(await inBottle(ctx.bottle, 'grep -c "BEGIN CERTIFICATE" /etc/ssl/certs/ca-certificates.crt'), 'store').trim(), '1');
  assert.is(ok(await inBottle(ctx.bottle, 'curl -sS https://open.example.test/curl'), 'curl'), 'echo GET /curl\n');
  const viaNode = ok(await inBottle(ctx.bottle, 'node -e "fetch(\'https://open.example.test/node\').then((r) => r.text()).then((t) => process.stdout.write(t))"'), 'node fetch');
  assert.is(viaNode, 'echo GET /node\n');
  const untrusted = await inBottle(ctx.bottle, 'NODE_EXTRA_CA_CERTS= node -e "fetch(\'https://open.example.test/\').then(() => process.exit(0), () => process.exit(3))"');
  assert.is(untrusted.exitCode, 3, 'control: without the CA the same request fails');
});

test('git: insteadOf sends the upstream to the gate on the guest\'s loopback; user.name/email as node; the cwd\'s .git copied, owned by node', async () => {
  const url = ok(await inBottle(ctx.bottle, 'git ls-remote --get-url ssh://git@git.example.test/team/app.git'), 'get-url');
  assert.match(url, /^git:\/\/127\.0\.0\.1:9418\/app\.git\n$/);
  assert.is(ok(await inBottle(ctx.bottle, 'git config --global user.name; git config --global user.email; stat -c %U ~/.gitconfig'), 'git user'), `Agent ${RUN_ID}\nagent-${RUN_ID}@example.com\nnode\n`);
  assert.is(ok(await inBottle(ctx.bottle, 'cd ~/workspace && find .git ! -user node | wc -l && git log --format=%s'), '.git'), `0\nfirst commit ${RUN_ID}\n`);
});

test('supervise: `claude mcp list` as node shows the supervise server; it answers through the mounted socket', async () => {
  const r = await inBottle(ctx.bottle, 'claude mcp list 2>&1');
  assert.match(r.stdout, /supervise: http:\/\/127\.0\.0\.1:9100\/mcp \(HTTP\)/, r.stdout);
  assert.equal(ctx.warnings, []);
});

test('egress: an allowed route gets the injected credential at the upstream; the bottle holds only the placeholder; an allow line', async () => {
  assert.is((await inBottle(ctx.bottle, 'printf %s "$BBTEST_SMOLVM_TOKEN"')).stdout, SECRET_PLACEHOLDER);
  assert.is(ok(await inBottle(ctx.bottle, 'curl -sS https://api.example.test/echo?case=allow'), 'allowed'), 'echo GET /echo?case=allow\n');
  const got = (await upstreamRequests()).find((r) => r.url.includes('case=allow'));
  assert.is(got?.headers.authorization, `Bearer ${CANARY}`);
  const e = await auditEntry((x) => x.path === '/echo?case=allow');
  assert.equal([e.decision, e.method, e.host, e.status], ['allow', 'GET', 'api.example.test', 200]);
});

test('egress: an unlisted host is refused (403 at CONNECT, how to allow it) with a deny line; the upstream gets nothing', async () => {
  const before = (await upstreamRequests()).length;
  const r = await inBottle(ctx.bottle, 'curl -sS -w "\\n%{http_connect}" https://unlisted.example.invalid/x; echo " exit=$?"');
  assert.match(r.stdout, /\n403 exit=56/, r.stdout + r.stderr);
  const e = await auditEntry((x) => x.host === 'unlisted.example.invalid');
  assert.equal([e.decision, e.method, e.path, e.status], ['deny', 'CONNECT', 'unlisted.example.invalid:443', 403]);
  assert.match(e.reason!, 'no egress route allows host unlisted.example.invalid');
  assert.is((await upstreamRequests()).length, before);
});

test('secret canary: the injected value is in no file, environ or command line of the guest, nor in what smolvm keeps for the machine', async () => {
  assert.ok((await upstreamRequests()).some((r) => r.headers.authorization === `Bearer ${CANARY}`), 'the canary did leave, through the gateway');
  const keyPem = await readFile(ctx.plan.egress.caKeyPath, 'utf8');
  const keyLines = keyPem.split('\n').filter((l) => l && !l.startsWith('-----')).slice(1);
  const patterns = [CANARY, ...keyLines].join('\n') + '\n';
  // Patterns go in on stdin, so they are in no file, argv or environ of the guest while it is searched.
  const fsGrep = 'grep -rlsaF -D skip -f - $(ls -d /* | grep -vx -e /proc -e /sys) ; echo "exit=$?"';
  const procGrep = 'grep -lsaF -f - /proc/[0-9]*/environ /proc/[0-9]*/cmdline ; echo "exit=$?"';
  // The searches are real: they find a control value, and the placeholder in an environ.
  await inBottle(ctx.bottle, 'echo control-f00d > /home/node/.control');
  assert.match((await ctx.bottle.target.exec(['sh', '-c', fsGrep], { stdin: 'control-f00d\n', timeoutMs: 300_000 })).stdout, '/home/node/.control');
  assert.match((await ctx.bottle.target.exec(['sh', '-c', procGrep], { stdin: `${SECRET_PLACEHOLDER}\n` })).stdout, /\/proc\/\d+\/environ/);
  const files = await ctx.bottle.target.exec(['sh', '-c', fsGrep], { stdin: patterns, timeoutMs: 300_000 });
  assert.is(files.stdout, 'exit=1\n', `files in the guest hold the secret or the CA key:\n${files.stdout}`);
  const procs = await ctx.bottle.target.exec(['sh', '-c', procGrep], { stdin: patterns });
  assert.is(procs.stdout, 'exit=1\n', `processes in the guest hold the secret:\n${procs.stdout}`);
  for (const user of ['node', 'root']) {
    const env = await ctx.bottle.target.exec(['env'], { user });
    assert.not.ok(env.stdout.includes(CANARY), `env as ${user}`);
    assert.match(env.stdout, `BBTEST_SMOLVM_TOKEN=${SECRET_PLACEHOLDER}`);
  }
  // What smolvm persists for the machine (its record: env, labels, command) holds placeholders only.
  const ls = await smolvm(listArgs({ stateDir: ctx.t.env.BOT_BOTTLE_SMOLVM_STATE_DIR! }), {}, ctx.t.backend.cli);
  assert.not.ok(ls.stdout.includes(CANARY), 'smolvm machine ls --json');
  const grep = spawnSync('grep', ['-rlsaF', CANARY, ctx.t.env.BOT_BOTTLE_SMOLVM_STATE_DIR!, ctx.plan.stateDir], { encoding: 'utf8' });
  assert.is(grep.status, 1, `no file of smolvm's state or the bottle's state dir: ${grep.stdout}`);
  if (ENGINE === 'double') {
    // The calls a VM's process would come from (create, start) ran without the secret in their env.
    const calls = await Promise.all((await readdir(path.join(ctx.t.dir, 'calls'))).map((n) => readFile(path.join(ctx.t.dir, 'calls', n), 'utf8')));
    const vmm = calls.filter((c) => /^machine (create|start) /.test(c));
    assert.is(vmm.length, 2, 'one create and one start');
    for (const c of vmm) assert.not.ok(c.includes(CANARY), `the env of \`smolvm ${c.split('\n')[0]!.split(' ').slice(0, 2).join(' ')}\``);
    assert.ok(calls.some((c) => c.includes(CANARY)), 'control: other smolvm calls of this process do carry its env');
    const inspect = await docker(['inspect', ...(await docker(['ps', '-aq', '--filter', 'label=smolvm-double=1', '--filter', `label=smolvm-double.machine=bot-bottle-${ctx.plan.slug}`])).stdout.split('\n').filter(Boolean)]);
    assert.is(inspect.exitCode, 0);
    assert.not.ok(inspect.stdout.includes(CANARY), "the double's container config");
  }
});

test.run();
