/** Port of the reference's TestProvisionSupervise, plus the warning text and the endpoint in use. */
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

test('calls claude mcp add when supervise is enabled', async () => {
  const { target, warnings } = await provisionForTest(supervise, { supervise: true }, { endpoints: { ...ENDPOINTS, superviseUrl: 'http://127.0.0.1:9100/' } });
  assert.is(target.calls.length, 1);
  // The reference's `runuser -u node -- env HOME=/home/node` prefix is the exec option
  // {user: 'node', env: {HOME, USER}} here; a backend without a native user switch adds the prefix.
  assert.equal(target.calls[0], {
    kind: 'exec',
    argv: ['claude', 'mcp', 'add', '--scope', 'user', '--transport', 'http', 'supervise', 'http://127.0.0.1:9100/'],
    options: { user: 'node', env: { HOME: '/home/node', USER: 'node' } },
  });
  assert.equal(warnings, []);
});

test('the URL is the agent-side endpoint the backend found, not a fixed one', async () => {
  const { target } = await provisionForTest(supervise, { supervise: true }, { endpoints: { ...ENDPOINTS, superviseUrl: 'http://127.0.0.1:40123/mcp' } });
  assert.equal(target.execs[0]!.argv.at(-1), 'http://127.0.0.1:40123/mcp');
});

test('a non-zero exit warns but does not throw', async () => {
  const { result, target, warnings } = await provisionForTest(supervise, { supervise: true }, { respond: () => ({ exitCode: 1, stdout: '', stderr: 'boom\n' }) });
  assert.is(result, undefined);
  assert.is(target.calls.length, 1);
  assert.is(warnings.length, 1);
  assert.match(warnings[0]!, 'exit 1: boom');
  assert.match(warnings[0]!, 'http://127.0.0.1:9100/');
  assert.match(warnings[0]!, 'without the supervise tools');
});

test('a failing exec of the backend itself is not swallowed', async () => {
  const respond = () => {
    throw new Error('the bottle is gone');
  };
  try {
    await provisionForTest(supervise, { supervise: true }, { respond });
    assert.unreachable('should throw');
  } catch (e) {
    assert.instance(e, Error);
    assert.is((e as Error).message, 'the bottle is gone');
  }
});

test.run();
