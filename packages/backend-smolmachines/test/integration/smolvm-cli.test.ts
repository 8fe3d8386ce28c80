/**
 * The argv builders against the real smolvm engine (`bash scripts/smolvm.sh` installs it), for
 * what needs no running guest: create with every option the backend uses, ls --json, status,
 * stop of a machine that never started, delete, and the errors smolvm gives for a machine that is
 * not running, not there, or there twice. Each test uses its own `--state-dir`, so nothing here
 * sees or touches anyone's machines; the dir is removed at the end.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  SMOLVM_VERSION,
  copyInArgs,
  createArgs,
  deleteArgs,
  execArgs,
  listArgs,
  parseMachineList,
  parseSmolvmError,
  smolvm,
  smolvmOk,
  startArgs,
  statusArgs,
  stopArgs,
} from '../../src/index.js';

const test = suite('smolvm engine: the verbs that need no running guest');
let stateDir = '';
const name = `bbtest-${randomBytes(3).toString('hex')}`;

test.before(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'bbtest-smolvm-'));
});
test.after(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

test(`the engine on PATH is smolvm ${SMOLVM_VERSION}`, async () => {
  const r = await smolvm(['--version']);
  assert.is(r.exitCode, 0, r.stderr);
  assert.is(r.stdout.trim(), `smolvm ${SMOLVM_VERSION}`);
});

test('create with every option, then ls --json shows it as created with its labels and command', async () => {
  const sock = path.join(stateDir, 'egress.sock');
  await smolvmOk(
    createArgs({
      name,
      stateDir,
      cpus: 1,
      memMib: 512,
      labels: { 'bot-bottle': '1', 'bot-bottle.slug': 'demo-abc12', 'bot-bottle-test': name },
      env: { BOT_BOTTLE_SOCKET_DIR: '/run/bot-bottle' },
      workdir: '/home/node/workspace',
      mountSockets: [{ hostPath: sock, guestPath: '/run/bot-bottle/egress.sock' }],
      command: ['node', '/usr/local/lib/bot-bottle/forward.mjs', '3128=egress.sock'],
    }),
    'smolvm machine create',
  );
  const list = parseMachineList(await smolvmOk(listArgs({ stateDir }), 'smolvm machine ls'));
  assert.is(list.length, 1);
  const m = list[0]!;
  assert.is(m.name, name);
  assert.is(m.state, 'created');
  assert.equal(m.labels, { 'bot-bottle': '1', 'bot-bottle.slug': 'demo-abc12', 'bot-bottle-test': name });
  // No network flag given: the machine's record says no network.
  assert.is(m.network, false);
  assert.is(m.cpus, 1);
  assert.is(m.memory_mib, 512);
  assert.equal(m.cmd, ['node', '/usr/local/lib/bot-bottle/forward.mjs', '3128=egress.sock']);
  const status = JSON.parse(await smolvmOk(statusArgs({ name, stateDir }), 'smolvm machine status')) as { name: string; state: string };
  assert.is(status.name, name);
  assert.is(status.state, 'created');
});

test('a second create of the same name: CONFIG_ERROR, in JSON on stderr', async () => {
  const r = await smolvm(createArgs({ name, stateDir }));
  assert.is.not(r.exitCode, 0);
  assert.equal(parseSmolvmError(r.stderr)?.code, 'CONFIG_ERROR');
  assert.match(parseSmolvmError(r.stderr)!.message, /already exists/);
});

test('exec and cp before start: smolvm refuses, naming the machine as not running (it does not start it)', async () => {
  const file = path.join(stateDir, 'f.txt');
  await writeFile(file, 'x\n');
  for (const args of [execArgs({ name, stateDir, argv: ['id'] }), copyInArgs({ name, stateDir, hostPath: file, guestPath: '/tmp/f.txt' })]) {
    const r = await smolvm(args);
    assert.is.not(r.exitCode, 0, args.join(' '));
    assert.match(parseSmolvmError(r.stderr)?.message ?? r.stderr, new RegExp(`machine '${name}' is not running`));
  }
  const list = parseMachineList(await smolvmOk(listArgs({ stateDir }), 'smolvm machine ls'));
  assert.is(list[0]!.state, 'created');
});

test('exec --timeout takes the duration the builder writes (a bad one is refused before anything runs)', async () => {
  const good = await smolvm(execArgs({ name, stateDir, argv: ['true'], timeoutMs: 1500 }));
  assert.match(parseSmolvmError(good.stderr)?.message ?? '', /is not running/);
  const bad = await smolvm(['machine', 'exec', '--name', name, '--state-dir', stateDir, '--timeout', 'soon', '--', 'true']);
  assert.match(bad.stderr, /invalid value 'soon' for '--timeout/);
});

test('stop of a machine that never started succeeds; start/stop take --name', async () => {
  const r = await smolvm(stopArgs({ name, stateDir, timeoutSec: 0 }));
  assert.is(r.exitCode, 0, r.stderr);
  assert.ok(startArgs({ name, stateDir }).includes('--name'));
});

test('delete --force removes it; deleting it again is NOT_FOUND', async () => {
  await smolvmOk(deleteArgs({ name, stateDir }), 'smolvm machine delete');
  assert.equal(parseMachineList(await smolvmOk(listArgs({ stateDir }), 'smolvm machine ls')), []);
  const again = await smolvm(deleteArgs({ name, stateDir }));
  assert.is.not(again.exitCode, 0);
  assert.is(parseSmolvmError(again.stderr)?.code, 'NOT_FOUND');
});

test.run();
