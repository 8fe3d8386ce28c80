/**
 * Port of the smolmachines cases of the reference's test_smolmachines_provision (and its earlier
 * version): the real provisioners run against the backend's real SmolvmTarget making one smolvm call
 * per request (its argv from targetExecArgs, targetCopyFileArgs, targetCopyDirArgs), whose runner
 * records the argv instead of running smolvm, and the tests pin that argv. What
 * differs from the reference, and why:
 * - HOME and USER for the agent user go as smolvm `--env` on every `runuser -u node --` command
 *   (the reference's supervise step put `env HOME=/home/node` in the argv instead; same effect).
 * - A directory (a skill, the cwd's .git) is a tar stream into one `machine exec --interactive`,
 *   not a `machine cp`: smolvm's cp uploads one file.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { configureAgent, type BottlePlan, type ExecOptions, type ExecResult } from '@bot-bottle/core';
import claude from '@bot-bottle/agent-claude';
import { cleanupTempDirs, planFor, provisionForTest, RecordingTarget, rejects, world, type PlanInput } from '@bot-bottle/core/testing';
import ca from '@bot-bottle/provisioner-ca';
import git from '@bot-bottle/provisioner-git';
import prompt from '@bot-bottle/provisioner-prompt';
import skills from '@bot-bottle/provisioner-skills';
import supervise from '@bot-bottle/provisioner-supervise';
import { SmolvmTarget, smolvmCli, type MachineRef } from '../src/index.js';

const NAME = 'bot-bottle-demo-abc12';
const MACHINE: MachineRef = { name: NAME };
const HOMES = { node: '/home/node', root: '/root' };
const EXEC = ['machine', 'exec', '--error-format', 'json', '--name', NAME];
const CP = ['machine', 'cp', '--error-format', 'json'];
const AS_NODE = ['--env', 'HOME=/home/node', '--env', 'USER=node', '--', 'runuser', '-u', 'node', '--'];
const PROMPT = '/home/node/.claude-bottle-prompt.txt';
const SKILLS = '/home/node/.claude/skills';

/**
 * The real SmolvmTarget, one smolvm call per request (no exec channel), with its runner recording
 * the argv of each call instead of running smolvm; the guest's answer to an exec is `respond`'s.
 */
class SmolvmArgvTarget extends RecordingTarget {
  readonly sent: string[][] = [];
  private readonly smolvm = new SmolvmTarget(MACHINE, {
    cli: smolvmCli('smolvm'),
    useChannel: false,
    homes: HOMES,
    run: async (args) => {
      this.sent.push([...args]);
      if (args[1] !== 'exec') return { exitCode: 0, stdout: '', stderr: '' };
      const guestArgv = args.slice(args.indexOf('--') + 1);
      const r = await this.respond(guestArgv, {});
      return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
    },
  });

  override async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    return this.smolvm.exec(argv, options);
  }

  override async copyIn(hostPath: string, guestPath: string): Promise<void> {
    return this.smolvm.copyIn(hostPath, guestPath);
  }
}

async function run(definition: Parameters<typeof provisionForTest>[0], input: PlanInput = {}, respond?: RecordingTarget['respond']) {
  const target = new SmolvmArgvTarget();
  if (respond) target.respond = respond;
  const r = await provisionForTest(definition, input, { target });
  return { ...r, sent: target.sent };
}

/** The receiving side of a directory copy to guestPath. */
const tarInto = (guestPath: string) => [...EXEC, '--interactive', '--', 'sh', '-c', 'mkdir -p -- "$1" && exec tar -x --no-same-owner -f - -C "$1"', 'sh', guestPath];

// ---------------------------------------------------------------------------------------------

const promptSuite = suite('reference TestProvisionPrompt, as smolvm argv');
promptSuite.after.each(cleanupTempDirs);

promptSuite('cp uses `smolvm machine cp` with MACHINE:PATH', async () => {
  const { sent, plan } = await run(prompt, {});
  assert.equal(sent[0], [...CP, plan.promptFile, `${NAME}:${PROMPT}`]);
});

promptSuite('the copy lands as root, then chown node:node and chmod 600 as root', async () => {
  const { sent, plan } = await run(prompt, { prompt: 'You are a helpful assistant.' });
  assert.equal(sent, [
    [...CP, plan.promptFile, `${NAME}:${PROMPT}`],
    [...EXEC, '--', 'chown', 'node:node', PROMPT],
    [...EXEC, '--', 'chmod', '600', PROMPT],
  ]);
  for (const flag of ['--uid', '--gid', '--mode']) assert.not.ok(sent[0]!.includes(flag), `cp must not set ${flag}`);
});

promptSuite('returns the guest path with a prompt; without one the file is still copied', async () => {
  const withPrompt = await run(prompt, { prompt: 'You are a helpful assistant.' });
  assert.equal(withPrompt.result, { instructions: PROMPT });
  const without = await run(prompt, { prompt: '' });
  assert.is(without.result, undefined);
  assert.is(without.sent.filter((a) => a[1] === 'cp').length, 1);
});

// ---------------------------------------------------------------------------------------------

const skillsSuite = suite('reference TestProvisionSkills, as smolvm argv');
skillsSuite.after.each(cleanupTempDirs);

async function skillDir(root: string, name: string): Promise<void> {
  await mkdir(path.join(root, 'skills', name), { recursive: true });
  await writeFile(path.join(root, 'skills', name, 'SKILL.md'), `---\nname: ${name}\n---\n`);
}

skillsSuite('no skills: no smolvm call at all', async () => {
  const { sent } = await run(skills, { skills: [] });
  assert.equal(sent, []);
});

skillsSuite('mkdir -p once (as node, in its home), then rm -rf, copy, chown -R per skill', async () => {
  const w = await world();
  await skillDir(w.base, 'init-prd');
  await skillDir(w.base, 'verify');
  const target = new SmolvmArgvTarget();
  await provisionForTest(skills, { skills: ['init-prd', 'verify'] }, { world: w, target });
  assert.equal(target.sent, [
    [...EXEC, ...AS_NODE, 'mkdir', '-p', SKILLS],
    [...EXEC, '--', 'rm', '-rf', `${SKILLS}/init-prd`],
    tarInto(`${SKILLS}/init-prd`),
    [...EXEC, '--', 'chown', '-R', 'node:node', `${SKILLS}/init-prd`],
    [...EXEC, '--', 'rm', '-rf', `${SKILLS}/verify`],
    tarInto(`${SKILLS}/verify`),
    [...EXEC, '--', 'chown', '-R', 'node:node', `${SKILLS}/verify`],
  ]);
});

skillsSuite('the guest skills dir is overridable by env (the original name too)', async () => {
  const w = await world();
  await skillDir(w.base, 'init-prd');
  const target = new SmolvmArgvTarget();
  await provisionForTest(skills, { skills: ['init-prd'], env: { CLAUDE_BOTTLE_GUEST_SKILLS_DIR: '/opt/skills' } }, { world: w, target });
  // Outside the agent's home, root makes the dir.
  assert.equal(target.sent[0], [...EXEC, '--', 'mkdir', '-p', '/opt/skills']);
  assert.equal(target.sent[2], tarInto('/opt/skills/init-prd'));
});

skillsSuite('a missing skill stops the launch before any smolvm call', async () => {
  const target = new SmolvmArgvTarget();
  const e = await rejects(() => provisionForTest(skills, { skills: ['init-prd'] }, { target }));
  assert.is(e.code, 'PROVISIONER_FAILED');
  assert.match(e.message, /init-prd/);
  assert.equal(target.sent, []);
});

// ---------------------------------------------------------------------------------------------

const caSuite = suite('reference TestProvisionCA, as smolvm argv');
caSuite.after.each(cleanupTempDirs);
const UPDATE_OK: ExecResult = { exitCode: 0, stdout: 'Updating certificates in /etc/ssl/certs...\n1 added, 0 removed; done.\n', stderr: '' };

async function writeCa(plan: BottlePlan): Promise<void> {
  await mkdir(path.dirname(plan.egress.caCertPath), { recursive: true });
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', plan.egress.caKeyPath, '-out', plan.egress.caCertPath, '-days', '1', '-subj', '/CN=bot-bottle test CA'], { stdio: 'pipe' });
}

for (const routes of [undefined, [{ host: 'api.anthropic.com' }]]) {
  caSuite(`${routes ? 'with' : 'without'} routes: one machine cp, then ONE machine exec of sh -c (smolvm's exec warm-up race)`, async () => {
    const w = await world();
    const plan = await planFor(w, routes ? { routes } : {});
    await writeCa(plan);
    const target = new SmolvmArgvTarget();
    target.respond = () => UPDATE_OK;
    await provisionForTest(ca, routes ? { routes } : {}, { world: w, target });
    const guestCa = plan.guest.caPath;
    assert.is(target.sent.length, 2);
    assert.equal(target.sent[0], [...CP, plan.egress.caCertPath, `${NAME}:${guestCa}`]);
    const exec = target.sent[1]!;
    // As root: no runuser, no HOME.
    assert.equal(exec.slice(0, 7), [...EXEC, '--']);
    assert.equal(exec.slice(7, 9), ['sh', '-c']);
    assert.is(exec.length, 10);
    assert.match(exec[9]!, /^chmod 644 \S+ && chown root:root \S+ && update-ca-certificates$/);
    assert.ok(exec[9]!.includes(guestCa));
  });
}

caSuite('update-ca-certificates that does not say "1 added" fails the launch loudly (after its one exec)', async () => {
  const w = await world();
  const plan = await planFor(w, {});
  await writeCa(plan);
  const target = new SmolvmArgvTarget();
  target.respond = () => ({ exitCode: 0, stdout: 'Updating certificates in /etc/ssl/certs...\n0 added, 0 removed; done.\n', stderr: '' });
  const e = await rejects(() => provisionForTest(ca, {}, { world: w, target }));
  assert.is(e.code, 'PROVISIONER_FAILED');
  assert.match(e.message, /1 added/);
  assert.is(target.sent.length, 2);
});

caSuite('the selected cert missing: an error, and no smolvm call', async () => {
  const target = new SmolvmArgvTarget();
  const e = await rejects(() => provisionForTest(ca, {}, { target }));
  assert.is(e.code, 'PROVISIONER_FAILED');
  assert.match(e.message, /does not exist/);
  assert.equal(target.sent, []);
});

// ---------------------------------------------------------------------------------------------

const gitSuite = suite('reference TestProvisionGit and TestProvisionGitUser, as smolvm argv');
gitSuite.after.each(cleanupTempDirs);

gitSuite('no cwd copy and no git entries: no smolvm call', async () => {
  const { sent } = await run(git, {});
  assert.equal(sent, []);
});

gitSuite('copy_cwd with a .git: mkdir -p the workspace, the tree in, chown -R node:node', async () => {
  const w = await world();
  const cwd = path.join(w.base, 'cwd');
  await mkdir(path.join(cwd, '.git'), { recursive: true });
  await writeFile(path.join(cwd, '.git', 'HEAD'), 'ref: refs/heads/main\n');
  const target = new SmolvmArgvTarget();
  await provisionForTest(git, { copyCwd: true, userCwd: cwd }, { world: w, target });
  assert.equal(target.sent.slice(0, 3), [
    [...EXEC, '--', 'mkdir', '-p', '/home/node/workspace'],
    tarInto('/home/node/workspace/.git'),
    [...EXEC, '--', 'chown', '-R', 'node:node', '/home/node/workspace/.git'],
  ]);
  // Then, as node, the workspace's origin becomes the host repo through git-gate (docs/work.md).
  assert.is(target.sent.length, 4);
  assert.equal(target.sent[3]!.slice(0, EXEC.length), EXEC);
  assert.ok(target.sent[3]!.includes('git://127.0.0.1:9418/workspace.git'));
});

gitSuite('copy_cwd false: no copy', async () => {
  const w = await world();
  await mkdir(path.join(w.base, 'cwd', '.git'), { recursive: true });
  const { sent } = await run(git, { copyCwd: false, userCwd: path.join(w.base, 'cwd') });
  assert.equal(sent, []);
});

gitSuite('the insteadOf gitconfig: machine cp of the staged file to ~/.gitconfig, then chown', async () => {
  const { sent, plan } = await run(git, { git: [{ Name: 'claude-bottle', Upstream: 'ssh://git@host/repo.git', IdentityFile: '~/.ssh/id_ed25519' }] });
  assert.is(sent.length, 2);
  const cp = sent[0]!;
  assert.equal(cp.slice(0, 4), CP);
  assert.is(cp[5], `${NAME}:/home/node/.gitconfig`);
  const staged = cp[4]!;
  assert.is(path.dirname(staged), plan.stageDir);
  const content = await readFile(staged, 'utf8');
  // The gate as the guest reaches it: its own loopback, the table's git port (the forwarder's).
  assert.ok(content.includes('[url "git://127.0.0.1:9418/claude-bottle.git"]\n\tinsteadOf = ssh://git@host/repo.git\n'), content);
  assert.equal(sent[1], [...EXEC, '--', 'chown', 'node:node', '/home/node/.gitconfig']);
});

gitSuite('git_user: git config --global as node, HOME and USER by smolvm --env', async () => {
  const { sent } = await run(git, { gitUser: { name: 'Eric Bauerfeld', email: 'eric@dideric.is' } });
  assert.equal(sent, [
    [...EXEC, ...AS_NODE, 'git', 'config', '--global', 'user.name', 'Eric Bauerfeld'],
    [...EXEC, ...AS_NODE, 'git', 'config', '--global', 'user.email', 'eric@dideric.is'],
  ]);
});

gitSuite('git entries without git_user: no `git config` call at all', async () => {
  const { sent } = await run(git, { git: [{ Name: 'app', Upstream: 'ssh://git@host/app.git', IdentityFile: '~/.ssh/id_ed25519' }] });
  assert.not.ok(sent.some((a) => a.includes('config')), JSON.stringify(sent));
});

gitSuite('git_user: name only, email only', async () => {
  assert.equal((await run(git, { gitUser: { name: 'Bot' } })).sent, [[...EXEC, ...AS_NODE, 'git', 'config', '--global', 'user.name', 'Bot']]);
  assert.equal((await run(git, { gitUser: { email: 'bot@example.com' } })).sent, [[...EXEC, ...AS_NODE, 'git', 'config', '--global', 'user.email', 'bot@example.com']]);
});

// ---------------------------------------------------------------------------------------------

const superviseSuite = suite('reference TestProvisionSupervise, as smolvm argv');
superviseSuite.after.each(cleanupTempDirs);

superviseSuite('not enabled: no smolvm call', async () => {
  assert.equal((await run(supervise, {})).sent, []);
});

/** The supervise provisioner, then the Claude Code agent's configure (which registers its MCP servers), on the smolvm target. */
async function superviseWithClaude(respond?: RecordingTarget['respond']) {
  const provisioned = await run(supervise, { supervise: true });
  const target = new SmolvmArgvTarget();
  if (respond) target.respond = respond;
  const mcpServers = (provisioned.result as { mcpServers: { name: string; url: string }[] }).mcpServers;
  const warnings: string[] = [];
  await configureAgent({
    definition: claude,
    plan: provisioned.plan,
    target,
    outcome: { env: {}, agentArgs: [], instructions: [], mcpServers, applied: ['supervise'] },
    env: {},
    secrets: new Map(),
    signal: new AbortController().signal,
    log: () => undefined,
    warn: (m) => warnings.push(m),
  });
  return { ...provisioned, sent: target.sent, warnings };
}

superviseSuite('enabled: claude mcp add --scope user as node, so it lands in /home/node/.claude.json', async () => {
  const { sent, ctx } = await superviseWithClaude();
  const mcp = sent.filter((a) => a.includes('mcp'));
  assert.is(mcp.length, 1);
  const argv = mcp[0]!;
  assert.equal(argv.slice(0, EXEC.length), EXEC);
  assert.equal(argv.slice(argv.indexOf('runuser')), ['runuser', '-u', 'node', '--', 'claude', 'mcp', 'add', '--scope', 'user', '--transport', 'http', 'supervise', ctx.endpoints.superviseUrl]);
  for (const env of ['HOME=/home/node', 'USER=node']) assert.ok(argv.includes(env), `${env} in ${argv.join(' ')}`);
});

superviseSuite('a non-zero exit warns and does not fail the launch', async () => {
  const { warnings } = await superviseWithClaude((argv) => ({ exitCode: argv.includes('mcp') ? 1 : 0, stdout: '', stderr: 'boom' }));
  assert.is(warnings.length, 1);
  assert.match(warnings[0]!, /boom/);
});

promptSuite.run();
skillsSuite.run();
caSuite.run();
gitSuite.run();
superviseSuite.run();
