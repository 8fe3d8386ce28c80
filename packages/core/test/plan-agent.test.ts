/** The plan's agent: which "cli", from which definition, its env, skills dir and autonomy. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SECRET_PLACEHOLDER, defineAgent, makePlan, validateManifest, type AgentDefinition } from '../src/index.js';
import { testAgentDouble } from '../src/testing/index.js';
import { cleanupTempDirs, rejects, tempDir } from './helpers.js';

const test = suite('plan: the agent');
test.after(cleanupTempDirs);

const noSkills: AgentDefinition = defineAgent({
  apiVersion: 1,
  name: 'plain',
  description: 'an agent with no skills',
  install: { npm: '@example/plain', version: '1.2.3', bin: 'plain' },
  credentials: [{ host: 'api.example.com', header: 'authorization', format: 'Bearer {value}', env: 'PLAIN_KEY' }],
  env: { PLAIN_TELEMETRY: 'off', HOME: '/somewhere-else', PLAIN_KEY: 'leaked' },
  async configure() {},
  command: () => ['plain'],
});

async function planOf(agent: Record<string, unknown>, definition?: AgentDefinition) {
  const dir = await tempDir();
  const loaded = await validateManifest({ bottles: { dev: { egress: { routes: [{ host: 'api.example.com', auth: { header: 'authorization', env: 'PLAIN_KEY' } }] } } }, agents: { demo: { bottle: 'dev', ...agent } } }, '<t>', dir);
  return makePlan({ manifest: loaded, agentName: 'demo', copyCwd: false, userCwd: dir }, { env: { XDG_STATE_HOME: dir, PLAIN_KEY: 'a-long-enough-key' }, seed: 's', ...(definition ? { agent: { definition, packageName: '@example/agent-plain' } } : {}) });
}

test('the definition decides the install, description and skills dir; the plan records the package', async () => {
  const p = await planOf({ cli: 'plain' }, noSkills);
  assert.equal(p.agent, { cli: 'plain', description: 'an agent with no skills', package: '@example/agent-plain', install: noSkills.install, installed: '@example/plain@1.2.3', permissionPrompts: false, skills: false });
  const c = await planOf({}, testAgentDouble('claude'));
  assert.is(c.agent.cli, 'claude');
});

test("the agent's env is added, but never replaces HOME, the CA, the proxy settings or a credential's placeholder", async () => {
  const p = await planOf({ cli: 'plain' }, noSkills);
  assert.is(p.guestEnv.PLAIN_TELEMETRY, 'off');
  assert.is(p.guestEnv.HOME, '/home/node');
  assert.is(p.guestEnv.PLAIN_KEY, SECRET_PLACEHOLDER);
});

test('skills on an agent that takes none: a launch problem naming the key', async () => {
  const p = await planOf({ cli: 'plain', skills: ['x'] }, noSkills);
  assert.ok(p.launchProblems.some((l) => l.startsWith('agents.demo.skills: plain (an agent with no skills) takes no skills')), p.launchProblems.join('\n'));
});

test('"permissionPrompts" is carried to the plan', async () => {
  assert.is((await planOf({ cli: 'plain', permissionPrompts: true }, noSkills)).agent.permissionPrompts, true);
});

test('a non-default "cli" cannot be planned without its definition, nor with another agent\'s', async () => {
  assert.match((await rejects(() => planOf({ cli: 'plain' }))).message, 'runs "plain", which cannot be planned without its definition');
  assert.match((await rejects(() => planOf({ cli: 'plain' }, testAgentDouble('claude')))).message, 'was given the definition of "claude", not of its cli "plain"');
});

test('defineAgent refuses a definition a launch could not use, naming the rule', () => {
  const base = { ...noSkills };
  const bad: [Record<string, unknown>, string][] = [
    [{ name: 'Bad Name' }, 'name "Bad Name" is not'],
    [{ install: { npm: '@openai/codex', version: 'latest', bin: 'codex' } }, 'install.version must be an exact version'],
    [{ install: { dir: 'relative/dir', bin: 'x' } }, 'install.dir must be an absolute path'],
    [{ install: { npm: 'x', version: '1.0.0', bin: '../../etc/passwd' } }, 'install.bin must be a command name or a relative path'],
    [{ credentials: [{ host: 'h', header: 'x', env: 'not a name' }] }, 'each credential is'],
    [{ skillsDir: 'skills' }, 'skillsDir must be an absolute guest path'],
    [{ apiVersion: 2 }, 'apiVersion must be 1'],
  ];
  for (const [change, message] of bad) {
    try {
      defineAgent({ ...base, ...change } as unknown as AgentDefinition);
      assert.unreachable(`accepted ${JSON.stringify(change)}`);
    } catch (e) {
      assert.match((e as Error).message, message);
    }
  }
});

test.run();
