/**
 * The parts that decide before git runs: request lines, paths, policy, ssh options, config.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseAuditEntry } from '@bot-bottle/core';
import { auditLine, CommandListReader, errPacket, explainUpstreamFailure, isSshUrl, lostRaces, parseGitGateConfig, parseHookInput, protectingPattern, pushPolicyProblem, readRequest, resolveRepoPath, serviceProblem, sshCommand, type CommandListResult } from '@bot-bottle/git-gate';
import { cleanup, tmpDir } from './helpers.js';

const Protocol = suite('request lines');

Protocol('reads the first pkt-line and keeps what follows', () => {
  const body = 'git-upload-pack /app.git\0host=gate:9418\0\0version=2\0';
  const line = Buffer.concat([Buffer.from((body.length + 4).toString(16).padStart(4, '0')), Buffer.from(body, 'latin1'), Buffer.from('0000')]);
  const r = readRequest(line);
  assert.is(r.kind, 'request');
  if (r.kind !== 'request') return;
  assert.is(r.request.service, 'upload-pack');
  assert.is(r.request.path, '/app.git');
  assert.is(r.request.host, 'gate:9418');
  assert.is(r.rest.toString(), '0000');
  assert.is(readRequest(line.subarray(0, 10)).kind, 'need-more');
  assert.is(readRequest(Buffer.from('GET / HTTP/1.1\r\n')).kind, 'bad');
  assert.is(readRequest(Buffer.from('ffff')).kind, 'bad');
});

Protocol('an ERR line carries no control characters', () => {
  const p = errPacket('bad\n0000line\0x');
  assert.is(p.subarray(4).toString(), 'ERR bad 0000line x');
  assert.is(parseInt(p.subarray(0, 4).toString(), 16), p.length);
});

Protocol('only upload-pack and receive-pack are served', () => {
  assert.is(serviceProblem('upload-pack'), null);
  assert.is(serviceProblem('receive-pack'), null);
  assert.match(serviceProblem('upload-archive')!, /not served/);
  assert.match(serviceProblem('shell')!, /"git-shell" is not served/);
});

const Commands = suite('receive-pack command lists and the hook input');

const O = 'a'.repeat(40);
const N = 'b'.repeat(40);
const Z40 = '0'.repeat(40);
const pktOf = (payload: string | Buffer) => {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  return Buffer.concat([Buffer.from((body.length + 4).toString(16).padStart(4, '0')), body]);
};
const list = (...lines: (string | Buffer)[]) => Buffer.concat([...lines.map(pktOf), Buffer.from('0000')]);
const readAll = (bytes: Buffer, step = bytes.length) => {
  const reader = new CommandListReader();
  let r: CommandListResult = { kind: 'need-more' };
  let fed = 0;
  for (; fed < bytes.length && r.kind === 'need-more'; fed += step) r = reader.feed(bytes.subarray(fed, fed + step));
  return { r, reader, fed: bytes.subarray(0, fed) };
};

Commands('a command list as git sends it is read whole, in any chunks, and passed on byte for byte', () => {
  const bytes = Buffer.concat([list(`${O} ${N} refs/heads/a\0 report-status-v2 side-band-64k quiet object-format=sha1 agent=git/2.39`, `${Z40} ${N} refs/tags/v1`, `shallow ${O}\n`, `${O} ${Z40} refs/heads/gone\n`), Buffer.from('PACK...')]);
  for (const step of [1, 3, 7, bytes.length]) {
    const { r, reader, fed } = readAll(bytes, step);
    assert.is(r.kind, 'commands', String(step));
    if (r.kind !== 'commands') return;
    assert.equal(r.updates.map((u) => u.ref), ['refs/heads/a', 'refs/tags/v1', 'refs/heads/gone']);
    assert.ok(r.sideband);
    // What follows the list in the last chunk read (the pack's start) is kept too; the rest is piped.
    assert.ok(reader.bytes().equals(fed), 'every byte fed is kept for the daemon');
    assert.ok(fed.length >= bytes.length - 'PACK...'.length, String(step));
  }
  assert.equal(readAll(Buffer.from('0000')).r, { kind: 'commands', updates: [], sideband: false });
  assert.is(readAll(list(`${O} ${N} refs/heads/a`).subarray(0, 20)).r.kind, 'need-more');
});

Commands('anything the hook would not read back as git applies it refuses the whole push', () => {
  const bad: [Buffer, RegExp][] = [
    [list(`${O} ${N} refs/heads/a\n${Z40} ${N} refs/heads/b\0report-status`), /"refs\/heads\/a\\n0{40} b{40} refs\/heads\/b" is not a ref name git accepts \(it contains a line break, which git would hand the push hook as two updates\)/],
    [list(`${O} ${N} refs/heads/a\n\0report-status`), /it contains a line break/],
    [list(`${O} ${N} refs/heads/a`, `${O} ${N} refs/heads/b\n\n`), /"refs\/heads\/b\\n" .*line break/],
    [list(`${O} ${N} refs/heads/a\rb`), /a control character/],
    [list(`${O} ${N} refs/heads/a\u0085b`), /a control character/],
    [list(Buffer.from(`${O} ${N} refs/heads/\xff`, 'latin1')), /names a ref that is not UTF-8/],
    [list(`${O}  refs/heads/a`), /is not "<old id> <new id> <ref>"/],
    [list(`${O.toUpperCase()} ${N} refs/heads/a`), /is not "<old id> <new id> <ref>"/],
    [list(`${O} ${'b'.repeat(64)} refs/heads/a`), /object ids of two lengths/],
    [list(`shallow ${O}x`), /is not "<old id> <new id> <ref>"/],
    [list('push-cert\0report-status side-band-64k', 'certificate version 0.1\n'), /signed pushes \(git push --signed\) are not served/],
    [list(''), /a packet of length 4/],
    [Buffer.from(`0001${pktOf(`${O} ${N} refs/heads/a`).toString()}0000`), /a packet of length 1/],
    [Buffer.from('ERR x'), /not in git's pkt-line format/],
    [Buffer.from('fff1'), /a packet of length 65521/],
  ];
  for (const [bytes, why] of bad) {
    const { r } = readAll(bytes);
    assert.is(r.kind, 'bad', bytes.toString('latin1'));
    if (r.kind !== 'bad') continue;
    assert.match(r.reason, why, bytes.toString('latin1'));
    assert.match(r.reason, /^git-gate: .*the whole push was refused and nothing was sent to the upstream/);
    assert.not.ok(/[\n\r]/.test(r.reason), 'one line');
  }
  const { r } = readAll(list(`${O} ${N} refs/heads/a\0report-status side-band-64k`, `${O} ${N} refs/heads/b\nc`));
  assert.equal(r.kind === 'bad' && [r.sideband, r.updates.map((u) => u.ref)], [true, ['refs/heads/a', 'refs/heads/b\nc']], 'the refusal knows the client\'s side band and every ref read');
  const huge = Buffer.concat(Array.from({ length: 8 * 1024 * 1024 / 90 + 10 }, (_, i) => pktOf(`${O} ${N} refs/tags/t-${i}`)));
  const big = readAll(huge, 65536).r;
  assert.match(big.kind === 'bad' ? big.reason : '', /more ref updates than the gate reads in one push/);
});

Commands('the hook reads exactly "<old> <new> <ref>" lines, or refuses', () => {
  assert.equal(parseHookInput(Buffer.from(`${O} ${N} refs/heads/a\n${Z40} ${N} refs/heads/caf\u00e9\n`)), { updates: [{ ref: 'refs/heads/a', old: O, new: N }, { ref: 'refs/heads/caf\u00e9', old: Z40, new: N }], problem: null });
  const bad: [Buffer, RegExp][] = [
    [Buffer.from(`${O} ${N} refs/heads/a\n\n`), /was given the line "", which is not "<old id> <new id> <ref>"/],
    [Buffer.from(`${O} ${N} refs/heads/a\n${O}\n`), /was given the line "a{40}"/],
    [Buffer.from(`${O} ${N} refs/heads/a`), /does not end in a line break/],
    [Buffer.from(`${O} ${N} refs/heads/\xff\n`, 'latin1'), /not UTF-8/],
    [Buffer.from(`${O} ${'b'.repeat(64)} refs/heads/a\n`), /which is not "<old id> <new id> <ref>"/],
    [Buffer.alloc(0), /was given no ref update/],
  ];
  for (const [input, why] of bad) {
    const { problem } = parseHookInput(input);
    assert.match(problem ?? '', why, input.toString('latin1'));
    assert.match(problem ?? '', /the whole push was refused and nothing was sent to the upstream$/);
  }
});

const Paths = suite('request paths');

Paths('exactly /<Name>.git of a declared name', () => {
  const names = ['app', 'lib.v2'];
  assert.equal(resolveRepoPath('/app.git', names), { ok: true, name: 'app' });
  assert.equal(resolveRepoPath('/lib.v2.git', names), { ok: true, name: 'lib.v2' });
  for (const p of ['/app', '/app.git.git', '/App.git', '/app.git/', '/../app.git', '/app.git/..', '//app.git', '~x/app.git', '/~x/app.git', 'app.git', '/./app.git', '/a/../app.git', '/app.git\\', '/app.git\n', '/etc/passwd', '/lib.git', '/.git', '/']) {
    const d = resolveRepoPath(p, names);
    assert.is(d.ok, false, p);
    if (!d.ok) assert.match(d.reason, /^git-gate: /);
  }
  const none = resolveRepoPath('/app.git', []);
  assert.is(none.ok, false);
  if (!none.ok) assert.match(none.reason, /declared: none/);
});

const Policy = suite('push policy');

Policy('protect patterns name branches, or full refs when they start with refs/', () => {
  assert.is(protectingPattern('refs/heads/main', ['main']), 'main');
  assert.is(protectingPattern('refs/heads/mainline', ['main']), null);
  assert.is(protectingPattern('refs/tags/main', ['main']), 'main', 'a tag main shadows the branch (test/policy.test.ts)');
  assert.is(protectingPattern('refs/heads/release/1.0', ['release/*']), 'release/*');
  assert.is(protectingPattern('refs/heads/release/1.0/fix', ['release/*']), 'release/*');
  assert.is(protectingPattern('refs/heads/release', ['release/*']), null);
  assert.is(protectingPattern('refs/heads/releases/x', ['release/*']), null);
  assert.is(protectingPattern('refs/tags/v1', ['refs/tags/*']), 'refs/tags/*');
  assert.is(protectingPattern('refs/heads/a.b', ['a.b']), 'a.b');
  assert.is(protectingPattern('refs/heads/axb', ['a.b']), null, '"." is literal');
});

Policy('push: false and protect give messages that say so', () => {
  const z = '0'.repeat(40);
  const a = 'a'.repeat(40);
  const b = 'b'.repeat(40);
  assert.match(pushPolicyProblem('app', false, [], [{ ref: 'refs/heads/x', old: a, new: b }])!, /app is read-only in this bottle \(push: false\)/);
  assert.match(pushPolicyProblem('app', true, ['main'], [{ ref: 'refs/heads/main', old: a, new: b }])!, /refs\/heads\/main is protected in this bottle \(protect: "main"\); pushing to it is refused/);
  assert.match(pushPolicyProblem('app', true, ['main'], [{ ref: 'refs/heads/main', old: a, new: z }])!, /deleting it is refused/);
  assert.match(pushPolicyProblem('app', true, ['main'], [{ ref: 'refs/heads/main', old: z, new: b }])!, /creating it is refused/);
  assert.is(pushPolicyProblem('app', true, ['main'], [{ ref: 'refs/heads/topic', old: a, new: b }]), null);
  // One protected ref among several refuses the whole push.
  assert.ok(pushPolicyProblem('app', true, ['main'], [{ ref: 'refs/heads/topic', old: a, new: b }, { ref: 'refs/heads/main', old: a, new: b }]));
});

Policy('a push that lost a race inside the upstream (failed to update ref) is called a non-fast-forward', () => {
  // The upstream's words when two pushes pass its fast-forward check at once (seen from a real sshd upstream).
  const said = [
    "remote: error: cannot lock ref 'refs/heads/main': is at ccf090a177b365655cefc32c1ad0c3741cd1c23e but expected 9180c7900bf3059c6dcc8c99c9934c6acafd43d5",
    "error: failed to push some refs to 'ssh://git.example.invalid/app.git'",
  ];
  assert.equal(lostRaces(said), [
    'git-gate: refs/heads/main was moved on the upstream by another push while this one was in flight (now at ccf090a177b3), so this push is a non-fast-forward; fetch, merge or rebase, and push again',
  ]);
  assert.equal(lostRaces(["remote: error: cannot lock ref 'refs/heads/main': Unable to create '/srv/app.git/refs/heads/main.lock': File exists."]), []);
});

const Ssh = suite('ssh command');

Ssh('uses only the entry key and a known_hosts it never writes', () => {
  const cmd = sshCommand({ identityFile: '/keys/id ed25519', knownHosts: '/etc/known_hosts' });
  for (const opt of ['-F /dev/null', 'BatchMode=yes', 'StrictHostKeyChecking=yes', 'UpdateHostKeys=no', 'IdentitiesOnly=yes', 'UserKnownHostsFile=/etc/known_hosts', 'GlobalKnownHostsFile=/dev/null']) {
    assert.ok(cmd.includes(opt), opt);
  }
  assert.ok(cmd.includes(`-i '/keys/id ed25519'`), 'paths are shell-quoted');
  assert.ok(sshCommand({ identityFile: null, knownHosts: null }).includes('IdentityFile=none'));
  assert.ok(isSshUrl('ssh://git@h/r.git'));
  assert.ok(isSshUrl('git@h:r.git'));
  assert.ok(isSshUrl('git+ssh://h/r.git'));
  assert.not.ok(isSshUrl('file:///r.git'));
  assert.not.ok(isSshUrl('https://h/r.git'));
});

Ssh('ssh failures become one line a person can act on', () => {
  const entry = { upstream: 'ssh://git@h/r.git', effectiveKnownHosts: '/kh', identityFile: '/k' };
  assert.match(explainUpstreamFailure('@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.\nfatal: Could not read from remote repository.', entry), /has CHANGED from the one in \/kh/);
  assert.match(explainUpstreamFailure('No ED25519 host key is known for h and you have requested strict checking.\nHost key verification failed.', entry), /is not in \/kh/);
  assert.match(explainUpstreamFailure('git@h: Permission denied (publickey).\nfatal: Could not read', entry), /refused the key \/k/);
  assert.match(explainUpstreamFailure("fatal: '/r.git' does not appear to be a git repository\nfatal: Could not read from remote repository.", entry), /does not appear to be a git repository/);
});

const Config = suite('config');

const entry = (over: Record<string, unknown> = {}) => ({ name: 'app', upstream: 'file:///srv/app.git', identityFile: null, knownHosts: null, push: true, protect: [], ...over });

Config('defaults: port 9418 on every address, no audit log, 600 s upstream timeout', () => {
  const c = parseGitGateConfig({ dataDir: '/var/lib/git-gate', upstreams: [entry()] });
  assert.equal(c.listen, { port: 9418, host: '0.0.0.0' });
  assert.is(c.auditLog, null);
  assert.is(c.upstreamTimeoutMs, 600_000);
  assert.is(c.entries[0]!.ssh, false);
  assert.equal(parseGitGateConfig({ dataDir: '/d', listen: { socket: '/run/git.sock' }, upstreams: [] }).listen, { socket: '/run/git.sock' });
  assert.equal(c.entries[0]!.refs, [], 'no refs opt-in: branches and tags only');
  assert.equal(parseGitGateConfig({ dataDir: '/d', upstreams: [entry({ refs: ['refs/notes/*'] })] }).entries[0]!.refs, ['refs/notes/*']);
});

Config('bad configs are refused with the JSON path of each problem', () => {
  const bad: [unknown, RegExp][] = [
    [{ upstreams: [] }, /dataDir/],
    [{ dataDir: 'relative', upstreams: [] }, /dataDir: must be an absolute path/],
    [{ dataDir: '/d', upstreams: [entry({ name: '../x' })] }, /upstreams\[0\]\.name/],
    [{ dataDir: '/d', upstreams: [entry({ name: 'app.git' })] }, /must not end in "\.git"/],
    [{ dataDir: '/d', upstreams: [entry({ upstream: 'ext::sh -c id' })] }, /upstreams\[0\]\.upstream/],
    [{ dataDir: '/d', upstreams: [entry(), entry()] }, /two upstreams share a name/],
    [{ dataDir: '/d', upstreams: [entry({ protect: ['ma in'] })] }, /protect/],
    [{ dataDir: '/d', upstreams: [entry({ refs: ['refs/replace/*'] })] }, /upstreams\[0\]\.refs\[0\]: refs\/replace\/ can never be opted in/],
    [{ dataDir: '/d', upstreams: [entry({ refs: ['refs/notes/*', 'refs/*'] })] }, /upstreams\[0\]\.refs\[1\]: a refs pattern names refs in one namespace/],
    [{ dataDir: '/d', upstreams: [entry({ refs: 'refs/notes/*' })] }, /upstreams\[0\]\.refs/],
    [{ dataDir: '/d', upstreams: [entry({ extra: 1 })] }, /extra/],
    [{ dataDir: '/d', upstreams: [entry({ upstream: 'ssh://git@h/r.git' })] }, /upstreams\[0\]\.knownHosts: "app" is an ssh upstream and no known_hosts is given/],
  ];
  for (const [value, want] of bad) {
    try {
      parseGitGateConfig(value, 'cfg.json');
      assert.unreachable(JSON.stringify(value));
    } catch (e) {
      const err = e as { message: string; details: string[]; kind: string; name: string };
      assert.is(err.name, 'ServiceError');
      assert.is(err.kind, 'config');
      assert.match(err.message, /git-gate config cfg\.json is not valid/);
      assert.match(err.details.join('\n'), want, JSON.stringify(value));
    }
  }
});

Config('missing identity and known_hosts files are named at start-up', () => {
  const root = tmpDir();
  try {
    const kh = path.join(root, 'known_hosts');
    writeFileSync(kh, '');
    try {
      parseGitGateConfig({ dataDir: '/d', defaultKnownHosts: path.join(root, 'nope'), upstreams: [entry({ upstream: 'ssh://git@h/r.git', identityFile: path.join(root, 'id_missing') })] });
      assert.unreachable();
    } catch (e) {
      const details = (e as { details: string[] }).details.join('\n');
      assert.match(details, /upstreams\[0\]\.identityFile: .*id_missing does not exist; mount the entry's IdentityFile read-only at that path/);
      assert.match(details, /defaultKnownHosts: .*nope does not exist/);
    }
    const ok = parseGitGateConfig({ dataDir: '/d', defaultKnownHosts: kh, upstreams: [entry({ upstream: 'git@h:r.git' })] });
    assert.is(ok.entries[0]!.effectiveKnownHosts, kh, 'the default known_hosts is used when the entry names none');
  } finally {
    cleanup(root);
  }
});

const Audit = suite('audit lines');

Audit("a line is core's git-gate entry, read back by `bottle logs` as written", () => {
  const refs = [{ ref: 'refs/heads/main', old: '0'.repeat(40), new: 'a'.repeat(40) }];
  const line = auditLine({ service: 'receive-pack', repo: 'app', refs, decision: 'deny', reason: 'protected', upstream: 'ssh://git@h/app.git', client: '127.0.0.1' }, new Date(0));
  assert.equal(line, { time: '1970-01-01T00:00:00.000Z', source: 'git-gate', service: 'receive-pack', repo: 'app', refs, decision: 'deny', reason: 'protected', upstream: 'ssh://git@h/app.git', client: '127.0.0.1' });
  assert.equal(parseAuditEntry(JSON.stringify(line)), line);
});

Protocol.run();
Commands.run();
Paths.run();
Policy.run();
Ssh.run();
Config.run();
Audit.run();
