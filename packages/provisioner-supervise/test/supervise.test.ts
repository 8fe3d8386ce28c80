/**
 * The reference's TestProvisionSupervise, agent-neutral: the provisioner hands the session the
 * supervise server; registering it (`claude mcp add` for Claude Code) is the agent definition's,
 * tested with each agent (packages/agent-*).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import supervise from '../src/index.js';
import { cleanupTempDirs, ENDPOINTS, provisionForTest } from '@bot-bottle/core/testing';

const test = suite('supervise');
test.after.each(cleanupTempDirs);

test('no-op when supervise is not enabled', async () => {
  const { result, target, warnings } = await provisionForTest(supervise);
  assert.is(result, undefined);
  assert.equal(target.calls, []);
  assert.equal(warnings, []);
});

test('hands over the supervise MCP server when supervise is enabled, running nothing in the bottle itself', async () => {
  const { result, target, warnings } = await provisionForTest(supervise, { supervise: true }, { endpoints: { ...ENDPOINTS, superviseUrl: 'http://127.0.0.1:9100/' } });
  assert.equal(result, { mcpServers: [{ name: 'supervise', url: 'http://127.0.0.1:9100/' }] });
  assert.equal(target.calls, []);
  assert.equal(warnings, []);
});

test('the URL is the agent-side endpoint the backend found, not a fixed one', async () => {
  const { result } = await provisionForTest(supervise, { supervise: true }, { endpoints: { ...ENDPOINTS, superviseUrl: 'http://127.0.0.1:40123/mcp' } });
  assert.equal(result, { mcpServers: [{ name: 'supervise', url: 'http://127.0.0.1:40123/mcp' }] });
});

test.run();
