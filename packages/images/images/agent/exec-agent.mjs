// The bottle's exec agent: started as root by one `docker exec -i` per launch, it runs the
// commands and copies the host asks for, so that provisioning a bottle costs one docker process
// instead of one per step. It speaks JSON lines on stdin/stdout (binary data in base64); it exits
// when its stdin closes (the host went away or is done). It opens nothing but its own stdio.
//
// host -> agent                                             agent -> host
//   {t:"exec", id, argv, user?, env?, cwd?, stdin:bool}        {t:"ready"}
//   {t:"copy", id, path, name, kind:"file"|"dir", mode}        {t:"out", id, fd:1|2, data}
//   {t:"in", id, data}   {t:"end", id}   {t:"kill", id}        {t:"exit", id, code, error?}
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, createWriteStream, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

const jobs = new Map();

function send(frame) {
  process.stdout.write(`${JSON.stringify(frame)}\n`);
}

/** uid, gid and home of a user name or numeric id, from the guest's own /etc/passwd. */
function lookupUser(user) {
  const [name, group] = String(user).split(':');
  const entry = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((l) => l.split(':'))
    .find((f) => f[0] === name || f[2] === name);
  if (!entry && !/^\d+$/.test(name)) throw new Error(`unable to find user ${name}: no matching entries in passwd file`);
  const uid = entry ? Number(entry[2]) : Number(name);
  let gid = entry ? Number(entry[3]) : uid;
  if (group !== undefined) {
    const g = readFileSync('/etc/group', 'utf8').split('\n').map((l) => l.split(':')).find((f) => f[0] === group || f[2] === group);
    if (!g && !/^\d+$/.test(group)) throw new Error(`unable to find group ${group}: no matching entries in group file`);
    gid = g ? Number(g[2]) : Number(group);
  }
  return { uid, gid, home: entry?.[5] || '/' };
}

function finish(id, code, error) {
  if (!jobs.has(id)) return;
  jobs.delete(id);
  send(error ? { t: 'exit', id, code, error } : { t: 'exit', id, code });
}

function startExec(f) {
  let spawnOptions;
  try {
    const who = lookupUser(f.user || String(process.getuid()));
    const self = lookupUser(String(process.getuid()));
    // As docker exec: HOME from the container's env when it sets one (docker gave the agent its
    // own passwd home only when it did not), else the user's passwd home.
    const containerHome = process.env.HOME && process.env.HOME !== self.home ? process.env.HOME : undefined;
    spawnOptions = {
      uid: who.uid,
      gid: who.gid,
      cwd: f.cwd || process.cwd(),
      // As `docker exec -u USER` does: the container's env, with HOME for that user.
      env: { ...process.env, HOME: containerHome ?? who.home, ...(f.env || {}) },
      stdio: [f.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    };
  } catch (e) {
    send({ t: 'out', id: f.id, fd: 2, data: Buffer.from(`${e.message}\n`).toString('base64') });
    return refuse(f.id, 126);
  }
  const child = spawn(f.argv[0], f.argv.slice(1), spawnOptions);
  const job = { child, input: child.stdin };
  jobs.set(f.id, job);
  child.stdin?.on('error', () => undefined); // a command that exits without reading its stdin
  for (const [fd, stream] of [[1, child.stdout], [2, child.stderr]]) {
    stream.on('data', (b) => send({ t: 'out', id: f.id, fd, data: b.toString('base64') }));
  }
  child.on('error', (e) => {
    // As docker exec reports a command it cannot start: 126 (not executable) or 127 (not found).
    send({ t: 'out', id: f.id, fd: 2, data: Buffer.from(`exec: "${f.argv[0]}": ${e.code === 'ENOENT' ? 'executable file not found in $PATH' : e.message}\n`).toString('base64') });
    finish(f.id, e.code === 'ENOENT' ? 127 : 126);
  });
  child.on('close', (code, signal) => finish(f.id, code ?? 128 + (signal ? (osSignals[signal] ?? 9) : 0)));
}

const osSignals = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGPIPE: 13 };

/** Ends a request that failed before it started anything. */
function refuse(id, code, message) {
  jobs.set(id, {});
  finish(id, code, message);
}

/** A copy's last step, as docker cp leaves it: root's, with the host's mode. */
function settle(id, dest, mode) {
  try {
    chmodSync(dest, mode);
    chownSync(dest, 0, 0);
    finish(id, 0);
  } catch (e) {
    finish(id, 1, e.message);
  }
}

/**
 * A copy lands the way `docker cp` lands it: into an existing directory under its own name,
 * otherwise at the path itself; owned by root, with the mode it had on the host.
 */
function startCopy(f) {
  let dest = f.path;
  try {
    if (statSync(f.path, { throwIfNoEntry: false })?.isDirectory()) dest = path.join(f.path, f.name);
    // As docker cp: the directory it lands in must exist.
    if (!statSync(path.dirname(dest), { throwIfNoEntry: false })?.isDirectory()) throw new Error(`Could not find the file ${path.dirname(dest)} in the bottle`);
    if (f.kind === 'dir') mkdirSync(dest, { recursive: true, mode: 0o700 });
  } catch (e) {
    return refuse(f.id, 1, e.message);
  }
  if (f.kind === 'file') {
    const out = createWriteStream(dest, { mode: f.mode });
    jobs.set(f.id, { input: out });
    out.on('error', (e) => finish(f.id, 1, e.message));
    out.on('finish', () => settle(f.id, dest, f.mode));
    return;
  }
  const tar = spawn('tar', ['-x', '-f', '-', '--no-same-owner', '-C', dest], { stdio: ['pipe', 'ignore', 'pipe'] });
  jobs.set(f.id, { child: tar, input: tar.stdin });
  let err = '';
  tar.stdin.on('error', () => undefined);
  tar.stderr.on('data', (b) => (err += b));
  tar.on('error', (e) => finish(f.id, 1, `tar: ${e.message}`));
  tar.on('close', (code) => (code === 0 ? settle(f.id, dest, f.mode) : finish(f.id, 1, err.trim() || `tar exited ${code}`)));
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  if (!line) return;
  const f = JSON.parse(line);
  const job = jobs.get(f.id);
  switch (f.t) {
    case 'exec':
      return startExec(f);
    case 'copy':
      return startCopy(f);
    case 'in':
      // Back-pressure: stop reading frames until the command has taken this chunk.
      if (job?.input && !job.input.write(Buffer.from(f.data, 'base64'))) {
        lines.pause();
        job.input.once('drain', () => lines.resume());
        job.input.once('close', () => lines.resume());
      }
      return;
    case 'end':
      return job?.input?.end();
    case 'kill':
      return job?.child?.kill('SIGKILL');
  }
});
// The host is gone or done: stop whatever still runs, and leave.
lines.on('close', () => {
  for (const job of jobs.values()) job.child?.kill('SIGKILL');
  process.exit(0);
});
send({ t: 'ready' });
