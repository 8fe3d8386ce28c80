/**
 * One bottle prepared as `bottle run --copy-cwd` prepares it: launched by the backend, the user's
 * work tree copied in, then the caller's provisioners (the built-ins) applied by core's runner in
 * the manifest's order. The checks here read their results from the bottle's own state, not from
 * the calls that made them. The egress, git and isolation checks use the same bottle.
 */
import { configureAgent } from '../../agent/configure.js';
import { agentEnv } from '../../plan.js';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { LaunchedBottle } from '../../backend.js';
import type { BottlePlan } from '../../plan.js';
import { buildRegistry } from '../../registry.js';
import { resolveSteps, runProvisioners } from '../../runner.js';
import { copyWorkspace, type WorkspaceCopy } from '../../workspace.js';
import type { BackendCheck } from './index.js';
import { SECRET_ENV, planFor, sh, shOk, type World } from './world.js';

const run = promisify(execFile);

/** The host the allowed route names; the gateway connects to the checks' HTTP upstream instead. */
export const ALLOWED_HOST = 'allowed.checks.invalid';
const SKILL_FILES = 12;

export interface Provisioned {
  plan: BottlePlan;
  bottle: LaunchedBottle;
  order: string[];
  warnings: string[];
  copied: WorkspaceCopy;
  prompt: string;
  gitUser: { name: string; email: string };
}

/** The user's cwd: a git repo with a commit, an untracked file and an ignored one. */
async function userRepo(w: World): Promise<string> {
  const repo = path.join(w.dir, 'repo');
  await mkdir(repo);
  const git = (...a: string[]) => run('git', ['-C', repo, ...a]);
  await git('init', '-q', '-b', 'main');
  await writeFile(path.join(repo, '.gitignore'), 'secret.env\n');
  await writeFile(path.join(repo, 'main.txt'), 'tracked\n');
  await git('add', '.gitignore', 'main.txt');
  await git('-c', 'user.name=t', '-c', 'user.email=t@checks.invalid', 'commit', '-qm', `first commit ${w.run.id}`);
  await writeFile(path.join(repo, 'untracked.txt'), 'new\n');
  await writeFile(path.join(repo, 'secret.env'), 'TOKEN=do-not-copy\n');
  return repo;
}

async function launchProvisioned(w: World): Promise<Provisioned> {
  for (const name of ['alpha', 'beta']) {
    const d = path.join(w.dir, 'skills', `checks-${name}`, 'ref');
    await mkdir(d, { recursive: true });
    await writeFile(path.join(w.dir, 'skills', `checks-${name}`, 'SKILL.md'), `---\nname: checks-${name}\ndescription: a skill of the checks\n---\nDo ${name}.\n`);
    for (let i = 0; i < SKILL_FILES; i++) await writeFile(path.join(d, `f${i}.md`), `${name} ${i}\n`);
  }
  const repo = await userRepo(w);
  const prompt = `You are the checks' agent ${w.run.id}. Keep "quotes" and $dollars as written.`;
  const gitUser = { name: `Checks ${w.run.id}`, email: `checks-${w.run.id}@checks.invalid` };
  const plan = await planFor(
    w,
    {
      git: [{ Name: 'app', Upstream: w.git.url(w.hostAddress, 'app') }],
      git_user: gitUser,
      egress: { routes: [{ host: ALLOWED_HOST, to: `http://${w.hostAddress}:${w.http.port}`, auth: { header: 'authorization', env: SECRET_ENV, format: 'Bearer {value}', cleartext: true } }] },
      supervise: true,
    },
    { prompt, skills: ['checks-alpha', 'checks-beta'] },
    { copyCwd: true, userCwd: repo },
  );
  const registry = buildRegistry(w.options.provisioners.map((d) => ({ plugin: { name: `checks-given-${d.name}`, version: '0.0.0', type: 'core' }, result: d })), [], new Set(w.options.provisioners.map((d) => `checks-given-${d.name}`)));
  const steps = resolveSteps(plan.provisioners, registry);
  const bottle = await w.backend.launch(plan, { progress: () => undefined });
  w.launched.push(bottle);
  const order: string[] = [];
  const warnings: string[] = [];
  const copied = await copyWorkspace(plan, bottle.target);
  const outcome = await runProvisioners(steps, {
    plan,
    target: bottle.target,
    endpoints: bottle.endpoints,
    hostEnv: w.env,
    onStep: (name) => order.push(name),
    warn: (name, m) => warnings.push(`${name}: ${m}`),
  });
  // As a session does next: the agent's definition turns the provisioners' results into its config.
  await configureAgent({
    definition: w.options.agent,
    plan,
    target: bottle.target,
    outcome,
    env: agentEnv(plan, bottle.endpoints),
    secrets: new Map(),
    signal: new AbortController().signal,
    log: () => undefined,
    warn: (m) => warnings.push(`agent: ${m}`),
  });
  await bottle.ready;
  return { plan, bottle, order, warnings, copied, prompt, gitUser };
}

/** The provisioned bottle, launched once for every check that uses it. */
export function provisioned(w: World): Promise<Provisioned> {
  w.provisioned ??= launchProvisioned(w);
  return w.provisioned;
}

export function provisionerChecks(w: () => World): BackendCheck[] {
  const p = () => provisioned(w());
  return [
    {
      name: 'provisioners: core\'s runner applied them in the manifest\'s order (ca, git, prompt, skills, supervise), without a warning',
      async run() {
        const { order, warnings, plan } = await p();
        assert.deepEqual(order, plan.provisioners.map((s) => s.name));
        assert.deepEqual(order, ['ca', 'git', 'prompt', 'skills', 'supervise']);
        assert.deepEqual(warnings, []);
      },
    },
    {
      name: 'prompt: the file holds the prompt, owned by node, mode 600',
      async run() {
        const { bottle, plan, prompt } = await p();
        const out = await shOk(bottle.target, `stat -c "%U %G %a" ${plan.guest.promptPath} && cat ${plan.guest.promptPath}`);
        assert.equal(out, `node node 600\n${prompt}`);
      },
    },
    {
      name: 'skills: every file of each skill landed, and everything under ~/.claude is node\'s',
      async run() {
        const { bottle, plan } = await p();
        const out = await shOk(bottle.target, `cd ${plan.guest.skillsDir} && ls && find . -type f | wc -l && find ~/.claude ! -user node | wc -l && cat checks-beta/ref/f7.md && head -2 checks-alpha/SKILL.md`);
        assert.equal(out, `checks-alpha\nchecks-beta\n${2 * (SKILL_FILES + 1)}\n0\nbeta 7\n---\nname: checks-alpha\n`);
      },
    },
    {
      name: 'ca: curl and node in the bottle trust what its gateway presents (the bottle\'s CA, in the system store); without it node refuses (control)',
      async run() {
        const { bottle, plan } = await p();
        assert.equal(await shOk(bottle.target, `curl -sS https://${ALLOWED_HOST}/ca-curl`), 'checks upstream GET /ca-curl\n');
        const caCn = (await shOk(bottle.target, `node -p "new (require('crypto').X509Certificate)(require('fs').readFileSync('${plan.guest.caPath}')).subject" | sed -n 's/^CN=//p'`)).trim();
        const issuer = (await shOk(bottle.target, `curl -sSv -o /dev/null https://${ALLOWED_HOST}/ 2>&1 | sed -n "s/^\\*  *issuer: //p"`)).trim();
        assert.ok(caCn, 'the installed CA has a common name');
        assert.ok(issuer.includes(`CN=${caCn}`), `issuer "${issuer}" is the bottle's CA "${caCn}"`);
        const viaNode = await shOk(bottle.target, `node -e "fetch('https://${ALLOWED_HOST}/ca-node').then((r) => r.text()).then((t) => process.stdout.write(t))"`);
        assert.equal(viaNode, 'checks upstream GET /ca-node\n');
        const untrusted = await sh(bottle.target, `NODE_EXTRA_CA_CERTS= node -e "fetch('https://${ALLOWED_HOST}/').then(() => process.exit(0), (e) => { console.error(String(e.cause?.code ?? e)); process.exit(3) })"`);
        assert.equal(untrusted.exitCode, 3, untrusted.stdout + untrusted.stderr);
        assert.match(untrusted.stderr, /CERT|SELF_SIGNED|UNABLE|issuer/i);
        const stored = await shOk(bottle.target, `grep -c "BEGIN CERTIFICATE" /etc/ssl/certs/${path.basename(plan.guest.caPath, '.crt')}.pem`);
        assert.equal(stored.trim(), '1');
      },
    },
    {
      name: 'git: the declared Upstream is rewritten to the gate (insteadOf, as node); git_user is set',
      async run() {
        const { bottle, plan, gitUser } = await p();
        const upstream = plan.gitGate.upstreams[0]!.upstream;
        const rewritten = await shOk(bottle.target, `git ls-remote --get-url '${upstream}'`);
        assert.equal(rewritten, `git://${bottle.endpoints.gitGateHost}/app.git\n`);
        const who = await shOk(bottle.target, 'id -un; git config --global user.name; git config --global user.email; stat -c %U ~/.gitconfig');
        assert.equal(who, `node\n${gitUser.name}\n${gitUser.email}\nnode\n`);
      },
    },
    {
      name: 'workspace (--copy-cwd): the user\'s files but the ignored one, and .git with its history, all node\'s; no provisioner left anything of its own there',
      async run() {
        const { bottle, copied } = await p();
        assert.equal(copied.files, 3, 'tracked and untracked files');
        assert.match(copied.skipped.join('\n'), /1 ignored path\(s\) \(\.gitignore\): secret\.env/);
        const out = await shOk(bottle.target, 'cd ~/workspace && ls -A | sort | tr "\\n" " "; echo; find . ! -user node | wc -l; git log --format=%s; git status --porcelain');
        assert.equal(out, `.git .gitignore main.txt untracked.txt \n0\nfirst commit ${w().run.id}\n?? untracked.txt\n`);
      },
    },
    {
      name: 'supervise: `claude mcp list` as node shows the supervise server at the bottle\'s URL',
      async run() {
        const { bottle } = await p();
        const r = await sh(bottle.target, 'claude mcp list 2>&1', { timeoutMs: 120_000 });
        assert.ok(r.stdout.includes(`supervise: ${bottle.endpoints.superviseUrl}`), r.stdout);
      },
    },
  ];
}
