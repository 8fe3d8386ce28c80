/** OpenCode's definition as a session runs it; the real CLI in a real bottle is tests/e2e/test/agents. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import opencode, { headlessTitle, OPENCODE_MODEL, OPENCODE_SMALL_MODEL, OPENCODE_VERSION } from '../src/index.js';
import { cleanupTempDirs, configureForTest } from '@bot-bottle/core/testing';

const test = suite('agent opencode');
test.after.each(cleanupTempDirs);
const CONFIG = '/home/node/.config/opencode/opencode.json';

test('installs the pinned npm package; the key goes as x-api-key to api.anthropic.com; catalogue fetch, updates, sharing and npm off', () => {
  assert.equal(opencode.install, { npm: 'opencode-ai', version: OPENCODE_VERSION, bin: 'opencode' });
  assert.equal(opencode.credentials, [{ host: 'api.anthropic.com', header: 'x-api-key', env: 'ANTHROPIC_API_KEY' }]);
  for (const k of ['OPENCODE_DISABLE_MODELS_FETCH', 'OPENCODE_DISABLE_AUTOUPDATE', 'OPENCODE_DISABLE_SHARE', 'OPENCODE_DISABLE_LSP_DOWNLOAD']) assert.is(opencode.env?.[k], '1', k);
  assert.is(opencode.env?.npm_config_offline, 'true');
});

test('opencode.json: both models Anthropic\'s, autoupdate/share/LSP/formatters off, every permission allowed, MCP servers remote, the prompt an instructions file', async () => {
  const r = await configureForTest(opencode, { mcpServers: [{ name: 'supervise', url: 'http://127.0.0.1:9100/mcp' }], instructions: ['/home/node/.claude-bottle-prompt.txt'] });
  const c = JSON.parse(r.files.get(CONFIG)!);
  assert.is(c.model, OPENCODE_MODEL);
  assert.is(c.small_model, OPENCODE_SMALL_MODEL);
  assert.ok(c.model.startsWith('anthropic/') && c.small_model.startsWith('anthropic/'), 'no model of another provider (the only route is Anthropic\'s)');
  assert.equal([c.autoupdate, c.share, c.lsp, c.formatter], [false, 'disabled', false, false]);
  assert.equal(c.permission, { '*': 'allow' });
  assert.equal(c.instructions, ['/home/node/.claude-bottle-prompt.txt']);
  assert.equal(c.mcp, { supervise: { type: 'remote', url: 'http://127.0.0.1:9100/mcp', enabled: true } });
  assert.is(r.plan.guest.skillsDir, '/home/node/.config/opencode/skills');
});

test('"permissionPrompts": true leaves OpenCode its own permission defaults; no prompt, no instructions key', async () => {
  const c = JSON.parse((await configureForTest(opencode, { permissionPrompts: true })).files.get(CONFIG)!);
  assert.not.ok('permission' in c);
  assert.not.ok('instructions' in c);
});

test('headless is `opencode run` with stdin closed and a title (no model call spent naming the session); interactive is its TUI', async () => {
  const r = await configureForTest(opencode, { headlessPrompt: 'fix the failing test\nthen push' });
  assert.equal(r.argv, ['sh', '-c', 'exec "$@" </dev/null', 'opencode', 'opencode', 'run', '--title', 'fix the failing test', 'fix the failing test\nthen push']);
  assert.equal((await configureForTest(opencode)).argv, ['opencode']);
  assert.is(headlessTitle('x'.repeat(100)), `${'x'.repeat(57)}...`);
  assert.is(headlessTitle('  \n'), 'bottle run');
});

test.run();
