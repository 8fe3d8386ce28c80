/**
 * The argv of every smolvm verb the backend uses, exactly as smolvm 1.32.2 takes it (each flag is in
 * that binary's `--help`; test/integration/smolvm-cli.test.ts runs the ones that need no KVM).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isBottleError } from '@bot-bottle/core';
import {
  copyInArgs,
  createArgs,
  deleteArgs,
  execArgs,
  listArgs,
  parseMachineList,
  parseSmolvmError,
  startArgs,
  statusArgs,
  stopArgs,
  targetCopyFileArgs,
  targetExecArgs,
} from '../src/index.js';

const M = { name: 'bot-bottle-demo-abc12' };
const HEAD = ['--error-format', 'json'];

function throwsCode(fn: () => unknown, code: string, text?: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.ok(isBottleError(e), `expected a BottleError, got ${String(e)}`);
    assert.is(e.code, code);
    if (text) assert.match(e.message, text);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

const verbs = suite('smolvm argv: one builder per verb');

verbs('create: the least is a name', () => {
  assert.equal(createArgs(M), ['machine', 'create', ...HEAD, '--name', 'bot-bottle-demo-abc12']);
});

verbs('create: every option, the workload command after --', () => {
  const argv = createArgs({
    ...M,
    stateDir: '/var/lib/bot-bottle/smolvm',
    image: '/tmp/agent.tar',
    cpus: 2,
    memMib: 1024,
    labels: { 'bot-bottle': '1', 'bot-bottle.slug': 'demo-abc12' },
    env: { BOT_BOTTLE_SOCKET_DIR: '/run/bot-bottle', A: 'x=y z' },
    workdir: '/home/node/workspace',
    mountSockets: [{ hostPath: '/run/bb/demo-abc12/egress.sock', guestPath: '/run/bot-bottle/egress.sock' }],
    command: ['node', '/usr/local/lib/bot-bottle/forward.mjs', '3128=egress.sock'],
  });
  assert.equal(argv, [
    'machine', 'create', ...HEAD, '--state-dir', '/var/lib/bot-bottle/smolvm',
    '--name', 'bot-bottle-demo-abc12',
    '--image', '/tmp/agent.tar',
    '--cpus', '2', '--mem', '1024',
    '--label', 'bot-bottle=1', '--label', 'bot-bottle.slug=demo-abc12',
    '--env', 'BOT_BOTTLE_SOCKET_DIR=/run/bot-bottle', '--env', 'A=x=y z',
    '--workdir', '/home/node/workspace',
    '--mount-socket', '/run/bb/demo-abc12/egress.sock:/run/bot-bottle/egress.sock',
    '--', 'node', '/usr/local/lib/bot-bottle/forward.mjs', '3128=egress.sock',
  ]);
});

verbs('create: no network is no flag at all (smolvm adds a NIC only when asked)', () => {
  const argv = createArgs(M);
  for (const flag of ['--net', '--net-backend', '--allow-cidr', '--allow-host', '--port', '-p']) assert.not.ok(argv.includes(flag), flag);
});

verbs('create: TSI and virtio-net with an allow-list', () => {
  assert.equal(createArgs({ ...M, network: { backend: 'tsi' } }).slice(-3), ['--net', '--net-backend', 'tsi']);
  assert.equal(createArgs({ ...M, network: { backend: 'virtio-net', allowCidrs: ['127.0.0.1/32'], allowHosts: ['example.invalid'], outboundLocalhostOnly: true } }).slice(-8), [
    '--net', '--net-backend', 'virtio-net', '--allow-cidr', '127.0.0.1/32', '--allow-host', 'example.invalid', '--outbound-localhost-only',
  ]);
});

verbs('create: a registry reference passes as it is; a relative image path becomes absolute', () => {
  assert.equal(createArgs({ ...M, image: 'alpine:3' }).slice(-2), ['--image', 'alpine:3']);
  const rel = createArgs({ ...M, image: './agent.tar' });
  assert.ok(rel.at(-1)!.startsWith('/') && rel.at(-1)!.endsWith('/agent.tar'), rel.at(-1));
});

verbs('start, stop, delete, ls, status', () => {
  assert.equal(startArgs(M), ['machine', 'start', ...HEAD, '--name', M.name]);
  assert.equal(stopArgs(M), ['machine', 'stop', ...HEAD, '--name', M.name]);
  assert.equal(stopArgs({ ...M, timeoutSec: 0 }), ['machine', 'stop', ...HEAD, '--name', M.name, '--timeout', '0']);
  assert.equal(deleteArgs(M), ['machine', 'delete', ...HEAD, '--name', M.name, '--force']);
  assert.equal(listArgs(), ['machine', 'ls', ...HEAD, '--json']);
  assert.equal(listArgs({ stateDir: '/s' }), ['machine', 'ls', ...HEAD, '--state-dir', '/s', '--json']);
  assert.equal(statusArgs(M), ['machine', 'status', ...HEAD, '--name', M.name, '--json']);
});

verbs('exec: flags before --, the command after it as it is', () => {
  assert.equal(execArgs({ ...M, argv: ['id'] }), ['machine', 'exec', ...HEAD, '--name', M.name, '--', 'id']);
  assert.equal(execArgs({ ...M, argv: ['-n', 'x y'], env: { K: 'v' }, workdir: '/w', interactive: true, tty: true, timeoutMs: 1500.5 }), [
    'machine', 'exec', ...HEAD, '--name', M.name, '--env', 'K=v', '--workdir', '/w', '--interactive', '--tty', '--timeout', '1501ms', '--', '-n', 'x y',
  ]);
});

verbs('cp: options, then the host file, then MACHINE:PATH', () => {
  assert.equal(copyInArgs({ ...M, hostPath: '/h/f', guestPath: '/g/f' }), ['machine', 'cp', ...HEAD, '/h/f', `${M.name}:/g/f`]);
  assert.equal(copyInArgs({ ...M, hostPath: '/h/f', guestPath: '/g/f', mode: 0o600, uid: 1000, gid: 1000 }), [
    'machine', 'cp', ...HEAD, '--mode', '600', '--uid', '1000', '--gid', '1000', '/h/f', `${M.name}:/g/f`,
  ]);
  assert.equal(copyInArgs({ ...M, hostPath: '/h/f', guestPath: '/g/f', mode: 0o44 }).slice(4, 6), ['--mode', '044']);
});

const refused = suite('smolvm argv: what smolvm would read differently is refused');

refused('machine names smolvm refuses, or would read as a flag', () => {
  for (const name of ['a.b', 'a:b', 'a/b', 'has space', '-lead', '', 'x'.repeat(64)]) throwsCode(() => startArgs({ name }), 'INTERNAL');
  assert.ok(startArgs({ name: 'x'.repeat(63) }));
});

refused('a host path with ":" (cp would read it as MACHINE:PATH, a download)', () => {
  throwsCode(() => copyInArgs({ ...M, hostPath: '/tmp/a:b', guestPath: '/g' }), 'HOST_IO_FAILED', /":"/);
  throwsCode(() => createArgs({ ...M, mountSockets: [{ hostPath: '/run/a:b.sock', guestPath: '/run/x.sock' }] }), 'HOST_IO_FAILED');
});

refused('relative paths (one starting with "-" would read as a flag)', () => {
  throwsCode(() => copyInArgs({ ...M, hostPath: '-rf', guestPath: '/g' }), 'INTERNAL');
  throwsCode(() => copyInArgs({ ...M, hostPath: '/h', guestPath: 'g' }), 'INTERNAL');
  throwsCode(() => execArgs({ ...M, argv: ['true'], workdir: 'w' }), 'INTERNAL');
  throwsCode(() => listArgs({ stateDir: 'state' }), 'INTERNAL');
});

refused('bad env names, empty commands, odd numbers', () => {
  throwsCode(() => execArgs({ ...M, argv: ['true'], env: { 'A=B': 'x' } }), 'INTERNAL');
  throwsCode(() => execArgs({ ...M, argv: [] }), 'INTERNAL');
  throwsCode(() => createArgs({ ...M, cpus: 0 }), 'INTERNAL');
  throwsCode(() => createArgs({ ...M, memMib: 1.5 }), 'INTERNAL');
  throwsCode(() => stopArgs({ ...M, timeoutSec: -1 }), 'INTERNAL');
  throwsCode(() => copyInArgs({ ...M, hostPath: '/h', guestPath: '/g', mode: 0o10000 }), 'INTERNAL');
  throwsCode(() => createArgs({ ...M, mountSockets: [{ hostPath: '/h.sock', guestPath: '/run/a;b.sock' }] }), 'INTERNAL');
});

const target = suite('smolvm argv: a Target call');
const HOMES = { node: '/home/node', root: '/root' };

target('as root: the command as it is, no runuser, no HOME', () => {
  assert.equal(targetExecArgs(M, ['chown', 'node:node', '/f'], {}, HOMES), ['machine', 'exec', ...HEAD, '--name', M.name, '--', 'chown', 'node:node', '/f']);
  assert.equal(targetExecArgs(M, ['id'], { user: 'root' }, HOMES).slice(-2), ['--', 'id']);
});

target('as node: runuser -u node -- with HOME and USER passed by smolvm', () => {
  assert.equal(targetExecArgs(M, ['git', 'config', '--global', 'user.name', 'Bot'], { user: 'node' }, HOMES), [
    'machine', 'exec', ...HEAD, '--name', M.name, '--env', 'HOME=/home/node', '--env', 'USER=node',
    '--', 'runuser', '-u', 'node', '--', 'git', 'config', '--global', 'user.name', 'Bot',
  ]);
});

target("the caller's env after HOME/USER, and it wins", () => {
  const argv = targetExecArgs(M, ['true'], { user: 'node', env: { HOME: '/home/node', USER: 'node', X: '1' } }, HOMES);
  assert.equal(argv.slice(6, 12), ['--env', 'HOME=/home/node', '--env', 'USER=node', '--env', 'X=1']);
  assert.equal(targetExecArgs(M, ['true'], { user: 'node', env: { HOME: '/elsewhere' } }, HOMES)[7], 'HOME=/elsewhere');
});

target('stdin, cwd and timeout', () => {
  assert.equal(targetExecArgs(M, ['cat'], { stdin: true, cwd: '/home/node/workspace', timeoutMs: 2000 }, HOMES), [
    'machine', 'exec', ...HEAD, '--name', M.name, '--workdir', '/home/node/workspace', '--interactive', '--timeout', '2000ms', '--', 'cat',
  ]);
});

target('a user with no known home is a bug, not root HOME', () => {
  throwsCode(() => targetExecArgs(M, ['true'], { user: 'nobody' }, HOMES), 'INTERNAL', /nobody/);
});

target('a copy lands as root: no --uid, --gid or --mode', () => {
  const argv = targetCopyFileArgs(M, '/stage/prompt.txt', '/home/node/.claude-bottle-prompt.txt');
  assert.equal(argv, ['machine', 'cp', ...HEAD, '/stage/prompt.txt', `${M.name}:/home/node/.claude-bottle-prompt.txt`]);
});

const output = suite('smolvm output');

output('ls --json: the fields the backend reads, the rest kept', () => {
  // Trimmed from what smolvm 1.32.2 printed for a created machine.
  const list = parseMachineList(JSON.stringify([
    { name: 't2', state: 'created', labels: { 'bot-bottle': 'probe' }, pid: null, network: false, image: 'local:873c2b9e', cpus: 2, memory_mib: 1024 },
    { name: 't3', state: 'running', pid: 4242 },
  ]));
  assert.is(list.length, 2);
  assert.equal(list[0]!.labels, { 'bot-bottle': 'probe' });
  assert.is(list[0]!.cpus, 2);
  assert.equal(list[1]!.labels, {});
  assert.is(list[1]!.pid, 4242);
  assert.equal(parseMachineList('[]'), []);
});

output('ls --json: anything else is a BACKEND_FAILED naming what was printed', () => {
  throwsCode(() => parseMachineList('No machines found\n'), 'BACKEND_FAILED', /No machines found/);
  throwsCode(() => parseMachineList('[{"state":"running"}]'), 'BACKEND_FAILED');
});

output('--error-format json: the error line among log lines', () => {
  const stderr = [
    '2026-11-30T00:00:20Z WARN VMM killed by SIGTERM',
    '{"error":{"code":"NOT_FOUND","message":"vm not found: nope"}}',
    '',
  ].join('\n');
  assert.equal(parseSmolvmError(stderr), { code: 'NOT_FOUND', message: 'vm not found: nope' });
  assert.is(parseSmolvmError('Error: plain text\n'), undefined);
  assert.is(parseSmolvmError('{not json'), undefined);
});

verbs.run();
refused.run();
target.run();
output.run();
