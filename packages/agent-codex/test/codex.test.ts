/** Codex's definition as a session runs it; the real CLI in a real bottle is tests/e2e/test/agents. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import codex, { CODEX_PROVIDER, CODEX_VERSION } from '../src/index.js';
import { cleanupTempDirs, configureForTest } from '@bot-bottle/core/testing';

const test = suite('agent codex');
test.after.each(cleanupTempDirs);

test('installs the pinned npm package; the key goes as authorization: Bearer to api.openai.com', () => {
  assert.equal(codex.install, { npm: '@openai/codex', version: CODEX_VERSION, bin: 'codex' });
  assert.equal(codex.credentials, [{ host: 'api.openai.com', header: 'authorization', format: 'Bearer {value}', env: 'OPENAI_API_KEY' }]);
});

test('config.toml: its own provider id at api.openai.com/v1 (no WebSocket, key from OPENAI_API_KEY), everything that phones elsewhere off', async () => {
  const r = await configureForTest(codex);
  const toml = r.files.get('/home/node/.codex/config.toml')!;
  for (const line of [
    `model_provider = "${CODEX_PROVIDER}"`,
    'base_url = "https://api.openai.com/v1"',
    'env_key = "OPENAI_API_KEY"',
    'wire_api = "responses"',
    'supports_websockets = false',
    'check_for_update_on_startup = false',
    'plugins = false',
    'daemon_auto_start = false',
    'metrics_exporter = "none"',
  ]) {
    assert.ok(toml.split('\n').includes(line), `${line} in\n${toml}`);
  }
  assert.match(toml, /\[analytics\]\nenabled = false/);
  assert.match(toml, /\[feedback\]\nenabled = false/);
});

test('unattended by default: no approvals, no inner sandbox; headless is codex exec with stdin closed', async () => {
  const r = await configureForTest(codex, { headlessPrompt: 'fix it' });
  assert.equal(r.argv, ['sh', '-c', 'exec "$@" </dev/null', 'codex', 'codex', 'exec', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox', 'fix it']);
  const toml = r.files.get('/home/node/.codex/config.toml')!;
  assert.match(toml, /^approval_policy = "never"$/m);
  assert.match(toml, /^sandbox_mode = "danger-full-access"$/m);
  assert.equal((await configureForTest(codex)).argv, ['codex', '--dangerously-bypass-approvals-and-sandbox']);
});

test('"permissionPrompts": true leaves Codex its own approvals and sandbox', async () => {
  const r = await configureForTest(codex, { permissionPrompts: true, mcpServers: [{ name: 'supervise', url: 'http://127.0.0.1:9100/mcp' }] });
  assert.equal(r.argv, ['codex']);
  const toml = r.files.get('/home/node/.codex/config.toml')!;
  assert.not.match(toml, /approval_policy|sandbox_mode|default_tools_approval_mode/);
});

test('MCP servers as [mcp_servers.NAME] url, approved when unattended; the prompt goes to ~/.codex/AGENTS.md as node', async () => {
  const r = await configureForTest(codex, { mcpServers: [{ name: 'supervise', url: 'http://127.0.0.1:9100/mcp' }], instructions: ['/home/node/.claude-bottle-prompt.txt'] });
  const toml = r.files.get('/home/node/.codex/config.toml')!;
  assert.match(toml, /\[mcp_servers\.supervise\]\nurl = "http:\/\/127\.0\.0\.1:9100\/mcp"\ndefault_tools_approval_mode = "approve"/);
  assert.is(r.copies.get('/home/node/.codex/AGENTS.md'), '/home/node/.claude-bottle-prompt.txt');
  assert.is(r.target.execs.find((c) => c.argv.includes('/home/node/.codex/AGENTS.md'))!.options.user, 'node');
  assert.is(r.plan.guest.skillsDir, '/home/node/.codex/skills');
});

test.run();
