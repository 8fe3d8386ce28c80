/** Agents from plugins' hooks: broken plugins, invalid definitions, duplicates, and an unknown name. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { agentDefinition, buildAgentRegistry, isBottleError, type BottleError } from '../src/index.js';
import { testAgentDouble } from '../src/testing/index.js';

const test = suite('agent registry');
const plugin = (name: string) => ({ name, version: '1.0.0', type: 'core' });

function thrown(f: () => unknown) {
  try {
    f();
  } catch (e) {
    assert.ok(isBottleError(e));
    return e as BottleError;
  }
  throw new Error('did not throw');
}

test('one agent per plugin or several; by name', () => {
  const r = buildAgentRegistry([{ plugin: plugin('a'), result: testAgentDouble('one') }, { plugin: plugin('b'), result: [testAgentDouble('two'), testAgentDouble('three')] }, { plugin: plugin('c'), result: undefined }], []);
  assert.equal([...r.keys()].sort(), ['one', 'three', 'two']);
  assert.is(agentDefinition(r, 'two').packageName, 'b');
});

test('a failing hook, an invalid definition or another API version: one error naming the plugin', () => {
  assert.match(thrown(() => buildAgentRegistry([], [{ plugin: { name: 'broken' }, error: new Error('boom') }])).message, 'plugin broken failed to register its agent: boom');
  assert.match(thrown(() => buildAgentRegistry([{ plugin: plugin('odd'), result: { name: 'x' } }], [])).message, 'plugin odd@1.0.0 registered an invalid agent: apiVersion must be 1');
  const e = thrown(() => buildAgentRegistry([{ plugin: plugin('newer'), result: { ...testAgentDouble('x'), apiVersion: 2 } }], []));
  assert.match(e.suggestions[0]!, 'made for agent API version 2; this CLI speaks 1');
});

test('two plugins with one name: refused naming both', () => {
  const e = thrown(() => buildAgentRegistry([{ plugin: plugin('a'), result: testAgentDouble('same') }, { plugin: plugin('b'), result: testAgentDouble('same') }], []));
  assert.is(e.code, 'AGENT_DUPLICATE');
  assert.match(e.message, 'two plugins provide an agent named "same": a@1.0.0 and b@1.0.0');
});

test('an unknown name lists the installed agents, exit 2', () => {
  const r = buildAgentRegistry([{ plugin: plugin('a'), result: [testAgentDouble('claude'), testAgentDouble('codex')] }], []);
  const e = thrown(() => agentDefinition(r, 'aider', 'agents.demo.cli'));
  assert.equal([e.code, e.exit], ['AGENT_UNKNOWN', 2]);
  assert.is(e.message, 'no agent CLI named "aider" (from agents.demo.cli); installed: claude, codex');
});

test.run();
