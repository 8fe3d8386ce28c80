#!/usr/bin/env node
// TEST DOUBLE — NOT smolvm. A stand-in for the `smolvm` CLI (1.32.2) that implements the
// `smolvm machine` verbs the smolmachines backend uses on top of a docker container, so the
// backend's logic, its provisioning and its clean-up can be tested on a machine where no microVM
// boots. It shows nothing about the VM boundary itself: a "machine" here is a container on the
// docker engine. See README.md beside this file for what it models and what it does not.
//
//   smolvm-double.mjs --version
//   smolvm-double.mjs machine create|start|stop|delete|exec|cp|ls|status [--error-format json] [--state-dir DIR] ...
//
// A machine is a record under <state dir>/smolvm-double/machines/<name>.json and, from `create`
// on, a docker container (`docker create`, started by `start`) with no network (`--network none`):
// the image's rootfs, the machine's --env and --workdir, each --mount-socket HOST:GUEST relayed by
// guest-init.mjs from the host socket (its folder bind-mounted read-only) to GUEST, and the
// workload (the command after `--`, else the image's ENTRYPOINT+CMD). Every container carries the
// label `smolvm-double=1`, and every machine label whose key starts with `bot-bottle-test` or
// `bot-bottle-checks` (core's backend checks) as it is
// (so a test's clean-up finds what it made); the machine's other labels are kept in the record and
// printed by `ls --json`, as smolvm does, but not put on the container.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

const VERSION = '1.32.2';
const HERE = path.dirname(new URL(import.meta.url).pathname);
const DOCKER = process.env.BOT_BOTTLE_DOCKER || 'docker';
const NAME = /^[A-Za-z0-9_-]+$/;
/** Machine labels put on the container as they are: the suites' run labels, for their clean-up. */
const TEST_LABEL_PREFIXES = ['bot-bottle-test', 'bot-bottle-checks'];

class SmolvmError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// ---------------------------------------------------------------------------------------------
// Arguments, the way smolvm's clap parser takes them for the verbs used here.
// ---------------------------------------------------------------------------------------------

const FLAGS = {
  create: { value: ['name', 'image', 'cpus', 'mem', 'workdir'], multi: ['label', 'env', 'mount-socket'], bool: [], network: ['net', 'net-backend', 'allow-cidr', 'allow-host', 'outbound-localhost-only', 'port', 'dns', 'network'] },
  start: { value: ['name'], multi: [], bool: [] },
  stop: { value: ['name', 'timeout'], multi: [], bool: [] },
  delete: { value: ['name'], multi: [], bool: ['force'] },
  exec: { value: ['name', 'workdir', 'timeout'], multi: ['env'], bool: ['interactive', 'tty'] },
  cp: { value: ['mode', 'uid', 'gid'], multi: [], bool: [] },
  ls: { value: [], multi: [], bool: ['json', 'verbose'] },
  status: { value: ['name'], multi: [], bool: ['json'] },
};
const SHORT = { n: 'name', e: 'env', w: 'workdir', i: 'interactive', t: 'tty', f: 'force', I: 'image', p: 'port', v: 'volume' };

function usageError(message) {
  process.stderr.write(`error: ${message}\n\nFor more information, try '--help'.\n`);
  process.exit(2);
}

function parse(verb, argv) {
  const spec = FLAGS[verb];
  const o = { errorFormat: 'text', stateDir: undefined, positional: [], rest: [], multi: {}, value: {}, bool: {} };
  for (const m of spec.multi) o.multi[m] = [];
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    if (a === '--') {
      o.rest = argv.slice(i + 1);
      break;
    }
    if (/^-[A-Za-z]+$/.test(a)) {
      const letters = a.slice(1).split('');
      if (letters.length > 1 && letters.every((l) => spec.bool.includes(SHORT[l]))) {
        for (const l of letters) o.bool[SHORT[l]] = true;
        continue;
      }
      a = `--${SHORT[letters[0]] ?? a.slice(1)}`;
      if (verb === 'exec' && letters[0] === 'n') usageError("unexpected argument '-n' found"); // exec has no -n
    }
    if (!a.startsWith('--')) {
      o.positional.push(a);
      continue;
    }
    let [key, inline] = a.slice(2).split(/=(.*)/s, 2);
    const take = () => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) usageError(`a value is required for '--${key}'`);
      return v;
    };
    if (key === 'error-format') o.errorFormat = take();
    else if (key === 'state-dir') o.stateDir = take();
    else if (spec.value.includes(key)) o.value[key] = take();
    else if (spec.multi.includes(key)) o.multi[key].push(take());
    else if (spec.bool.includes(key)) o.bool[key] = true;
    else if (spec.network?.includes(key)) throw new SmolvmError('CONFIG_ERROR', `the smolvm test double implements no guest network (--${key}); a bot-bottle machine has none`);
    else usageError(`unexpected argument '--${key}' found`);
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// State.
// ---------------------------------------------------------------------------------------------

function stateRoot(o) {
  return path.resolve(o.stateDir ?? process.env.SMOLVM_DOUBLE_HOME ?? path.join(homedir(), '.smolvm-double'));
}
function machinesDir(o) {
  return path.join(stateRoot(o), 'smolvm-double', 'machines');
}
function recordPath(o, name) {
  return path.join(machinesDir(o), `${name}.json`);
}
function containerName(o, name) {
  return `smolvm-double-${createHash('sha256').update(stateRoot(o)).digest('hex').slice(0, 8)}-${name}`;
}
function load(o, name) {
  try {
    return JSON.parse(readFileSync(recordPath(o, name), 'utf8'));
  } catch {
    return null;
  }
}
function save(o, rec) {
  mkdirSync(machinesDir(o), { recursive: true });
  writeFileSync(recordPath(o, rec.name), JSON.stringify(rec, null, 2));
}
function requireName(o) {
  const name = o.value.name;
  if (!name) usageError("the following required arguments were not provided:\n  --name <NAME>");
  return name;
}
function mustExist(o, name) {
  const rec = load(o, name);
  if (!rec) throw new SmolvmError('NOT_FOUND', `vm not found: ${name}`);
  return rec;
}

function docker(args, opts = {}) {
  const r = spawnSync(DOCKER, args, { encoding: 'utf8', ...opts });
  if (r.error) throw new SmolvmError('SMOLVM_ERROR', `the smolvm double cannot run docker: ${r.error.message}`);
  return r;
}
function dockerOk(args, what, opts) {
  const r = docker(args, opts);
  if (r.status !== 0) throw new SmolvmError('SMOLVM_ERROR', `${what}: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
  return r.stdout;
}

/** The record's state brought in line with its container (a container that died is a stopped machine). */
function refresh(o, rec) {
  if (rec.state !== 'running') return rec;
  const r = docker(['inspect', '--format', '{{.State.Running}}', rec.container]);
  if (r.stdout.trim() !== 'true') {
    rec.state = 'stopped';
    rec.pid = null;
    save(o, rec);
  }
  return rec;
}

function notRunning(name) {
  return new SmolvmError('SMOLVM_ERROR', `agent operation failed: connect: machine '${name}' is not running. Start it with 'smolvm machine start --name ${name}'; if a start is already in progress, retry once it finishes.`);
}

// ---------------------------------------------------------------------------------------------
// Images: a `docker save` archive (as bot-bottle hands smolvm its agent image) or a local image.
// ---------------------------------------------------------------------------------------------

function resolveImage(image) {
  const isPath = image.startsWith('/') || image.startsWith('./') || image.startsWith('../') || /\.(tar|tar\.gz|tgz)$/.test(image);
  if (!isPath) {
    if (docker(['image', 'inspect', image]).status !== 0) throw new SmolvmError('CONFIG_ERROR', `the smolvm test double pulls nothing: image ${image} is not in the docker engine`);
    return { ref: image, docker: image };
  }
  const file = path.resolve(image);
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    throw new SmolvmError('CONFIG_ERROR', `config operation failed: --image: cannot read archive ${file}: No such file or directory (os error 2)`);
  }
  if (st.isDirectory()) throw new SmolvmError('CONFIG_ERROR', 'the smolvm test double does not implement rootfs directories as images');
  // smolvm hashes the archive's content; the double names it by path, size and time (same shape).
  const ref = `local:${createHash('sha256').update(`${file}\0${st.size}\0${st.mtimeMs}`).digest('hex')}`;
  const manifest = spawnSync('tar', ['-xOf', file, 'manifest.json'], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  let tag;
  try {
    tag = JSON.parse(manifest.stdout)[0]?.RepoTags?.[0] ?? null;
  } catch {
    tag = null;
  }
  if (tag && docker(['image', 'inspect', tag]).status === 0) return { ref, docker: tag };
  const loaded = dockerOk(['load', '-i', file], 'loading the image archive');
  const id = /Loaded image(?: ID)?: (\S+)/.exec(loaded)?.[1];
  if (!id) throw new SmolvmError('CONFIG_ERROR', `config operation failed: --image: ${file} is not an image archive`);
  return { ref, docker: id };
}

// ---------------------------------------------------------------------------------------------
// Verbs.
// ---------------------------------------------------------------------------------------------

function recordOut(rec) {
  // The fields of smolvm 1.32.2's `machine ls --json` record, with the double's values.
  return {
    block_io: 'sync',
    branchable: false,
    branchpoint_held: false,
    cmd: rec.cmd,
    cpus: rec.cpus,
    created_at: rec.created_at,
    cuda: false,
    cuda_branch_pool_size: null,
    cuda_fork_pool_size: null,
    cuda_vram_limit_mib: null,
    detached: false,
    disk_durability: 'full',
    disks: [],
    entrypoint: [],
    ephemeral: false,
    forkable: false,
    forkpoint_held: false,
    gpu: false,
    gpu_vram_mib: null,
    health_cmd: null,
    health_interval_secs: null,
    health_retries: null,
    health_startup_grace_secs: null,
    health_timeout_secs: null,
    image: rec.image,
    labels: rec.labels,
    memory_mib: rec.memory_mib,
    mounts: 0,
    name: rec.name,
    network: false,
    overlay_gb: null,
    parent_machine: null,
    pid: rec.pid,
    ports: 0,
    restart_count: 0,
    restart_max_retries: 0,
    restart_policy: 'never',
    state: rec.state,
    state_reason: null,
    storage_gb: null,
  };
}

function create(o) {
  const name = o.value.name;
  if (!name) usageError('the smolvm double needs --name');
  const bad = [...name].find((c) => !NAME.test(c));
  if (bad !== undefined) throw new SmolvmError('CONFIG_ERROR', `config operation failed: create machine: machine name contains invalid character: '${bad}'`);
  if (load(o, name)) throw new SmolvmError('CONFIG_ERROR', `config operation failed: create machine: machine '${name}' already exists or is being created`);
  const labels = {};
  for (const l of o.multi.label) {
    const at = l.indexOf('=');
    if (at < 1) throw new SmolvmError('CONFIG_ERROR', `config operation failed: label: expected KEY=VALUE, got '${l}'`);
    labels[l.slice(0, at)] = l.slice(at + 1);
  }
  const env = [];
  for (const e of o.multi.env) {
    if (!e.includes('=')) throw new SmolvmError('CONFIG_ERROR', `config operation failed: env: expected KEY=VALUE, got '${e}'`);
    env.push(e);
  }
  const sockets = o.multi['mount-socket'].map((spec) => {
    const at = spec.indexOf(':');
    const host = at < 0 ? '' : spec.slice(0, at);
    const guest = at < 0 ? '' : spec.slice(at + 1);
    if (!host || !guest) throw new SmolvmError('CONFIG_ERROR', `config operation failed: mount-socket: expected HOST_PATH:GUEST_PATH, got '${spec}'`);
    if (!guest.startsWith('/')) throw new SmolvmError('CONFIG_ERROR', `config operation failed: publish-socket: guest path '${guest}' must be absolute`);
    if (/[;|]/.test(guest)) throw new SmolvmError('CONFIG_ERROR', `config operation failed: publish-socket: guest path '${guest}' contains an unsupported character (';' or '|')`);
    return { host, guest };
  });
  if (new Set(sockets.map((s) => s.guest)).size !== sockets.length) throw new SmolvmError('CONFIG_ERROR', 'config operation failed: mount-socket: a guest path is mounted more than once');
  const cpus = Number(o.value.cpus ?? 4);
  const mem = Number(o.value.mem ?? 8192);
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 255) usageError(`invalid value '${o.value.cpus}' for '--cpus <N>'`);
  if (!Number.isInteger(mem) || mem < 1) usageError(`invalid value '${o.value.mem}' for '--mem <MiB>'`);

  const image = o.value.image ? resolveImage(o.value.image) : null;
  if (!image) throw new SmolvmError('CONFIG_ERROR', "the smolvm test double needs --image (it has no bare agent rootfs to boot)");
  const info = JSON.parse(dockerOk(['image', 'inspect', '--format', '{{json .Config}}', image.docker], 'inspecting the image'));
  // As smolvm: the machine's own command wins; without one, the image's ENTRYPOINT+CMD.
  const workload = o.rest.length ? o.rest : [...(info.Entrypoint ?? []), ...(info.Cmd ?? [])];

  const container = containerName(o, name);
  const hostDirs = [...new Set(sockets.map((s) => path.dirname(s.host)))];
  const relays = sockets.map((s) => ({ host: `/run/smolvm-double/host/${hostDirs.indexOf(path.dirname(s.host))}/${path.basename(s.host)}`, guest: s.guest }));
  const testLabels = Object.entries(labels).filter(([k]) => TEST_LABEL_PREFIXES.some((p) => k.startsWith(p)));
  const spec = Buffer.from(JSON.stringify({ sockets: relays, workload })).toString('base64');
  dockerOk(
    [
      'create', '--name', container, '--init', '--network', 'none',
      '--label', 'smolvm-double=1', '--label', `smolvm-double.machine=${name}`,
      ...testLabels.flatMap(([k, v]) => ['--label', `${k}=${v}`]),
      '--memory', `${mem}m`,
      ...env.flatMap((e) => ['-e', e]),
      ...(o.value.workdir ? ['-w', o.value.workdir] : []),
      '-v', `${path.join(HERE, 'guest-init.mjs')}:/run/smolvm-double/guest-init.mjs:ro`,
      ...hostDirs.flatMap((d, i) => ['-v', `${d}:/run/smolvm-double/host/${i}:ro`]),
      '--entrypoint', 'node',
      image.docker, '/run/smolvm-double/guest-init.mjs', spec,
    ],
    'create machine',
  );
  save(o, { name, state: 'created', labels, env, workdir: o.value.workdir ?? null, image: image.ref, dockerImage: image.docker, cmd: o.rest, cpus, memory_mib: mem, sockets, container, pid: null, created_at: Math.floor(Date.now() / 1000) });
  process.stdout.write(`Created machine: ${name}\n  CPUs: ${cpus}, Memory: ${mem} MiB\n\nUse 'smolvm machine start --name ${name}' to start the machine\n`);
}

async function start(o) {
  const name = requireName(o);
  const rec = refresh(o, mustExist(o, name));
  if (rec.state === 'running') {
    process.stdout.write(`Machine '${name}' is already running\n`);
    return;
  }
  dockerOk(['start', rec.container], `agent operation failed: start machine`);
  const deadline = Date.now() + 30_000;
  while (docker(['exec', rec.container, 'test', '-e', '/run/smolvm-double/started']).status !== 0) {
    if (docker(['inspect', '--format', '{{.State.Running}}', rec.container]).stdout.trim() !== 'true' || Date.now() > deadline) {
      const logs = docker(['logs', '--tail', '5', rec.container]);
      throw new SmolvmError('SMOLVM_ERROR', `agent operation failed: start machine: the double's guest did not come up: ${(logs.stderr + logs.stdout).trim()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  rec.state = 'running';
  rec.pid = Number(docker(['inspect', '--format', '{{.State.Pid}}', rec.container]).stdout.trim()) || null;
  save(o, rec);
  process.stdout.write(`Started machine: ${name}\n`);
}

function stop(o) {
  const name = requireName(o);
  const rec = refresh(o, mustExist(o, name));
  if (rec.state !== 'running') {
    process.stdout.write(`Machine '${name}' is not running (state: ${rec.state})\n`);
    return;
  }
  docker(['stop', '-t', String(Number(o.value.timeout ?? 10)), rec.container]);
  rec.state = 'stopped';
  rec.pid = null;
  save(o, rec);
  process.stdout.write(`Stopped machine: ${name}\n`);
}

function del(o) {
  const name = requireName(o);
  const rec = mustExist(o, name);
  if (!o.bool.force) throw new SmolvmError('CONFIG_ERROR', `config operation failed: delete machine: refusing to delete '${name}' without confirmation (--force)`);
  docker(['rm', '-f', '-v', rec.container]);
  rmSync(recordPath(o, name), { force: true });
  process.stdout.write(`Deleted machine: ${name}\n`);
}

function parseDuration(text) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text ?? '');
  if (!m) usageError(`invalid value '${text}' for '--timeout <DURATION>'`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'];
}

function exec(o) {
  const name = requireName(o);
  const command = o.rest;
  if (!command.length) usageError('the following required arguments were not provided:\n  <COMMAND>...');
  const rec = refresh(o, mustExist(o, name));
  if (rec.state !== 'running') throw notRunning(name);
  for (const e of o.multi.env) if (!e.includes('=')) throw new SmolvmError('CONFIG_ERROR', `config operation failed: env: expected KEY=VALUE, got '${e}'`);
  const timeoutMs = o.value.timeout !== undefined ? parseDuration(o.value.timeout) : null;
  // smolvm kills a timed-out command in the guest and exits 124; so does coreutils' timeout (TERM,
  // then KILL a second later).
  const argv = timeoutMs !== null ? ['timeout', '-k', '1', `${timeoutMs / 1000}`, ...command] : command;
  const args = ['exec', ...(o.bool.interactive ? ['-i'] : []), ...(o.bool.tty ? ['-t'] : []), ...(o.value.workdir ? ['-w', o.value.workdir] : []), ...o.multi.env.flatMap((e) => ['-e', e]), rec.container, ...argv];
  // Without --interactive the command's stdin is closed, as smolvm's is.
  const child = spawn(DOCKER, args, { stdio: [o.bool.interactive ? 'inherit' : 'ignore', 'inherit', 'inherit'] });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('close', (code, sig) => process.exit(code ?? (sig ? 128 + 9 : 1)));
}

function cp(o) {
  const [src, dst] = o.positional;
  if (!src || !dst) usageError('the following required arguments were not provided:\n  <SRC>\n  <DST>');
  if (src.includes(':')) throw new SmolvmError('CONFIG_ERROR', 'the smolvm test double implements uploads only (host -> machine)');
  const at = dst.indexOf(':');
  if (at < 0) throw new SmolvmError('CONFIG_ERROR', 'config operation failed: cp: one of SRC or DST must use machine:path syntax (e.g., myvm:/workspace/file)');
  const name = dst.slice(0, at);
  const guestPath = dst.slice(at + 1);
  const rec = refresh(o, mustExist(o, name));
  if (rec.state !== 'running') throw notRunning(name);
  let data;
  try {
    data = readFileSync(src);
  } catch (e) {
    throw new SmolvmError('SMOLVM_ERROR', `agent operation failed: read local file: ${src}: ${e.code === 'ENOENT' ? 'No such file or directory (os error 2)' : e.message}`);
  }
  if (o.value.mode !== undefined && !/^(0o)?[0-7]{1,4}$/.test(o.value.mode)) throw new SmolvmError('CONFIG_ERROR', `config operation failed: cp: invalid octal mode '${o.value.mode}' (expected e.g. 644)`);
  // As smolvm's agent: parents made, a staging file renamed over the target (never onto a folder),
  // as root unless --uid/--gid, the mode given or the umask's.
  const script = 'set -e; mkdir -p -- "$(dirname -- "$1")"; t="$1.smolvm-double-$$"; cat > "$t"; if [ -n "$2" ]; then chmod "$2" "$t"; fi; if [ -n "$3$4" ]; then chown "${3:-0}:${4:-0}" "$t"; fi; mv -T -f -- "$t" "$1" || { rm -f -- "$t"; exit 1; }';
  const mode = o.value.mode?.replace(/^0o/, '') ?? '';
  const r = docker(['exec', '-i', '-u', '0', rec.container, 'sh', '-c', script, 'sh', guestPath, mode, o.value.uid ?? '', o.value.gid ?? ''], { input: data, encoding: 'buffer' });
  if (r.status !== 0) throw new SmolvmError('FILE_IO_FAILED', `agent operation failed: write file: failed to write ${guestPath} in the workload container: ${String(r.stderr).trim()}`);
}

function ls(o) {
  const dir = machinesDir(o);
  const recs = existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.json')).map((n) => load(o, n.slice(0, -5))).filter(Boolean).map((r) => refresh(o, r)) : [];
  if (o.bool.json) {
    process.stdout.write(`${JSON.stringify(recs.map(recordOut), null, 2)}\n`);
    return;
  }
  if (!recs.length) process.stdout.write('No machines found\n');
  for (const r of recs) process.stdout.write(`${r.name}\t${r.state}\n`);
}

function status(o) {
  const name = o.value.name ?? 'default';
  const rec = load(o, name);
  if (!rec) throw new SmolvmError('CONFIG_ERROR', `config operation failed: machine status: machine '${name}' not found`);
  refresh(o, rec);
  if (o.bool.json) process.stdout.write(`${JSON.stringify(recordOut(rec), null, 2)}\n`);
  else process.stdout.write(`Machine '${name}': ${rec.state}\n`);
}

// ---------------------------------------------------------------------------------------------

const VERBS = { create, start, stop, delete: del, exec, cp, ls, status };
const argv = process.argv.slice(2);
if (argv[0] === '--version' || argv[0] === '-V') {
  process.stdout.write(`smolvm ${VERSION} (test double, not smolvm)\n`);
  process.exit(0);
}
if (argv[0] !== 'machine' || !VERBS[argv[1]]) usageError(`the smolvm test double implements only \`machine ${Object.keys(VERBS).join('|')}\` (got ${argv.slice(0, 2).join(' ') || 'nothing'})`);
let opts = { errorFormat: argv.includes('--error-format') ? argv[argv.indexOf('--error-format') + 1] : 'text' };
try {
  opts = parse(argv[1], argv.slice(2));
  await VERBS[argv[1]](opts);
} catch (e) {
  if (!(e instanceof SmolvmError)) throw e;
  if (opts.errorFormat === 'json') process.stderr.write(`${JSON.stringify({ error: { code: e.code, message: e.message } })}\n`);
  else process.stderr.write(`Error: ${e.message}\n`);
  process.exit(1);
}
