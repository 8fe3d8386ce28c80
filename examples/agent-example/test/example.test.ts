/** The example agent's definition, as an author tests one with @bot-bottle/core/testing. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cleanupTempDirs, configureForTest } from '@bot-bottle/core/testing';
import hello from '../src/index.js';

const test = suite('agent-example');
test.after.each(cleanupTempDirs);

test('ships its agent as a folder with the bin in it', () => {
  assert.ok('dir' in hello.install);
  if (!('dir' in hello.install)) return;
  assert.ok(existsSync(path.join(hello.install.dir, hello.install.bin)));
});

test('configure writes its MCP servers file as the agent user; the prompt file goes as --system-file', async () => {
  const r = await configureForTest(hello, { mcpServers: [{ name: 'supervise', url: 'http://127.0.0.1:9100/mcp' }], instructions: ['/home/node/p.txt'], headlessPrompt: 'hi' });
  assert.equal(JSON.parse(r.files.get('/home/node/.hello-agent.json')!), { mcpServers: [{ name: 'supervise', url: 'http://127.0.0.1:9100/mcp' }] });
  assert.equal(r.argv, ['hello-agent', '--system-file', '/home/node/p.txt', '-p', 'hi']);
});

test.run();
