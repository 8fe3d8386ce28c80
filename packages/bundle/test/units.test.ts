/** The supervisor's pure parts and its file operations, on temp folders (no docker). */
import { chmodSync, closeSync, linkSync, openSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isServiceError, type ServiceError } from '@bot-bottle/core';
import { openAuditLog, parsePasswd, readBundleConfig, removeName, serviceEnv, writeNewFile } from '../src/index.js';
import { chownSync, fstatSync } from 'node:fs';
import { startService } from '../src/service-process.js';

const test = suite('bundle supervisor');

const PASSWD = `root:x:0:0:root:/root:/bin/bash
node:x:1000:1000::/home/node:/bin/bash
bot-bottle-egress:x:64201:64201::/nonexistent:/usr/sbin/nologin
bot-bottle-git:x:64202:64202::/var/lib/bot-bottle/git-gate:/usr/sbin/nologin
`;

test('service users come from passwd by name', () => {
  assert.equal(parsePasswd(PASSWD, 'bot-bottle-git'), { name: 'bot-bottle-git', uid: 64202, gid: 64202, home: '/var/lib/bot-bottle/git-gate' });
  assert.is(parsePasswd(PASSWD, 'bot-bottle'), null);
  assert.is(parsePasswd('bot-bottle-git:x:abc:1::/:/bin/sh\n', 'bot-bottle-git'), null);
});

test('a service env holds only harmless variables and who it is, never a routed secret', () => {
  const user = { name: 'bot-bottle-git', uid: 64202, gid: 64202, home: '/var/lib/bot-bottle/git-gate' };
  const env = { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', ANTHROPIC_API_KEY: 'sk-secret', HOME: '/root', SSH_AUTH_SOCK: '/tmp/agent', NODE_OPTIONS: '--require /x.js' };
  assert.equal(serviceEnv(env, user, ['ANTHROPIC_API_KEY']), { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', HOME: '/var/lib/bot-bottle/git-gate', USER: 'bot-bottle-git', LOGNAME: 'bot-bottle-git' });
  // A secret routed under the name of a harmless variable is left out too (PATH falls back).
  const odd = serviceEnv({ PATH: '/opt/secret-bin', LANG: 'tok-123' }, user, ['LANG', 'PATH']);
  assert.not.ok(JSON.stringify(odd).includes('tok-123') || JSON.stringify(odd).includes('secret-bin'), JSON.stringify(odd));
  assert.ok(odd.PATH?.includes('/usr/bin'));
});

test('writeNewFile never writes through a symlink or an existing file at the name', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bbtest-bundle-units-'));
  try {
    const target = path.join(dir, 'target');
    writeFileSync(target, 'precious\n');
    chmodSync(target, 0o600);
    const shared = path.join(dir, 'shared');
    mkdirSync(shared);
    symlinkSync(target, path.join(shared, 'ready'));
    // Control: a plain write through the link lands in the target.
    writeFileSync(path.join(dir, 'probe'), '');
    symlinkSync(path.join(dir, 'probe'), path.join(shared, 'probe-link'));
    writeFileSync(path.join(shared, 'probe-link'), 'followed\n');
    assert.is(readFileSync(path.join(dir, 'probe'), 'utf8'), 'followed\n');

    writeNewFile(shared, 'ready', 'now\n');
    assert.is(readFileSync(target, 'utf8'), 'precious\n');
    assert.is(statSync(target).mode & 0o777, 0o600);
    assert.ok(lstatSync(path.join(shared, 'ready')).isFile());
    assert.is(readFileSync(path.join(shared, 'ready'), 'utf8'), 'now\n');
    // A hard link to the target at the name is replaced, not written into.
    rmSync(path.join(shared, 'ready'));
    linkSync(target, path.join(shared, 'ready'));
    writeNewFile(shared, 'ready', 'again\n');
    assert.is(readFileSync(target, 'utf8'), 'precious\n');
    // An empty folder at the name goes; a full one is a clear error.
    rmSync(path.join(shared, 'ready'));
    mkdirSync(path.join(shared, 'ready'));
    writeNewFile(shared, 'ready', 'x\n');
    rmSync(path.join(shared, 'ready'));
    mkdirSync(path.join(shared, 'ready'));
    writeFileSync(path.join(shared, 'ready', 'f'), '');
    assert.throws(() => removeName(path.join(shared, 'ready')), /not empty/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Starts a stand-in service that writes `line` as its one message, and returns how its start ended. */
async function serviceSaying(dir: string, line: string): Promise<ServiceError | Record<string, unknown>> {
  const script = path.join(dir, `service-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(script, `process.stdout.write(${JSON.stringify(line)} + '\\n'); setTimeout(() => process.exit(1), 200);`);
  const auditFd = openSync('/dev/null', 'a');
  try {
    const s = startService({ name: 'test service', script, input: {}, env: { PATH: process.env.PATH ?? '' }, auditFd });
    try {
      return await s.ready;
    } catch (e) {
      if (!isServiceError(e)) throw e;
      return e;
    } finally {
      await s.stop(1000);
    }
  } finally {
    closeSync(auditFd);
  }
}

test("a service's failure reaches the supervisor as a ServiceError with its kind, details and fixes", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bundle-svc-'));
  try {
    const failure = { kind: 'config', message: 'git-gate config bundle.json gitGate is not valid', details: ['upstreams[0].name: bad'], suggestions: ['Fix it.'] };
    const err = (await serviceSaying(dir, JSON.stringify({ error: failure }))) as ServiceError;
    assert.ok(isServiceError(err));
    assert.equal(err.toJSON(), failure);
    const odd = (await serviceSaying(dir, JSON.stringify({ error: { kind: 'other', message: 'm', details: 'not a list' } }))) as ServiceError;
    assert.equal(odd.toJSON(), { kind: 'failure', message: 'm', details: [], suggestions: [] });
    const garbage = (await serviceSaying(dir, 'hello')) as ServiceError;
    assert.is(garbage.message, 'the test service sent something other than its ready line: hello');
    // Control: a ready line is taken.
    assert.equal(await serviceSaying(dir, JSON.stringify({ ready: { socket: '/x' } })), { socket: '/x' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bundle.json is checked whole before anything starts: each problem by its JSON path, one ServiceError', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bundle-cfg-'));
  try {
    const file = path.join(dir, 'bundle.json');
    const good = { slug: 'demo-abc12', socketDir: '/run/bot-bottle', logDir: '/var/log/bot-bottle', controlDir: '/run/bot-bottle-control', egress: { ca: { cert: '/e/ca.crt', key: '/e/ca.key' }, routes: [], secretEnv: [], extraCaFiles: [] }, gitGate: null };
    writeFileSync(file, JSON.stringify(good));
    assert.equal(await readBundleConfig(file), good);
    writeFileSync(file, JSON.stringify({ ...good, socketDir: 'relative', egress: { ...good.egress, listen: { port: 1 } }, gitGate: { upstreams: [{ name: 'app' }] } }));
    const err = await readBundleConfig(file).then(() => null, (e: unknown) => e as ServiceError);
    assert.ok(err && isServiceError(err) && err.kind === 'config');
    assert.is(err.message, `bundle config ${file} is not valid`);
    const details = err.details.join('\n');
    assert.match(details, /^socketDir: must be an absolute path/m);
    assert.match(details, /^egress\.listen: /m, 'the bundle decides where the gateway listens');
    assert.match(details, /^gitGate\.upstreams\[0\]\.upstream: /m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the audit log belongs to the owner of its folder (the host user), and is never opened through a link', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bundle-audit-'));
  try {
    const logDir = path.join(dir, 'log');
    mkdirSync(logDir);
    if (process.getuid?.() === 0) chownSync(logDir, 4321, 4322);
    const want = statSync(logDir);
    const fd = openAuditLog(logDir);
    const st = fstatSync(fd);
    closeSync(fd);
    assert.equal([st.uid, st.gid, st.mode & 0o777], [want.uid, want.gid, 0o640]);
    // A link planted where the log goes is not followed.
    const other = path.join(dir, 'log2');
    mkdirSync(other);
    writeFileSync(path.join(dir, 'victim'), 'x');
    symlinkSync(path.join(dir, 'victim'), path.join(other, 'audit.jsonl'));
    assert.throws(() => openAuditLog(other), /ELOOP/);
    assert.is(readFileSync(path.join(dir, 'victim'), 'utf8'), 'x');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
