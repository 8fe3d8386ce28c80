/**
 * The smolmachines backend's own decisions, without an engine: the machine a plan becomes (no
 * network, each bundle socket at the forwarder's path, the forwarder as the workload, placeholders
 * for secrets), the attach argv, where the sockets' host folder goes, the registration, the
 * image archive's name, and a PVM-only host refusing a launch before anything exists.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BUNDLE_SERVICES, SECRET_PLACEHOLDER, isBottleError, makePlan, validateManifest, type BottlePlan } from '@bot-bottle/core';
import { SOCKET_DIR } from '@bot-bottle/backend-kit';
import definition, { definition as named } from '../src/register.js';
import {
  FORWARDER_PATH,
  SOCKET_PATH_MAX,
  SmolmachinesBackend,
  archiveName,
  attachArgs,
  createArgs,
  machineName,
  machineOptions,
  mountedSockets,
  newSocketFolder,
  socketFolderPlace,
  type HostProbe,
} from '../src/index.js';

const dirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'bbtest-smolvm-unit-'));
  dirs.push(d);
  return d;
}

async function planIn(dir: string, bottle: object = {}, env: NodeJS.ProcessEnv = {}): Promise<BottlePlan> {
  const loaded = await validateManifest({ bottles: { dev: bottle }, agents: { demo: { bottle: 'dev', provisioners: [] } } }, '<test>', dir);
  return makePlan({ manifest: loaded, agentName: 'demo', copyCwd: false, userCwd: dir }, { env: { XDG_STATE_HOME: path.join(dir, 'state'), ...env }, backend: 'smolmachines', seed: 'x' });
}

const cleanup = async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
};
const machine = suite('smolmachines backend: the machine a plan becomes');
machine.after(cleanup);

machine('no network flag at all, each bundle socket mounted at the forwarder\'s path, the forwarder with core\'s table as the workload', async () => {
  const dir = await tmp();
  const plan = await planIn(dir);
  const folder = '/run/bot-bottle-smolvm/abc/def';
  const o = machineOptions(plan, { ref: { name: machineName(plan.slug) }, image: '/cache/agent.tar', labels: { 'bot-bottle': '1' }, limits: plan.limits, socketFolder: folder });
  const argv = createArgs(o);
  for (const flag of ['--net', '--net-backend', '--allow-cidr', '--allow-host', '--outbound-localhost-only', '--port', '-p', '--network', '--dns', '--volume', '-v']) assert.not.ok(argv.includes(flag), flag);
  assert.equal(
    o.mountSockets,
    Object.values(BUNDLE_SERVICES).map((s) => ({ hostPath: `${folder}/${s.socket}`, guestPath: `${SOCKET_DIR}/${s.socket}` })),
  );
  assert.equal(o.command, ['node', FORWARDER_PATH, '3128=egress.sock', '9418=git.sock', '9100=supervise.sock']);
  assert.is(FORWARDER_PATH, '/usr/local/lib/bot-bottle/forward.mjs');
  assert.is(o.workdir, '/home/node/workspace');
  assert.is(o.labels!['bot-bottle.role'], 'bottle');
  assert.is(o.image, '/cache/agent.tar');
  assert.is(argv.at(-6), '--');
});

machine('the limits as vCPUs and MiB (at least 1 and 256)', async () => {
  const plan = await planIn(await tmp(), { limits: { memory: '2g', cpus: 1.5 } });
  const o = machineOptions(plan, { ref: { name: 'm' }, image: '/a.tar', labels: {}, limits: plan.limits, socketFolder: '/s' });
  assert.is(o.memMib, 2048);
  assert.is(o.cpus, Math.round(plan.limits.bottle.cpus));
  const tiny = { ...plan.limits, bottle: { ...plan.limits.bottle, cpus: 0.25, memoryBytes: 1024 } };
  const t = machineOptions(plan, { ref: { name: 'm' }, image: '/a.tar', labels: {}, limits: tiny, socketFolder: '/s' });
  assert.equal([t.cpus, t.memMib], [1, 256]);
});

machine('the machine\'s env: the agent env with the proxy on the guest\'s loopback and placeholders, never a routed secret', async () => {
  const dir = await tmp();
  const plan = await planIn(dir, { egress: { routes: [{ host: 'api.example.test', auth: { header: 'x-api-key', env: 'BBTEST_KEY' } }] } }, { BBTEST_KEY: 'the-real-secret-value' });
  const o = machineOptions(plan, { ref: { name: 'm' }, image: '/a.tar', labels: {}, limits: plan.limits, socketFolder: '/s' });
  assert.is(o.env!.BBTEST_KEY, SECRET_PLACEHOLDER);
  assert.is(o.env!.HTTPS_PROXY, 'http://127.0.0.1:3128');
  assert.is(o.env!.HOME, '/home/node');
  assert.not.ok(createArgs(o).join('\n').includes('the-real-secret-value'));
});

machine('attach: exec --interactive [--tty] as node by runuser, HOME and USER by --env, in the workspace', () => {
  const ref = { name: 'bot-bottle-demo-abc12', stateDir: '/s' };
  assert.equal(attachArgs(ref, ['claude', '--help'], { tty: true, env: { TERM: 'xterm' }, workdir: '/home/node/workspace', stdin: true }), [
    'machine', 'exec', '--error-format', 'json', '--state-dir', '/s', '--name', 'bot-bottle-demo-abc12',
    '--env', 'HOME=/home/node', '--env', 'USER=node', '--env', 'TERM=xterm',
    '--workdir', '/home/node/workspace', '--interactive', '--tty',
    '--', 'runuser', '-u', 'node', '--', 'claude', '--help',
  ]);
  const noInput = attachArgs(ref, ['true'], { tty: false, env: {}, workdir: '/w', stdin: false });
  assert.not.ok(noInput.includes('--interactive'));
  assert.not.ok(noInput.includes('--tty'));
});

const sockets = suite('smolmachines backend: where the bundle\'s sockets live on the host');

sockets('as root: under /run/bot-bottle-smolvm, one folder per state root, a random name per bottle', () => {
  const a = socketFolderPlace('/root/.local/state/bot-bottle/bottles', {}, 0);
  const b = socketFolderPlace('/tmp/other/bot-bottle/bottles', {}, 0);
  assert.ok(a.forRoot);
  assert.match(a.parent!, /^\/run\/bot-bottle-smolvm\/[0-9a-f]{12}$/);
  assert.is.not(a.parent, b.parent);
  const f1 = newSocketFolder(a, '/x');
  const f2 = newSocketFolder(a, '/x');
  assert.is(path.dirname(f1), a.parent);
  assert.is.not(f1, f2);
  assert.match(path.basename(f1), /^[0-9a-f]{20}$/);
});

sockets('as another user: under XDG_RUNTIME_DIR; without it, in the state dir', () => {
  const p = socketFolderPlace('/home/u/.local/state/bot-bottle/bottles', { XDG_RUNTIME_DIR: '/run/user/1000' }, 1000);
  assert.equal([p.forRoot, path.dirname(p.parent!)], [false, '/run/user/1000/bot-bottle-smolvm']);
  const none = socketFolderPlace('/home/u/.local/state/bot-bottle/bottles', {}, 1000);
  assert.is(none.parent, null);
  assert.is(newSocketFolder(none, '/home/u/.local/state/bot-bottle/bottles/demo-abc12'), '/home/u/.local/state/bot-bottle/bottles/demo-abc12/sockets');
});

sockets('a socket path longer than a unix socket may have is refused with a fix, before anything exists', () => {
  const none = socketFolderPlace('/x', {}, 1000);
  const deep = `/home/someone/${'very-long-folder-name/'.repeat(4)}state/bot-bottle/bottles/an-agent-with-a-long-name-abc12`;
  try {
    newSocketFolder(none, deep);
    assert.unreachable('refused');
  } catch (e) {
    assert.ok(isBottleError(e), String(e));
    assert.match(e.message, `longer than the ${SOCKET_PATH_MAX} bytes`);
    assert.match(e.suggestions[0]!, 'XDG_RUNTIME_DIR');
  }
  for (const s of mountedSockets('/run/bot-bottle-smolvm/0123456789ab/0123456789abcdef0123')) assert.ok(s.hostPath.length <= SOCKET_PATH_MAX);
});

const misc = suite('smolmachines backend: registration, archives, a host where no guest boots');
misc.after(cleanup);

misc('bottle:backends hands the CLI {name, description, create(env)}', async () => {
  const d = await definition();
  assert.is(d, named);
  assert.is(d.name, 'smolmachines');
  assert.is(d.description, 'a smolvm microVM per bottle (its own kernel); needs hardware KVM');
  const b = d.create({ BOT_BOTTLE_SMOLVM: '/opt/smolvm' });
  assert.ok(b instanceof SmolmachinesBackend);
  assert.is(b.name, 'smolmachines');
  assert.is((b as SmolmachinesBackend).cli.bin, '/opt/smolvm');
});

misc('the image archive is named by the image reference', () => {
  assert.is(archiveName('bot-bottle-agent:f3fb08c673c0'), 'bot-bottle-agent_f3fb08c673c0.tar');
  assert.is(archiveName('registry.example:5000/team/agent:1'), 'registry.example_5000_team_agent_1.tar');
});

misc('a PVM-only host: launch refuses before it writes or runs anything (not even smolvm or docker)', async () => {
  const dir = await tmp();
  const pvm: HostProbe = { platform: 'linux', arch: 'x64', kvm: { present: true, openable: true }, modules: { kvm: true, kvmIntel: false, kvmAmd: false, kvmPvm: true }, cpuFlags: { vmx: false, svm: false, hypervisor: true } };
  const env = { XDG_STATE_HOME: path.join(dir, 'state'), BOT_BOTTLE_SMOLVM: path.join(dir, 'no-such-smolvm'), PATH: '/nonexistent' };
  const backend = new SmolmachinesBackend({ env, hostProbe: async () => pvm });
  const plan = await planIn(dir);
  const e = await backend.launch(plan, { progress: () => undefined }).then(() => null, (x: unknown) => x);
  assert.ok(isBottleError(e), String(e));
  assert.is(e.code, 'BACKEND_UNAVAILABLE');
  assert.match(e.message, /^no smolvm guest can boot on this machine: \/dev\/kvm is PVM only/);
  assert.equal(await readdir(dir), [], 'nothing written');
});

misc('a bottle with its own "image": refused before anything, never silently booted as the default image', async () => {
  const dir = await tmp();
  const kvm: HostProbe = { platform: 'linux', arch: 'x64', kvm: { present: true, openable: true }, modules: { kvm: true, kvmIntel: true, kvmAmd: false, kvmPvm: false }, cpuFlags: { vmx: true, svm: false, hypervisor: false } };
  const env = { XDG_STATE_HOME: path.join(dir, 'state'), BOT_BOTTLE_SMOLVM: path.join(dir, 'no-such-smolvm'), PATH: '/nonexistent' };
  const backend = new SmolmachinesBackend({ env, hostProbe: async () => kvm });
  const plan = await planIn(dir, { image: 'python:3.12-bookworm' });
  const before = await readdir(dir);
  const e = await backend.launch(plan, { progress: () => undefined }).then(() => null, (x: unknown) => x);
  assert.ok(isBottleError(e), String(e));
  assert.is(e.code, 'BACKEND_UNAVAILABLE');
  assert.is(e.exit, 2);
  assert.match(e.message, "does not run a bottle's own image yet (bottles.dev.image)");
  assert.equal(await readdir(dir), before, 'nothing written');
});

machine.run();
sockets.run();
misc.run();
