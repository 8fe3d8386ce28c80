/**
 * Claude Code's definition as a session runs it: the files and commands in the guest, the command
 * line (unattended unless "permissionPrompts"), and the no-secret rule. The real CLI in a real bottle
 * is tests/e2e (bundle/claude.test.ts, agents/).
 */
import { suite } from 'uvu';
import { SECRET_PLACEHOLDER } from '@bot-bottle/core';
import * as assert from 'uvu/assert';
import claude, { CLAUDE_CODE_VERSION } from '../src/index.js';
import { cleanupTempDirs, configureForTest, rejects } from '@bot-bottle/core/testing';

const test = suite('agent claude');
test.after.each(cleanupTempDirs);

test('installs the pinned npm package; the API route is x-api-key on api.anthropic.com', () => {
  assert.equal(claude.install, { npm: '@anthropic-ai/claude-code', version: CLAUDE_CODE_VERSION, bin: 'claude' });
  assert.equal(claude.credentials, [{ host: 'api.anthropic.com', header: 'x-api-key', env: 'ANTHROPIC_API_KEY' }]);
  assert.is(claude.env?.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, '1');
  assert.is(claude.env?.CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL, '1', 'no plugin marketplace fetched at start');
  assert.is(claude.env?.CLAUDE_CODE_MODEL_CATALOG, 'off', 'no model catalogue fetched');
});

test('unattended by default: --dangerously-skip-permissions, interactive and headless, with the prompt file', async () => {
  const r = await configureForTest(claude, { instructions: ['/home/node/.claude-bottle-prompt.txt'] });
  assert.equal(r.argv, ['claude', '--dangerously-skip-permissions', '--append-system-prompt-file', '/home/node/.claude-bottle-prompt.txt']);
  const h = await configureForTest(claude, { headlessPrompt: 'fix the tests' });
  assert.equal(h.argv, ['claude', '-p', 'fix the tests', '--dangerously-skip-permissions']);
});

test('"permissionPrompts": true gives Claude Code its own prompts back, and leaves bypass mode unaccepted', async () => {
  const r = await configureForTest(claude, { permissionPrompts: true });
  assert.equal(r.argv, ['claude']);
  const state = JSON.parse(r.files.get('/home/node/.claude.json')!);
  assert.is(state.bypassPermissionsModeAccepted, undefined);
  const off = JSON.parse((await configureForTest(claude)).files.get('/home/node/.claude.json')!);
  assert.is(off.bypassPermissionsModeAccepted, true);
});

test('~/.claude.json answers the first-run dialogs for the workspace, written as node', async () => {
  const r = await configureForTest(claude);
  const state = JSON.parse(r.files.get('/home/node/.claude.json')!);
  assert.is(state.hasCompletedOnboarding, true);
  assert.is(state.projects['/home/node/workspace'].hasTrustDialogAccepted, true);
  // The key in its env (the placeholder) approved, as Claude Code keeps the answer: its last 20 characters.
  assert.equal(state.customApiKeyResponses, { approved: [SECRET_PLACEHOLDER.slice(-20)], rejected: [] });
  const write = r.target.execs.find((c) => c.argv[3] === 'bot-bottle-write')!;
  assert.is(write.options.user, 'node');
});

test('MCP servers: claude mcp add --scope user --transport http, as node, after ~/.claude.json is written', async () => {
  const r = await configureForTest(claude, { mcpServers: [{ name: 'supervise', url: 'http://127.0.0.1:9100/mcp' }] });
  const argvs = r.target.execs.map((c) => c.argv);
  const add = argvs.findIndex((a) => a[0] === 'claude');
  assert.equal(argvs[add], ['claude', 'mcp', 'add', '--scope', 'user', '--transport', 'http', 'supervise', 'http://127.0.0.1:9100/mcp']);
  assert.ok(add > argvs.findIndex((a) => a[3] === 'bot-bottle-write'), 'the state file first: claude mcp add merges into it');
  assert.is(r.target.execs[add]!.options.user, 'node');
  assert.equal(r.warnings, []);
});

test('a failing claude mcp add warns (the agent runs without those tools) and does not fail the launch', async () => {
  const r = await configureForTest(claude, {
    mcpServers: [{ name: 'supervise', url: 'http://127.0.0.1:9100/mcp' }],
    respond: (argv) => (argv[0] === 'claude' ? { exitCode: 1, stdout: '', stderr: 'boom\n' } : { exitCode: 0, stdout: '', stderr: '' }),
  });
  assert.is(r.warnings.length, 1);
  assert.match(r.warnings[0]!, /supervise MCP server at http:\/\/127\.0\.0\.1:9100\/mcp \(`claude mcp add` exit 1: boom\); the agent runs without its tools/);
});

test('a credential the gateway injects may not reach the command line (attack: a prompt holding the key)', async () => {
  const key = 'sk-ant-real-key-0123456789abcdef';
  const err = await rejects(() => configureForTest(claude, { headlessPrompt: 'x', instructions: [`/home/node/${key}.md`], secrets: { ANTHROPIC_API_KEY: key } }));
  assert.match(err.message, /would get the value of ANTHROPIC_API_KEY/);
});

test.run();
