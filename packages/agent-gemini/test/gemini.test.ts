/** Gemini CLI's definition as a session runs it; the real CLI in a real bottle is tests/e2e/test/agents. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import gemini, { GEMINI_CLI_VERSION } from '../src/index.js';
import { cleanupTempDirs, configureForTest } from '@bot-bottle/core/testing';

const test = suite('agent gemini');
test.after.each(cleanupTempDirs);

test('installs the pinned npm package; the key goes as x-goog-api-key; its own sandbox and relaunch off', () => {
  assert.equal(gemini.install, { npm: '@google/gemini-cli', version: GEMINI_CLI_VERSION, bin: 'gemini' });
  assert.equal(gemini.credentials, [{ host: 'generativelanguage.googleapis.com', header: 'x-goog-api-key', env: 'GEMINI_API_KEY' }]);
  assert.is(gemini.env?.GEMINI_SANDBOX, 'false');
  assert.is(gemini.env?.GEMINI_CLI_NO_RELAUNCH, 'true');
});

test('settings.json: API-key auth, no usage statistics, telemetry, update checks, folder trust or sandbox; MCP servers trusted when unattended', async () => {
  const r = await configureForTest(gemini, { mcpServers: [{ name: 'supervise', url: 'http://127.0.0.1:9100/mcp' }] });
  const s = JSON.parse(r.files.get('/home/node/.gemini/settings.json')!);
  assert.is(s.security.auth.selectedType, 'gemini-api-key');
  assert.is(s.security.folderTrust.enabled, false);
  assert.is(s.privacy.usageStatisticsEnabled, false);
  assert.is(s.telemetry.enabled, false);
  assert.equal(s.general, { enableAutoUpdate: false, enableAutoUpdateNotification: false });
  assert.is(s.tools.sandbox, false);
  assert.equal(s.mcpServers, { supervise: { httpUrl: 'http://127.0.0.1:9100/mcp', trust: true } });
  const p = JSON.parse((await configureForTest(gemini, { permissionPrompts: true, mcpServers: [{ name: 'supervise', url: 'http://127.0.0.1:9100/mcp' }] })).files.get('/home/node/.gemini/settings.json')!);
  assert.equal(p.mcpServers, { supervise: { httpUrl: 'http://127.0.0.1:9100/mcp' } });
});

test('--yolo unless "permissionPrompts"; headless is -p PROMPT; the prompt file becomes ~/.gemini/GEMINI.md', async () => {
  const r = await configureForTest(gemini, { headlessPrompt: 'fix it', instructions: ['/home/node/.claude-bottle-prompt.txt'] });
  assert.equal(r.argv, ['gemini', '--yolo', '-p', 'fix it']);
  assert.is(r.copies.get('/home/node/.gemini/GEMINI.md'), '/home/node/.claude-bottle-prompt.txt');
  assert.ok(r.target.execs.some((c) => c.argv.at(-1) === '/home/node/.gemini/GEMINI.md' && c.options.user === 'node'));
  assert.equal((await configureForTest(gemini, { permissionPrompts: true })).argv, ['gemini']);
  assert.is(r.plan.guest.skillsDir, '/home/node/.gemini/skills');
});

test.run();
