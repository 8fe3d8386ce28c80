import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  DEFAULT_PROVISIONERS,
  EXIT_USAGE,
  GUEST_SKILLS_DIR,
  SECRET_PLACEHOLDER,
  SLUG_PATTERN,
  agentEnv,
  bottleStateDir,
  guestSkillsDir,
  loadManifest,
  makePlan,
  skillSearchPath,
  slugSuffix,
  stateHome,
  type BottlePlan,
  type LoadedManifest,
} from '../src/index.js';
import { cleanupTempDirs, rejects, tempDir } from './helpers.js';

interface World {
  base: string;
  home: string;
  loaded: LoadedManifest;
}

const SECRET = 'sk-ant-api03-THIS-IS-THE-REAL-SECRET-VALUE';

const MANIFEST = {
  bottles: {
    dev: {
      git: [
        { Name: 'app', Upstream: 'ssh://git@host.example/app.git', IdentityFile: '~/.ssh/id_ed25519', KnownHosts: 'keys/known_hosts' },
        { Name: 'lib', Upstream: 'https://host.example/lib.git', push: false, protect: ['main'], refs: ['refs/notes/*'] },
      ],
      git_user: { name: 'Bot', email: 'bot@example.com' },
      egress: {
        routes: [
          { host: 'api.anthropic.com', auth: { header: 'x-api-key', env: 'ANTHROPIC_API_KEY' } },
          { host: 'llm.example.com', to: 'http://127.0.0.1:9999', auth: { header: 'authorization', env: 'LLM_TOKEN', format: 'Bearer {value}', cleartext: true } },
          { host: 'registry.npmjs.org' },
        ],
      },
      supervise: true,
    },
    plain: {},
    nameless: { git_user: {} },
    asks: { supervise: { credentials: ['GITHUB_TOKEN', 'NPM_TOKEN', 'GITHUB_TOKEN'] } },
    off: { supervise: false },
  },
  agents: {
    demo: { bottle: 'dev', skills: ['beside', 'in-home', 'both', 'nowhere'], prompt: 'You are a careful engineer.' },
    custom: { bottle: 'plain', provisioners: ['ca', { name: 'prompt', options: { mode: 'append', lines: [1, 2] } }, { name: 'git' }] },
    bare: { bottle: 'nameless', provisioners: [] },
    asker: { bottle: 'asks' },
    quiet: { bottle: 'off' },
  },
};

const test = suite<World>('plan');
test.before(async (ctx) => {
  const base = await tempDir('bottle-plan-');
  const home = await tempDir('bottle-plan-home-');
  await mkdir(path.join(home, '.ssh'), { recursive: true });
  await writeFile(path.join(home, '.ssh', 'id_ed25519'), 'key');
  await mkdir(path.join(base, 'keys'), { recursive: true });
  await writeFile(path.join(base, 'keys', 'known_hosts'), 'hosts');
  for (const name of ['beside', 'both']) await mkdir(path.join(base, 'skills', name), { recursive: true });
  for (const name of ['in-home', 'both']) await mkdir(path.join(home, '.claude', 'skills', name), { recursive: true });
  // a plain file where a skill dir would be is not a skill
  await writeFile(path.join(base, 'skills', 'nowhere'), 'not a dir');
  await writeFile(path.join(base, 'bottle.json'), JSON.stringify(MANIFEST, null, 2));
  const loaded = await loadManifest(path.join(base, 'bottle.json'), home);
  Object.assign(ctx, { base, home, loaded });
});
test.after(cleanupTempDirs);

const NOW = new Date('2026-01-02T03:04:05.000Z');
function plan(w: World, agentName: string, env: NodeJS.ProcessEnv = {}, seed = 'seed-1'): BottlePlan {
  return makePlan({ manifest: w.loaded, agentName, copyCwd: true, userCwd: '/work/project' }, { env, home: w.home, seed, now: NOW, backend: 'docker' });
}
test('a route value too short to be redacted, or with a line break, is a launch problem', (w) => {
  const short = plan(w, 'demo', { ANTHROPIC_API_KEY: SECRET, LLM_TOKEN: 'x' });
  assert.equal(short.launchProblems, ['bottles.dev.egress.routes[1].auth.env: the value of LLM_TOKEN is shorter than 8 characters (too short to be kept out of what comes back); set it to the credential itself, on one line']);
  const broken = plan(w, 'demo', { ANTHROPIC_API_KEY: `${SECRET}\r\nx-extra: 1`, LLM_TOKEN: 'llm-token-value' });
  assert.equal(broken.launchProblems, ['bottles.dev.egress.routes[0].auth.env: the value of ANTHROPIC_API_KEY holds a line break or a control character; set it to the credential itself, on one line']);
  assert.equal(plan(w, 'demo', { ANTHROPIC_API_KEY: SECRET, LLM_TOKEN: 'llm-token-value' }).launchProblems, [], 'control: good values are no problem');
});

test('same seed, same plan; different seed, different slug', (w) => {
  const env = { ANTHROPIC_API_KEY: SECRET, LLM_TOKEN: 'tok' };
  assert.equal(plan(w, 'demo', env, 'a'), plan(w, 'demo', env, 'a'));
  const slugs = new Set(['a', 'b', 'c', 'd', 'e', 'f'].map((seed) => plan(w, 'demo', env, seed).slug));
  assert.is(slugs.size, 6);
  assert.is.not(plan(w, 'demo', env, 'a').stateDir, plan(w, 'demo', env, 'b').stateDir);
});

test('without a seed every plan gets a fresh slug', (w) => {
  const a = makePlan({ manifest: w.loaded, agentName: 'demo', copyCwd: false, userCwd: '/' }, { env: {}, home: w.home });
  const b = makePlan({ manifest: w.loaded, agentName: 'demo', copyCwd: false, userCwd: '/' }, { env: {}, home: w.home });
  assert.is.not(a.slug, b.slug);
  assert.match(a.slug, SLUG_PATTERN);
});

test('slug is <agent>-<5 of [a-z0-9]>', (w) => {
  for (const seed of ['x', 'y', 'z', '', 'a long seed with spaces']) {
    const p = plan(w, 'demo', {}, seed);
    assert.match(p.slug, /^demo-[a-z0-9]{5}$/);
    assert.match(p.slug, SLUG_PATTERN);
    assert.is(p.labels['bot-bottle.slug'], p.slug);
  }
  for (let i = 0; i < 200; i++) assert.match(slugSuffix(), /^[a-z0-9]{5}$/);
  assert.is(slugSuffix('same'), slugSuffix('same'));
  const longAgent = `${'a'.repeat(40)}-${slugSuffix('k')}`;
  assert.match(longAgent, SLUG_PATTERN, 'the longest agent name still makes a valid slug');
  assert.not.match('Demo-abcde', SLUG_PATTERN);
  assert.not.match('demo-abcd', SLUG_PATTERN);
  assert.not.match('demo-ABCDE', SLUG_PATTERN);
});

test('state dir under XDG_STATE_HOME, else ~/.local/state; stage dir and prompt file inside it', (w) => {
  const xdg = path.join(w.base, 'xdg-state');
  const p = plan(w, 'demo', { XDG_STATE_HOME: xdg });
  assert.is(p.stateDir, path.join(xdg, 'bot-bottle', 'bottles', p.slug));
  assert.is(p.stateDir, bottleStateDir(p.slug, { XDG_STATE_HOME: xdg }, w.home));
  const d = plan(w, 'demo', {});
  assert.is(d.stateDir, path.join(w.home, '.local', 'state', 'bot-bottle', 'bottles', d.slug));
  assert.is(stateHome({ XDG_STATE_HOME: 'relative' }, w.home), path.join(w.home, '.local', 'state', 'bot-bottle'), 'a relative XDG_STATE_HOME is ignored');
  for (const q of [p, d]) {
    for (const inside of [q.stageDir, q.promptFile, q.egress.caCertPath, q.egress.caKeyPath, q.egress.auditLogPath]) {
      assert.ok(inside.startsWith(q.stateDir + path.sep), `${inside} is under ${q.stateDir}`);
    }
  }
  assert.is(d.stageDir, path.join(d.stateDir, 'stage'));
});

test('the plan records what it was asked', (w) => {
  const p = plan(w, 'demo');
  assert.is(p.planVersion, 1);
  assert.is(p.agentName, 'demo');
  assert.is(p.bottleName, 'dev');
  assert.is(p.manifestPath, path.join(w.base, 'bottle.json'));
  assert.is(p.copyCwd, true);
  assert.is(p.userCwd, '/work/project');
  assert.is(p.prompt, 'You are a careful engineer.');
  assert.equal(p.gitUser, { name: 'Bot', email: 'bot@example.com' });
  assert.equal(p.labels, { 'bot-bottle': '1', 'bot-bottle.slug': p.slug, 'bot-bottle.agent': 'demo', 'bot-bottle.created': NOW.toISOString(), 'bot-bottle.backend': 'docker' });
  assert.equal(p.guest, { user: 'node', home: '/home/node', workspace: '/home/node/workspace', promptPath: '/home/node/.claude-bottle-prompt.txt', caPath: '/usr/local/share/ca-certificates/bot-bottle-egress-ca.crt', skillsDir: GUEST_SKILLS_DIR });
  const bare = plan(w, 'bare');
  assert.is(bare.prompt, '');
  assert.is(bare.gitUser, null, 'an empty git_user is no git user');
  assert.is(plan(w, 'custom').gitUser, null);
});

test('default provisioners are ca, git, prompt, skills, supervise', (w) => {
  assert.equal([...DEFAULT_PROVISIONERS], ['ca', 'git', 'prompt', 'skills', 'supervise']);
  assert.equal(plan(w, 'demo').provisioners, DEFAULT_PROVISIONERS.map((name) => ({ name, options: {} })));
});

test('provisioner refs keep their order and options; an empty list stays empty', (w) => {
  assert.equal(plan(w, 'custom').provisioners, [
    { name: 'ca', options: {} },
    { name: 'prompt', options: { mode: 'append', lines: [1, 2] } },
    { name: 'git', options: {} },
  ]);
  assert.equal(plan(w, 'bare').provisioners, []);
});

test('egress plan: secret env names, placeholders in the guest env, never the secret value', (w) => {
  const env = { ANTHROPIC_API_KEY: SECRET, LLM_TOKEN: 'llm-token-value-123', PATH: '/usr/bin' };
  const p = plan(w, 'demo', env);
  assert.equal(p.egress.secretEnv, ['ANTHROPIC_API_KEY', 'LLM_TOKEN']);
  assert.is(p.guestEnv.ANTHROPIC_API_KEY, SECRET_PLACEHOLDER);
  assert.is(p.guestEnv.LLM_TOKEN, SECRET_PLACEHOLDER);
  assert.is(p.guestEnv.PATH, undefined, 'the host env is not copied into the guest');
  assert.equal(p.egress.routes.map((r) => r.host), ['api.anthropic.com', 'llm.example.com', 'registry.npmjs.org']);
  assert.is(p.egress.routes[1]!.to, 'http://127.0.0.1:9999');
  assert.is(p.egress.port, 3128);
  assert.equal(p.launchProblems, []);
  const text = JSON.stringify(p);
  assert.not.ok(text.includes(SECRET), 'the secret is nowhere in the plan');
  assert.not.ok(text.includes('llm-token-value-123'), 'no token is in the plan');
  const endpoints = { proxyUrl: 'http://10.0.0.2:3128', gitGateHost: '10.0.0.2:9418', superviseUrl: 'http://10.0.0.2:9100/mcp' };
  assert.not.ok(JSON.stringify(agentEnv(p, endpoints)).includes(SECRET), 'nor in the agent env');
});

test('guest env basics', (w) => {
  const p = plan(w, 'custom');
  assert.equal(p.guestEnv, { HOME: '/home/node', USER: 'node', NODE_EXTRA_CA_CERTS: '/usr/local/share/ca-certificates/bot-bottle-egress-ca.crt', NODE_USE_ENV_PROXY: '1', PIP_CERT: '/etc/ssl/certs/ca-certificates.crt', REQUESTS_CA_BUNDLE: '/etc/ssl/certs/ca-certificates.crt' });
  assert.equal(p.egress.secretEnv, []);
  assert.equal(p.egress.routes, []);
});

test('a missing route env var is a launch problem, not a throw', (w) => {
  const p = plan(w, 'demo', { LLM_TOKEN: 'llm-token-value' });
  assert.equal(p.launchProblems, [
    'bottles.dev.egress.routes[0].auth.env: env var ANTHROPIC_API_KEY is not set; export it before `bottle run` (the gateway injects it for api.anthropic.com; the bottle never sees it)',
  ]);
  const none = plan(w, 'demo', { ANTHROPIC_API_KEY: '' });
  assert.is(none.launchProblems.length, 2, 'an empty value counts as unset');
  assert.match(none.launchProblems[1]!, /^bottles\.dev\.egress\.routes\[1\]\.auth\.env: env var LLM_TOKEN is not set/);
  assert.is(none.guestEnv.ANTHROPIC_API_KEY, SECRET_PLACEHOLDER, 'the plan is still complete');
});

test('git-gate upstreams: ~ and relative paths resolved, defaults filled', (w) => {
  const p = plan(w, 'demo');
  assert.equal(p.gitGate, {
    port: 9418,
    upstreams: [
      { name: 'app', upstream: 'ssh://git@host.example/app.git', identityFile: path.join(w.home, '.ssh', 'id_ed25519'), knownHosts: path.join(w.base, 'keys', 'known_hosts'), push: true, protect: [], refs: [] },
      { name: 'lib', upstream: 'https://host.example/lib.git', identityFile: null, knownHosts: null, push: false, protect: ['main'], refs: ['refs/notes/*'] },
    ],
  });
  assert.equal(plan(w, 'custom').gitGate.upstreams, []);
});

test('supervise plan only when the bottle enables it; `true` allows asking for no credential', (w) => {
  const p = plan(w, 'demo');
  assert.equal(p.supervise, { queueDir: path.join(p.stateDir, 'supervise', 'queue'), decisionsDir: path.join(p.stateDir, 'supervise', 'decisions'), port: 9100, credentials: [] });
  assert.is(plan(w, 'custom').supervise, null);
  assert.is(plan(w, 'quiet').supervise, null, '"supervise": false');
});

test('supervise {"credentials": [...]}: the names a request may ask for, each once, carried by the plan', (w) => {
  const p = plan(w, 'asker');
  assert.equal(p.supervise?.credentials, ['GITHUB_TOKEN', 'NPM_TOKEN']);
  assert.equal(p.supervise?.queueDir, path.join(p.stateDir, 'supervise', 'queue'));
});

test('skills: skills/<name> beside the manifest first, then ~/.claude/skills/<name>', (w) => {
  const p = plan(w, 'demo');
  const beside = (n: string) => path.join(w.base, 'skills', n);
  const inHome = (n: string) => path.join(w.home, '.claude', 'skills', n);
  assert.equal(p.skills, [
    { name: 'beside', hostDir: beside('beside'), found: true, searched: [beside('beside'), inHome('beside')] },
    { name: 'in-home', hostDir: inHome('in-home'), found: true, searched: [beside('in-home'), inHome('in-home')] },
    { name: 'both', hostDir: beside('both'), found: true, searched: [beside('both'), inHome('both')] },
    { name: 'nowhere', hostDir: beside('nowhere'), found: false, searched: [beside('nowhere'), inHome('nowhere')] },
  ]);
  assert.equal(skillSearchPath('x', '/m', '/h'), ['/m/skills/x', '/h/.claude/skills/x']);
  assert.equal(plan(w, 'custom').skills, []);
});

test('skills: an existingDirs check can be given', (w) => {
  const p = makePlan({ manifest: w.loaded, agentName: 'demo', copyCwd: false, userCwd: '/' }, { env: {}, home: w.home, seed: 's', existingDirs: (d) => d.endsWith('nowhere') && d.includes('.claude') });
  assert.equal(p.skills.map((s) => s.found), [false, false, false, true]);
});

test('guest skills dir: BOT_BOTTLE_GUEST_SKILLS_DIR wins over CLAUDE_BOTTLE_GUEST_SKILLS_DIR', (w) => {
  assert.is(guestSkillsDir({}), '/home/node/.claude/skills');
  assert.is(guestSkillsDir({ CLAUDE_BOTTLE_GUEST_SKILLS_DIR: '/old' }), '/old');
  assert.is(guestSkillsDir({ BOT_BOTTLE_GUEST_SKILLS_DIR: '/new', CLAUDE_BOTTLE_GUEST_SKILLS_DIR: '/old' }), '/new');
  assert.is(guestSkillsDir({ BOT_BOTTLE_GUEST_SKILLS_DIR: '', CLAUDE_BOTTLE_GUEST_SKILLS_DIR: '/old' }), '/old');
  assert.is(plan(w, 'demo', { BOT_BOTTLE_GUEST_SKILLS_DIR: '/new', CLAUDE_BOTTLE_GUEST_SKILLS_DIR: '/old' }).guest.skillsDir, '/new');
  assert.is(plan(w, 'demo', { CLAUDE_BOTTLE_GUEST_SKILLS_DIR: '/old' }).guest.skillsDir, '/old');
});

test('unknown agent: AGENT_NOT_FOUND listing the agents', async (w) => {
  for (const name of ['nope', '__proto__', 'constructor', 'toString']) {
    const err = await rejects(() => plan(w, name));
    assert.is(err.code, 'AGENT_NOT_FOUND');
    assert.is(err.exit, EXIT_USAGE);
    assert.is(err.message, `agent "${name}" is not defined in ${path.join(w.base, 'bottle.json')}`);
    assert.equal(err.details, ['the agents are: demo, custom, bare, asker, quiet']);
    assert.equal(err.suggestions, ['Use one of: demo, custom, bare, asker, quiet']);
  }
  const empty: LoadedManifest = { manifest: { bottles: {}, agents: {} }, source: '<inline>', baseDir: w.base };
  const err = await rejects(() => makePlan({ manifest: empty, agentName: 'demo', copyCwd: false, userCwd: '/' }, { env: {}, home: w.home }));
  assert.equal(err.details, ['no agents are defined']);
});

test('the plan survives a JSON round trip unchanged', (w) => {
  for (const name of ['demo', 'custom', 'bare']) {
    const p = plan(w, name, { ANTHROPIC_API_KEY: SECRET });
    assert.equal(JSON.parse(JSON.stringify(p)), p);
  }
});

test('agentEnv: the guest env plus both proxy cases, and NO_PROXY naming the bottle\'s own loopback only', (w) => {
  const p = plan(w, 'demo', { ANTHROPIC_API_KEY: SECRET, LLM_TOKEN: 't' });
  const env = agentEnv(p, { proxyUrl: 'http://127.0.0.1:41234', gitGateHost: '127.0.0.1:41235', superviseUrl: 'http://127.0.0.1:41236/mcp' });
  assert.equal(env, {
    ...p.guestEnv,
    HTTP_PROXY: 'http://127.0.0.1:41234',
    HTTPS_PROXY: 'http://127.0.0.1:41234',
    http_proxy: 'http://127.0.0.1:41234',
    https_proxy: 'http://127.0.0.1:41234',
    NO_PROXY: 'localhost,127.0.0.1,::1',
    no_proxy: 'localhost,127.0.0.1,::1',
  });
  assert.is(env.ANTHROPIC_API_KEY, SECRET_PLACEHOLDER);
});

test.run();
