// Sets up bot-bottle's agent layer on a user's image, as root, at build time, run by bot-bottle's own
// Node: nothing here uses the image's tools (it may have no useradd, no coreutils, no package manager).
//
//  - the `node` user, uid 1000, home /home/node, with /home/node/workspace: an existing uid 1000
//    under another name (ubuntu:24.04's `ubuntu`) is renamed to node, as is its gid 1000 group;
//    /etc/passwd, /etc/group (and /etc/shadow, /etc/gshadow when the image has them) are edited
//    as text;
//  - an emptied system trust store: the bottle trusts one CA, its gateway's, which the ca
//    provisioner adds at launch with update-ca-certificates (the image's, or a stand-in that
//    keeps its contract: "1 added" for one certificate);
//  - stand-ins on PATH (/opt/bot-bottle/bin, after the image's own dirs) for the tools the
//    provisioners run that the image lacks: tar, chmod, chown, mkdir, rm, cat, runuser, and dtach
//    (the detachable session of a kept bottle's agent);
//  - a check that the agent (Claude Code, Codex, ...; agent.env names its command) runs here.
// A problem bot-bottle cannot work around exits 3 with one line "bot-bottle layer: ..." on stderr.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lchownSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const B = '/opt/bot-bottle';
const UID = 1000;
const NAME = 'node';
const HOME = '/home/node';
const say = (m) => process.stdout.write(`bot-bottle layer: ${m}\n`);
function refuse(m) {
  process.stderr.write(`bot-bottle layer: ${m}\n`);
  process.exit(3);
}

/** A command on the image's PATH (as root sees it), or null. */
function which(cmd) {
  for (const dir of (process.env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    if (!dir || dir.startsWith(B)) continue;
    const p = path.join(dir, cmd);
    try {
      if (statSync(p).isFile() && (statSync(p).mode & 0o111)) return p;
    } catch {
      // not here
    }
  }
  return null;
}

function readTable(file) {
  if (!existsSync(file)) return null;
  return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => l.split(':'));
}

function writeTable(file, rows, mode) {
  writeFileSync(file, rows.map((r) => r.join(':')).join('\n') + '\n', { mode });
  chmodSync(file, mode);
}

if (!existsSync('/bin/sh')) refuse('the image has no /bin/sh (the provisioners and setup commands run sh)');

// --- the node user and group -------------------------------------------------------------------
const passwd = readTable('/etc/passwd') ?? [['root', 'x', '0', '0', 'root', '/root', '/bin/sh']];
const group = readTable('/etc/group') ?? [['root', 'x', '0', '']];
const shell = existsSync('/bin/bash') ? '/bin/bash' : '/bin/sh';

const byUid = passwd.find((r) => r[2] === String(UID));
const byName = passwd.find((r) => r[0] === NAME);
let renamedUser = null;
if (byUid && byUid[0] !== NAME) {
  // uid 1000 belongs to someone else: it becomes node (names are unique, so a node with another uid goes).
  renamedUser = byUid[0];
  if (byName) passwd.splice(passwd.indexOf(byName), 1);
  byUid[0] = NAME;
  say(`uid ${UID} was "${renamedUser}"; renamed to ${NAME}`);
}
let user = passwd.find((r) => r[0] === NAME);
if (!user) {
  user = [NAME, 'x', String(UID), String(UID), '', HOME, shell];
  passwd.push(user);
} else if (user[2] !== String(UID)) {
  say(`${NAME} had uid ${user[2]}; now ${UID}`);
  user[2] = String(UID);
}
while (user.length < 7) user.push('');
user[1] = 'x';
user[5] = HOME;
if (!user[6] || !existsSync(user[6])) user[6] = shell;

// The primary group: gid 1000, named node.
const gid = String(UID);
const byGid = group.find((r) => r[2] === gid);
const groupByName = group.find((r) => r[0] === NAME);
let renamedGroup = null;
if (byGid && byGid[0] !== NAME) {
  renamedGroup = byGid[0];
  if (groupByName) group.splice(group.indexOf(groupByName), 1);
  byGid[0] = NAME;
} else if (!byGid) {
  if (groupByName) groupByName[2] = gid;
  else group.push([NAME, 'x', gid, '']);
}
user[3] = gid;
// Memberships of the renamed user follow it.
if (renamedUser) {
  for (const g of group) {
    if (g.length < 4) continue;
    g[3] = g[3].split(',').filter(Boolean).map((m) => (m === renamedUser ? NAME : m)).join(',');
  }
}
writeTable('/etc/passwd', passwd, 0o644);
writeTable('/etc/group', group, 0o644);

// Shadow files: an entry for node, locked (no password: nobody logs in; docker exec and the exec agent do not ask).
for (const [file, oldName, entry] of [
  ['/etc/shadow', renamedUser, [NAME, '!', '19000', '0', '99999', '7', '', '', '']],
  ['/etc/gshadow', renamedGroup, [NAME, '!', '', '']],
]) {
  const rows = readTable(file);
  if (!rows) continue;
  const old = oldName ? rows.find((r) => r[0] === oldName) : undefined;
  const mine = rows.find((r) => r[0] === NAME);
  if (old) {
    if (mine) rows.splice(rows.indexOf(mine), 1);
    old[0] = NAME;
  } else if (!mine) rows.push(entry);
  writeTable(file, rows, statSync(file).mode & 0o777);
}

// --- the home and workspace --------------------------------------------------------------------
for (const dir of [HOME, `${HOME}/workspace`]) mkdirSync(dir, { recursive: true, mode: 0o755 });
(function chownTree(p) {
  lchownSync(p, UID, UID);
  if (lstatSync(p).isDirectory()) for (const e of readdirSync(p)) chownTree(path.join(p, e));
})(HOME);

// --- the trust store ---------------------------------------------------------------------------
// Every connection leaves through the gateway, which presents the bottle's own CA: no public or
// build CA has anything to verify here. The image's own extra CAs go too.
const LOCAL_CAS = '/usr/local/share/ca-certificates';
const CERTS = '/etc/ssl/certs';
rmSync(LOCAL_CAS, { recursive: true, force: true });
mkdirSync(LOCAL_CAS, { recursive: true, mode: 0o755 });
if (existsSync('/etc/ca-certificates.conf')) {
  const conf = readFileSync('/etc/ca-certificates.conf', 'utf8').split('\n').filter((l) => !/^!?mozilla\//.test(l));
  writeFileSync('/etc/ca-certificates.conf', conf.join('\n'));
}
const imageTool = which('update-ca-certificates');
let refreshed = false;
if (imageTool) {
  const r = spawnSync(imageTool, ['--fresh'], { encoding: 'utf8' });
  refreshed = r.status === 0;
  if (!refreshed) say(`the image's update-ca-certificates --fresh failed (${(r.stderr || r.error?.message || '').trim().split('\n').pop()}); using bot-bottle's`);
}
if (!refreshed) {
  // No (working) update-ca-certificates: bot-bottle's stand-in, where the ca provisioner's `sh -c` finds it.
  mkdirSync(CERTS, { recursive: true, mode: 0o755 });
  for (const e of readdirSync(CERTS)) {
    const p = path.join(CERTS, e);
    if (lstatSync(p).isSymbolicLink() || /\.(pem|crt|0)$/.test(e) || /^[0-9a-f]{8}\.\d+$/.test(e)) rmSync(p, { force: true });
  }
  const target = imageTool ?? '/usr/sbin/update-ca-certificates';
  mkdirSync(path.dirname(target), { recursive: true });
  rmSync(target, { force: true });
  writeFileSync(target, `#!/bin/sh\n# bot-bottle's stand-in (the image has no working one): same output and files.\nexec ${B}/node/run ${B}/layer/update-ca-certificates.mjs "$@"\n`, { mode: 0o755 });
  if (!which('update-ca-certificates')) symlinkSync(target, `${B}/bin/update-ca-certificates`);
  say(`update-ca-certificates: bot-bottle's stand-in at ${target}`);
}
mkdirSync(CERTS, { recursive: true, mode: 0o755 });
writeFileSync(path.join(CERTS, 'ca-certificates.crt'), '', { mode: 0o644 });

// --- tools the provisioners run ------------------------------------------------------------------
const standIns = [];
for (const tool of ['tar', 'chmod', 'chown', 'mkdir', 'rm', 'cat', 'dtach']) {
  if (which(tool)) continue;
  writeFileSync(`${B}/bin/${tool}`, `#!/bin/sh\nexec ${B}/glibc/ld.so --library-path ${B}/glibc ${B}/libexec/${tool} "$@"\n`, { mode: 0o755 });
  standIns.push(tool);
}
if (!which('runuser')) {
  writeFileSync(`${B}/bin/runuser`, `#!/bin/sh\nexec ${B}/node/run ${B}/layer/runuser.mjs "$@"\n`, { mode: 0o755 });
  standIns.push('runuser');
}
if (standIns.length) say(`stand-ins for what the image lacks: ${standIns.join(', ')}`);

// --- the agent runs here -----------------------------------------------------------------------
const agentEnv = Object.fromEntries(readFileSync('/usr/local/lib/bot-bottle/agent.env', 'utf8').split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
const cmd = agentEnv.AGENT_CMD;
const scratch = '/tmp/bot-bottle-agent-check';
mkdirSync(scratch, { recursive: true });
const agent = spawnSync(`${B}/bin/${cmd}`, ['--version'], { encoding: 'utf8', env: { ...process.env, HOME: scratch, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' }, timeout: 120_000 });
rmSync(scratch, { recursive: true, force: true });
if (agent.status !== 0) {
  const why = (agent.stderr || agent.error?.message || `exit ${agent.status}`).trim().split('\n').slice(-2).join(' ');
  refuse(`the agent (${cmd}) does not run on this image (its binary needs a glibc recent enough for it): ${why}`);
}
say(`node (uid ${UID}) in ${HOME}/workspace; agent ${cmd} ${agent.stdout.trim().split('\n')[0]}`);
