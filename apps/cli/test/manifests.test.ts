/**
 * Bad manifests through the real `bottle validate --manifest <file>` (bin/run.js as a child process):
 * each must exit 2 with `Error: ...`, one indented line per problem naming its JSON path (or the
 * line and column for JSON syntax), a `Fix:` line, nothing on stdout and no stack trace.
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bottle, cleanupTempDirs, hasStack, isolatedXdg, tempDir, validManifest } from './helpers.js';

type Manifest = Record<string, any>;
interface Case {
  name: string;
  /** The file: a valid manifest with one edit, raw text, or a path the case makes itself. */
  make: ((m: Manifest) => void) | { text: string } | { file: (dir: string) => Promise<string> };
  /** Each must start a detail line (`  <path>: ...`). */
  lines?: string[];
  /** Must appear in the output. */
  message?: string | RegExp;
}

const text = (t: string) => ({ text: t });
const route = (m: Manifest) => m.bottles.dev.egress.routes[0];

const cases: Case[] = [
  // Types, one level at a time.
  { name: 'bottles is an array', make: (m) => void (m.bottles = []), lines: ['bottles: expected an object but got an array'] },
  { name: 'agents is a string', make: (m) => void (m.agents = 'demo'), lines: ['agents: expected an object but got the string "demo"'] },
  { name: 'supervise as a quoted string', make: (m) => void (m.bottles.dev.supervise = 'true'), lines: ['bottles.dev.supervise: supervise is true, false, or {"credentials": ["NAME", ...]} (the host env vars a request may ask for), not the string "true"; write it without quotes'] },
  { name: 'supervise credential that is not a variable name', make: (m) => void (m.bottles.dev.supervise = { credentials: ['ghp_0123 value'] }), lines: ['bottles.dev.supervise.credentials[0]: the string "ghp_0123 value" is not an environment variable name'] },
  { name: 'git is an object', make: (m) => void (m.bottles.dev.git = { Name: 'app' }), lines: ['bottles.dev.git: expected an array but got an object'] },
  { name: 'routes entry is a string', make: (m) => void (m.bottles.dev.egress.routes = ['api.anthropic.com']), lines: ['bottles.dev.egress.routes[0]: expected an object'] },
  { name: 'skills is a string', make: (m) => void (m.agents.demo.skills = 'init-prd'), lines: ['agents.demo.skills: expected an array'] },
  { name: 'prompt is a number', make: (m) => void (m.agents.demo.prompt = 7), lines: ['agents.demo.prompt: expected a string but got the number 7'] },
  { name: 'provisioner ref is a number', make: (m) => void (m.agents.demo.provisioners = [42]), lines: ['agents.demo.provisioners[0]: a provisioner is a name'] },
  // Unknown keys at each level.
  { name: 'unknown top-level key', make: (m) => void (m.bottle = {}), lines: ['bottle: unknown key "bottle"; did you mean "bottles"?'] },
  { name: 'unknown bottle key', make: (m) => void (m.bottles.dev.egres = {}), lines: ['bottles.dev.egres: unknown key "egres"; did you mean "egress"?'] },
  { name: 'unknown git entry key (wrong case)', make: (m) => void (m.bottles.dev.git[0].identityfile = '~/.ssh/id'), lines: ['bottles.dev.git[0].identityfile: unknown key "identityfile"; did you mean "IdentityFile"?'] },
  { name: 'unknown git_user key', make: (m) => void (m.bottles.dev.git_user.mail = 'a@b.c'), lines: ['bottles.dev.git_user.mail: unknown key "mail"'] },
  { name: 'unknown egress key', make: (m) => void (m.bottles.dev.egress.allow = ['x']), lines: ['bottles.dev.egress.allow: unknown key "allow"'] },
  { name: 'unknown route key', make: (m) => void (route(m).port = 443), lines: ['bottles.dev.egress.routes[0].port: unknown key "port"'] },
  { name: 'unknown auth key', make: (m) => void (route(m).auth.value = 'sk-123'), lines: ['bottles.dev.egress.routes[0].auth.value: unknown key "value"'] },
  { name: 'unknown agent key', make: (m) => void (m.agents.demo.skils = []), lines: ['agents.demo.skils: unknown key "skils"; did you mean "skills"?'] },
  { name: 'unknown provisioner ref key', make: (m) => void (m.agents.demo.provisioners = [{ name: 'ca', opts: {} }]), lines: ['agents.demo.provisioners[0].opts: unknown key "opts"'] },
  // References and cross-checks.
  { name: 'agent names a missing bottle', make: (m) => void (m.agents.demo.bottle = 'prod'), lines: ['agents.demo.bottle: bottle "prod" is not defined in "bottles" (the bottles are: dev)'] },
  { name: 'agent without a bottle key', make: (m) => void delete m.agents.demo.bottle, lines: ['agents.demo.bottle: missing; it is required'] },
  { name: 'missing agents section', make: (m) => void delete m.agents, lines: ['agents: missing; it is required'] },
  { name: 'empty agent name', make: (m) => void (m.agents[''] = { bottle: 'dev' }), lines: ['agents[""]: "" is not a valid agent name'] },
  { name: 'agent name with spaces and capitals', make: (m) => void (m.agents['My Agent'] = { bottle: 'dev' }), lines: ['agents["My Agent"]: "My Agent" is not a valid agent name'] },
  { name: 'bad Upstream URL', make: (m) => void (m.bottles.dev.git[0].Upstream = 'not a url'), lines: ['bottles.dev.git[0].Upstream: Upstream must not contain spaces'] },
  { name: 'a password in the Upstream URL', make: (m) => void (m.bottles.dev.git[0].Upstream = 'https://bot:hunter2@git.example.com/app.git'), lines: ['bottles.dev.git[0].Upstream: Upstream must not hold a password'] },
  { name: 'Upstream with an unsupported scheme', make: (m) => void (m.bottles.dev.git[0].Upstream = 'ftp://host/app.git'), lines: ['bottles.dev.git[0].Upstream: Upstream scheme "ftp://" is not supported'] },
  { name: 'Upstream host starting with "-"', make: (m) => void (m.bottles.dev.git[0].Upstream = 'ssh://-oProxyCommand=x/app.git'), lines: ['bottles.dev.git[0].Upstream:'] },
  {
    name: 'duplicate git Name',
    make: (m) => void m.bottles.dev.git.push({ Name: 'app', Upstream: 'https://git.example.invalid/other.git' }),
    lines: ['bottles.dev.git[1].Name: duplicate git Name "app" (also at bottles.dev.git[0].Name)'],
  },
  { name: 'IdentityFile that does not exist', make: (m) => void (m.bottles.dev.git[0].IdentityFile = './keys/missing_ed25519'), lines: ['bottles.dev.git[0].IdentityFile:'], message: 'missing_ed25519 (from "./keys/missing_ed25519") does not exist' },
  { name: 'bad e-mail in git_user', make: (m) => void (m.bottles.dev.git_user.email = 'bot at example'), lines: ['bottles.dev.git_user.email: git_user.email "bot at example" is not an e-mail address'] },
  // Routes.
  { name: 'route host with a scheme', make: (m) => void (route(m).host = 'https://api.anthropic.com'), lines: ['bottles.dev.egress.routes[0].host: host must not include a scheme ("https://")'] },
  { name: 'route host is an IPv4 literal', make: (m) => void (route(m).host = '169.254.169.254'), lines: ['bottles.dev.egress.routes[0].host: host must be a name, not an IP address'] },
  { name: 'route host is an IPv6 literal', make: (m) => void (route(m).host = '[::1]'), lines: ['bottles.dev.egress.routes[0].host: host must be a name, not an IP address'] },
  { name: 'route host with a port', make: (m) => void (route(m).host = 'api.anthropic.com:443'), lines: ['bottles.dev.egress.routes[0].host: host must not include a port'] },
  { name: 'route host with a space', make: (m) => void (route(m).host = 'api anthropic.com'), lines: ['bottles.dev.egress.routes[0].host: host "api anthropic.com" is not a valid DNS name'] },
  { name: 'route "to" with a path', make: (m) => void (route(m).to = 'https://gw.example.invalid/v1'), lines: ['bottles.dev.egress.routes[0].to: to must be an origin'] },
  { name: 'route "to" that is not http(s)', make: (m) => void (route(m).to = 'ftp://gw.example.invalid'), lines: ['bottles.dev.egress.routes[0].to: to must be an origin'] },
  { name: 'credential over plain http without opting in', make: (m) => void (route(m).to = 'http://llm-gateway.internal:8080'), lines: ['bottles.dev.egress.routes[0].auth: this route would send its credential over plain http; use https in "to", or opt in with "auth": {..., "cleartext": true}'] },
  { name: 'route port out of range', make: (m) => void (route(m).ports = [70000]), lines: ['bottles.dev.egress.routes[0].ports[0]: each port must be 1-65535'] },
  { name: 'auth header name with a space', make: (m) => void (route(m).auth.header = 'x api key'), lines: ['bottles.dev.egress.routes[0].auth.header: header must be an HTTP header name'] },
  { name: 'auth env holding a secret value', make: (m) => void (route(m).auth.env = 'sk-ant-123'), lines: ['bottles.dev.egress.routes[0].auth.env: env must be the name of an environment variable'] },
  { name: 'auth env starting with a digit', make: (m) => void (route(m).auth.env = '1KEY'), lines: ['bottles.dev.egress.routes[0].auth.env: env must be the name of an environment variable'] },
  { name: 'auth env the bottle itself sets', make: (m) => void (route(m).auth.env = 'HOME'), lines: ['bottles.dev.egress.routes[0].auth.env: HOME is set by bot-bottle inside the bottle'] },
  { name: 'provisioner listed twice', make: (m) => void (m.agents.demo.provisioners = ['ca', 'git', 'ca']), lines: ['agents.demo.provisioners[2]: provisioner "ca" is listed twice; list each once'] },
  {
    name: 'several problems: one line each',
    make: (m) => {
      m.bottles.dev.supervise = 1;
      route(m).host = '10.0.0.1';
      m.agents.demo.bottle = 'nope';
      m.agents.demo.prompt = false;
    },
    lines: ['bottles.dev.supervise:', 'bottles.dev.egress.routes[0].host:', 'agents.demo.prompt:'],
  },
  // JSON syntax, with line and column.
  { name: 'invalid JSON (missing comma)', make: text('{\n  "bottles": {}\n  "agents": {}\n}\n'), lines: ['line 3, column 3: expected "," between entries'], message: 'is not valid JSON' },
  { name: 'trailing comma', make: text('{\n  "bottles": {},\n  "agents": {},\n}\n'), lines: ['line 4, column 1: trailing comma before "}"; remove the ","'] },
  { name: 'comments', make: text('{\n  // my bottles\n  "bottles": {}, "agents": {}\n}\n'), lines: ['line 2, column 3: comments are not allowed in JSON'] },
  { name: 'single quotes', make: text("{'bottles': {}, 'agents': {}}"), lines: ['line 1, column 2: strings and keys need double quotes'] },
  { name: 'duplicate key', make: text('{"bottles": {}, "agents": {}, "bottles": {}}'), lines: ['bottles: key "bottles" appears twice in one object'] },
  { name: 'empty file', make: text(''), lines: ['line 1, column 1: expected a JSON object'], message: 'is empty' },
  { name: 'whitespace only', make: text('  \n\n'), message: 'is empty' },
  { name: 'array at the top level', make: text('[{"bottles": {}, "agents": {}}]'), lines: ['(top level): expected an object with "bottles" and "agents" but got an array'] },
  { name: 'null at the top level', make: text('null'), lines: ['(top level): expected an object with "bottles" and "agents" but got null'] },
  { name: 'a huge file (over 1 MiB)', make: text(`{"bottles": {}, "agents": {}, "$schema": "${'x'.repeat(1024 * 1024 + 10)}"}`), lines: ['(top level): '], message: 'the limit is 1 MiB' },
  { name: 'deeply nested input (100000 arrays)', make: text(`{"bottles": ${'['.repeat(100000)}${']'.repeat(100000)}, "agents": {}}`), lines: ['(top level): nesting of 100001 levels is more than 64'] },
  // Files that are not readable manifests.
  {
    name: 'a directory instead of a file',
    make: {
      file: async (dir) => {
        await mkdir(path.join(dir, 'conf.json'));
        return path.join(dir, 'conf.json');
      },
    },
    message: /manifest .*conf\.json is a directory, not a file/,
  },
  {
    name: 'a dangling symlink',
    make: {
      file: async (dir) => {
        await symlink(path.join(dir, 'gone.json'), path.join(dir, 'link.json'));
        return path.join(dir, 'link.json');
      },
    },
    message: /manifest .*link\.json does not exist/,
  },
  {
    // Tests run as root, and chmod 000 does not stop root from reading a file. A symlink loop does:
    // the kernel refuses to resolve it for every user (ELOOP), so the read really fails.
    name: 'an unreadable path (symlink loop)',
    make: {
      file: async (dir) => {
        await symlink(path.join(dir, 'b.json'), path.join(dir, 'a.json'));
        await symlink(path.join(dir, 'a.json'), path.join(dir, 'b.json'));
        return path.join(dir, 'a.json');
      },
    },
    message: /cannot read manifest .*a\.json \(ELOOP\)/,
  },
  {
    name: 'a path through a file (not a directory)',
    make: {
      file: async (dir) => {
        await writeFile(path.join(dir, 'plain'), '');
        return path.join(dir, 'plain', 'bottle.json');
      },
    },
    message: /manifest .*plain\/bottle\.json does not exist/,
  },
];

const test = suite('bad manifests');
let env: Record<string, string>;
test.before(async () => {
  env = await isolatedXdg();
});
test.after(cleanupTempDirs);

test(`at least 30 distinct bad manifests (${cases.length})`, () => {
  assert.ok(cases.length >= 30);
  assert.is(new Set(cases.map((c) => c.name)).size, cases.length);
});

for (const c of cases) {
  test(c.name, async () => {
    const dir = await tempDir('bottle-bad-');
    let file = path.join(dir, 'bottle.json');
    if ('file' in c.make) file = await c.make.file(dir);
    else if ('text' in c.make) await writeFile(file, c.make.text);
    else {
      const m = validManifest();
      c.make(m);
      await writeFile(file, JSON.stringify(m, null, 2));
    }
    const r = await bottle(['validate', '--manifest', file], { env });
    assert.is(r.exitCode, 2, `${c.name}: exit ${r.exitCode}\n${r.stdout}${r.stderr}`);
    assert.is(r.stdout, '');
    assert.ok(r.stderr.startsWith('Error: '), r.stderr);
    assert.match(r.stderr, /\nFix: .+/);
    assert.not.ok(hasStack(r.stderr), r.stderr);
    const details = r.stderr.split('\n').filter((l) => l.startsWith('  ')).map((l) => l.slice(2));
    for (const want of c.lines ?? []) {
      assert.ok(details.some((d) => d.startsWith(want)), `no detail line starts with ${JSON.stringify(want)}:\n${r.stderr}`);
    }
    // One line per problem: every detail line names where (a JSON path or a line and column).
    for (const d of details) assert.match(d, /^(\(top level\)|line \d+, column \d+|[A-Za-z_$"[][^:]*): /, `detail without a location: ${d}`);
    if (c.message) assert.match(r.stderr, c.message);
  });
}

test('an unknown provisioner name is caught by validate and by plan alike', async () => {
  const dir = await tempDir('bottle-bad-');
  const m = validManifest();
  m.agents.demo.provisioners = ['ca', 'motd'];
  const file = path.join(dir, 'bottle.json');
  await writeFile(file, JSON.stringify(m));
  const v = await bottle(['validate', '--manifest', file], { env });
  assert.is(v.exitCode, 2);
  assert.match(v.stderr, '  agents.demo.provisioners[1]: no installed provisioner is named "motd"; installed: ca, git, prompt, skills, supervise\n');
  const p = await bottle(['plan', 'demo', '--manifest', file], { env });
  assert.is(p.exitCode, 2);
  assert.is(
    p.stderr,
    'Error: agents.demo.provisioners[1]: no installed provisioner is named "motd"\n  installed: ca, git, prompt, skills, supervise\nFix: Fix the name, or install the plugin that provides it: bottle plugins install <package> (`bottle provisioners` lists what is installed)',
  );
});

test.run();
