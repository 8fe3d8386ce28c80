// bot-bottle's stand-in for util-linux's runuser, on images without it: `runuser -u USER [-g GROUP]
// [--] COMMAND [ARG...]`, run as root. The command gets the user's uid and gid (no supplementary
// groups), HOME, SHELL, USER and LOGNAME from the image's /etc/passwd, and the rest of the
// environment as it is; its exit code is runuser's.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

function usage(m) {
  process.stderr.write(`runuser: ${m}\nusage: runuser -u USER [-g GROUP] [--] COMMAND [ARG...]\n`);
  process.exit(1);
}
const args = process.argv.slice(2);
let user;
let groupName;
while (args.length) {
  const a = args[0];
  if (a === '--') {
    args.shift();
    break;
  }
  if (a === '-u' || a === '--user') [, user] = args.splice(0, 2);
  else if (a.startsWith('--user=')) user = args.shift().slice(7);
  else if (a === '-g' || a === '--group') [, groupName] = args.splice(0, 2);
  else if (a.startsWith('-')) usage(`option ${a} is not supported by bot-bottle's stand-in`);
  else break;
}
if (!user) usage('no user given (-u USER)');
if (!args.length) usage('no command given');
const table = (f) => readFileSync(f, 'utf8').split('\n').map((l) => l.split(':'));
const entry = table('/etc/passwd').find((f) => f[0] === user || f[2] === user);
if (!entry) usage(`user ${user} does not exist`);
let gid = Number(entry[3]);
if (groupName !== undefined) {
  const g = table('/etc/group').find((f) => f[0] === groupName || f[2] === groupName);
  if (!g) usage(`group ${groupName} does not exist`);
  gid = Number(g[2]);
}
const env = { ...process.env, HOME: entry[5] || '/', SHELL: entry[6] || '/bin/sh', USER: entry[0], LOGNAME: entry[0] };
const child = spawn(args[0], args.slice(1), { uid: Number(entry[2]), gid, env, stdio: 'inherit' });
child.on('error', (e) => {
  process.stderr.write(`runuser: failed to execute ${args[0]}: ${e.code === 'ENOENT' ? 'No such file or directory' : e.message}\n`);
  process.exit(e.code === 'ENOENT' ? 127 : 126);
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('close', (code, signal) => process.exit(code ?? 128 + ({ SIGINT: 2, SIGTERM: 15, SIGKILL: 9, SIGHUP: 1 }[signal] ?? 1)));
