/**
 * `bottle logs`: reads a bottle's audit log from its state dir (found through XDG_STATE_HOME, as
 * every command finds it), prints it for people or as JSON, and follows it while it grows.
 */
import { appendFile, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execa } from 'execa';
import { BIN, bottle, cleanupTempDirs, hasStack, isolatedXdg, run } from './helpers.js';
import { ALL_HIDDEN, ALL_HIDDEN_SHOWN, HIDDEN_SAMPLES, RAW_HIDDEN } from './hidden-samples.js';

const test = suite('logs');
test.after(cleanupTempDirs);

const ALLOW = {
  time: '2026-01-01T12:00:00.000Z', source: 'egress', method: 'POST', host: 'api.anthropic.com', path: '/v1/messages?beta=true', status: 200, bytes: 812, bytesUp: 340,
  decision: 'allow', rule: 'routes[0] api.anthropic.com', reason: null, upstream: 'https://llm.internal:8443', durationMs: 41,
};
const DENY_HOST = {
  time: '2026-01-01T12:00:01.000Z', source: 'egress', method: 'GET', host: 'evil.example.invalid', path: '/x', status: 403, bytes: 210, bytesUp: 0,
  decision: 'deny', rule: null, reason: 'no egress route allows host evil.example.invalid', durationMs: 2,
};
const DENY_TUNNEL = {
  time: '2026-01-01T12:00:02.000Z', source: 'egress', method: 'CONNECT', host: 'api.anthropic.com', path: 'api.anthropic.com:22', status: 0, bytes: 0, bytesUp: 21,
  decision: 'deny', rule: null, reason: 'non-HTTP tunnel refused: the first bytes are neither TLS nor HTTP', durationMs: 1,
};
const DLP = {
  time: '2026-01-01T12:00:03.000Z', source: 'egress', method: 'POST', host: 'api.anthropic.com', path: '/v1/messages', status: 403, bytes: 180, bytesUp: 0,
  decision: 'deny', rule: 'routes[0] api.anthropic.com', reason: 'dlp: GitHub token in the header x-note', durationMs: 3,
};

/** git-gate's lines, as it writes them into the same log. */
const ZERO = '0'.repeat(40);
const GIT_FETCH = {
  time: '2026-01-01T12:00:04.000Z', source: 'git-gate', service: 'upload-pack', repo: 'app', refs: [], decision: 'allow', reason: null, upstream: 'ssh://git@example.invalid/app.git',
};
const GIT_PUSH_DENIED = {
  time: '2026-01-01T12:00:05.000Z', source: 'git-gate', service: 'receive-pack', repo: 'app', refs: [{ ref: 'refs/heads/main', old: 'a'.repeat(40), new: 'b'.repeat(40) }, { ref: 'refs/tags/v1', old: ZERO, new: 'c'.repeat(40) }],
  decision: 'deny', reason: 'refs/heads/main is protected (protect: main)', upstream: 'ssh://git@example.invalid/app.git',
};
const GIT_UNKNOWN = {
  time: '2026-01-01T12:00:06.000Z', source: 'git-gate', service: 'git-upload-foo', repo: '/etc/passwd', refs: [], decision: 'deny', reason: 'unknown service', client: '127.0.0.1',
};

const jsonl = (...entries: object[]) => entries.map((e) => JSON.stringify(e) + '\n').join('');

/** A bottle's state dir as a launch leaves it: plan.json naming the audit log, and the log itself. */
async function fakeBottle(xdg: Record<string, string>, slug: string, log: string | null): Promise<{ stateDir: string; logFile: string }> {
  const stateDir = path.join(xdg.XDG_STATE_HOME!, 'bot-bottle', 'bottles', slug);
  const logFile = path.join(stateDir, 'log', 'audit.jsonl');
  await mkdir(path.dirname(logFile), { recursive: true });
  await writeFile(path.join(stateDir, 'plan.json'), JSON.stringify({ slug, egress: { auditLogPath: logFile } }));
  if (log !== null) await writeFile(logFile, log);
  return { stateDir, logFile };
}

test('one human line per entry: time, decision, method, host+path, status, rule or reason', async () => {
  const xdg = await isolatedXdg();
  await fakeBottle(xdg, 'demo-abc12', jsonl(ALLOW, DENY_HOST, DENY_TUNNEL, DLP));
  const r = await run(['logs', 'demo-abc12'], { env: xdg });
  assert.is(r.exitCode, 0, r.stderr);
  assert.equal(r.stdout.trimEnd().split('\n'), [
    '2026-01-01T12:00:00.000Z  ALLOW  POST     api.anthropic.com/v1/messages?beta=true  200  routes[0] api.anthropic.com',
    '2026-01-01T12:00:01.000Z  DENY   GET      evil.example.invalid/x  403  no egress route allows host evil.example.invalid',
    '2026-01-01T12:00:02.000Z  DENY   CONNECT  api.anthropic.com:22    -  non-HTTP tunnel refused: the first bytes are neither TLS nor HTTP',
    '2026-01-01T12:00:03.000Z  DENY   POST     api.anthropic.com/v1/messages  403  routes[0] api.anthropic.com: dlp: GitHub token in the header x-note',
  ]);
  assert.is(r.stderr, '');
});

test('--json: exactly one JSON array of the entries, as logged', async () => {
  const xdg = await isolatedXdg();
  await fakeBottle(xdg, 'demo-abc12', jsonl(ALLOW, DENY_HOST));
  const r = await run(['logs', 'demo-abc12', '--json'], { env: xdg });
  assert.is(r.exitCode, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), [ALLOW, DENY_HOST]);
  assert.equal(Object.keys(JSON.parse(r.stdout)[0]), Object.keys(ALLOW), 'keys in the order logged');
});

test('git-gate lines in the same log: FETCH or PUSH, git:<repo> and the refs a push updates, the reason', async () => {
  const xdg = await isolatedXdg();
  await fakeBottle(xdg, 'demo-abc12', jsonl(ALLOW, GIT_FETCH, GIT_PUSH_DENIED, GIT_UNKNOWN));
  const r = await run(['logs', 'demo-abc12'], { env: xdg });
  assert.is(r.exitCode, 0, r.stderr);
  assert.equal(r.stdout.trimEnd().split('\n'), [
    '2026-01-01T12:00:00.000Z  ALLOW  POST     api.anthropic.com/v1/messages?beta=true  200  routes[0] api.anthropic.com',
    '2026-01-01T12:00:04.000Z  ALLOW  FETCH    git:app    -  -',
    '2026-01-01T12:00:05.000Z  DENY   PUSH     git:app refs/heads/main refs/tags/v1    -  refs/heads/main is protected (protect: main)',
    '2026-01-01T12:00:06.000Z  DENY   GIT      git:/etc/passwd (git-upload-foo)    -  unknown service',
  ]);
  assert.is(r.stderr, '', 'no line is skipped');
  const json = await run(['logs', 'demo-abc12', '--json'], { env: xdg });
  assert.equal(JSON.parse(json.stdout), [ALLOW, GIT_FETCH, GIT_PUSH_DENIED, GIT_UNKNOWN]);
});

test('text the bottle chose never reaches the terminal as control characters: escapes are shown instead', async () => {
  const xdg = await isolatedXdg();
  // git-gate logs the path a refused request asked for as it came (the bottle picks every byte of it).
  const hostile = { ...GIT_UNKNOWN, service: 'upload-pack', repo: '/x\u001b]0;owned\u0007\u001b[2J\r.git', refs: [{ ref: 'refs/heads/a\u202eb', old: ZERO, new: ZERO }], reason: 'no such repo \u009b31m' };
  const egress = { ...DENY_HOST, path: '/\u001b[1Aup', reason: 'refused\nDENY forged' };
  await fakeBottle(xdg, 'demo-abc12', jsonl(hostile, egress));
  // The real binary: the in-process runner strips ANSI sequences from what it captures.
  const r = await bottle(['logs', 'demo-abc12'], { env: xdg });
  assert.is(r.exitCode, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.is(lines.length, 2, 'a newline in a field does not forge a line');
  assert.not.match(r.stdout.trimEnd(), /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/, 'no control character but the line ends');
  assert.is(lines[0], '2026-01-01T12:00:06.000Z  DENY   FETCH    git:/x\\u{001B}]0;owned\\u{0007}\\u{001B}[2J\\u{000D}.git refs/heads/a\\u{202E}b    -  no such repo \\u{009B}31m');
  assert.is(lines[1], '2026-01-01T12:00:01.000Z  DENY   GET      evil.example.invalid/\\u{001B}[1Aup  403  refused\\u{000A}DENY forged');
  // Control: the log holds those bytes as the services wrote them, and --json keeps them (JSON escapes them itself).
  const json = await bottle(['logs', 'demo-abc12', '--json'], { env: xdg });
  assert.equal(JSON.parse(json.stdout), [hostile, egress]);
});

test('every class of invisible character, in every kind of line, is escaped on the terminal and \\u-escaped in --json and --follow --json', async () => {
  const xdg = await isolatedXdg();
  const egress = { ...DENY_HOST, host: `h${ALL_HIDDEN}.example`, path: `/p${ALL_HIDDEN}`, reason: `r${ALL_HIDDEN}` };
  const git = { ...GIT_PUSH_DENIED, repo: `app${ALL_HIDDEN}`, refs: [{ ref: `refs/heads/${ALL_HIDDEN}`, old: ZERO, new: ZERO }], reason: `why${ALL_HIDDEN}` };
  const ask = { time: '2026-01-01T12:00:07.000Z', source: 'supervise', event: 'request', id: 'req-0123456789', host: 'x.example.com', paths: [`/${ALL_HIDDEN}`], decision: 'pending', reason: `because${ALL_HIDDEN}` };
  await fakeBottle(xdg, 'demo-abc12', jsonl(egress, git, ask));
  const r = await bottle(['logs', 'demo-abc12'], { env: xdg });
  assert.is(r.exitCode, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.is(lines.length, 3, 'no line is split or forged');
  for (const line of lines) assert.not.match(line, RAW_HIDDEN, 'no hidden character reaches the terminal');
  assert.is(lines[0], `2026-01-01T12:00:01.000Z  DENY   GET      h${ALL_HIDDEN_SHOWN}.example/p${ALL_HIDDEN_SHOWN}  403  r${ALL_HIDDEN_SHOWN}`);
  assert.ok(lines[1]!.includes(`git:app${ALL_HIDDEN_SHOWN} refs/heads/${ALL_HIDDEN_SHOWN}`), lines[1]);
  assert.ok(lines[2]!.includes(`supervise:req-0123456789 x.example.com /${ALL_HIDDEN_SHOWN}`) && lines[2]!.endsWith(`because${ALL_HIDDEN_SHOWN}`), lines[2]);
  for (const [name, , shown] of HIDDEN_SAMPLES) assert.ok(lines[0]!.includes(`<${shown}>`), name);
  // --json: real JSON, the same values, not one hidden character raw (JSON.stringify alone leaves U+2028, bidi marks... raw).
  const json = await bottle(['logs', 'demo-abc12', '--json'], { env: xdg });
  assert.is(json.exitCode, 0, json.stderr);
  assert.not.match(json.stdout.replace(/\n/g, ''), RAW_HIDDEN);
  assert.equal(JSON.parse(json.stdout), [egress, git, ask]);
  assert.match(json.stdout, /\\u2028/);
  // --follow --json: one line per entry, escaped the same way.
  const child = execa(process.execPath, [BIN, 'logs', 'demo-abc12', '--follow', '--json'], { env: { ...xdg, NO_COLOR: '1' }, reject: false });
  try {
    const got = await linesFrom(child.stdout!, 3);
    for (const l of got) assert.not.match(l, RAW_HIDDEN);
    assert.equal(got.map((l) => JSON.parse(l)), [egress, git, ask]);
  } finally {
    child.kill('SIGINT');
    await child;
  }
});

test('control: a plain ASCII log is printed unchanged, and --json is what JSON.stringify writes', async () => {
  const xdg = await isolatedXdg();
  await fakeBottle(xdg, 'demo-abc12', jsonl(ALLOW, GIT_PUSH_DENIED));
  const r = await bottle(['logs', 'demo-abc12'], { env: xdg });
  assert.equal(r.stdout.trimEnd().split('\n'), [
    '2026-01-01T12:00:00.000Z  ALLOW  POST     api.anthropic.com/v1/messages?beta=true  200  routes[0] api.anthropic.com',
    '2026-01-01T12:00:05.000Z  DENY   PUSH     git:app refs/heads/main refs/tags/v1    -  refs/heads/main is protected (protect: main)',
  ]);
  const json = await bottle(['logs', 'demo-abc12', '--json'], { env: xdg });
  assert.is(json.stdout, JSON.stringify([ALLOW, GIT_PUSH_DENIED], null, 2), 'execa drops the last newline');
});

test('a line the gateway wrote before it named its source is still an egress entry', async () => {
  const xdg = await isolatedXdg();
  const { source: _source, ...old } = DENY_HOST;
  await fakeBottle(xdg, 'demo-abc12', jsonl(old));
  const r = await run(['logs', 'demo-abc12'], { env: xdg });
  assert.is(r.stdout, '2026-01-01T12:00:01.000Z  DENY   GET      evil.example.invalid/x  403  no egress route allows host evil.example.invalid\n');
  const json = await run(['logs', 'demo-abc12', '--json'], { env: xdg });
  assert.equal(JSON.parse(json.stdout), [{ ...old, source: 'egress' }]);
});

test('a line of neither kind (no decision, an unknown source) is skipped with a note', async () => {
  const xdg = await isolatedXdg();
  const { logFile } = await fakeBottle(xdg, 'demo-abc12', jsonl({ ...ALLOW, decision: 'maybe' }, { ...GIT_FETCH, source: 'other' }, GIT_FETCH));
  const r = await run(['logs', 'demo-abc12', '--json'], { env: xdg });
  assert.equal(JSON.parse(r.stdout), [GIT_FETCH]);
  assert.match(r.stderr, `${logFile}:1: not an audit entry, skipped`);
  assert.match(r.stderr, `${logFile}:2: not an audit entry, skipped`);
});

test('a bottle with no requests yet: empty output, a note on stderr; --json gives []', async () => {
  const xdg = await isolatedXdg();
  await fakeBottle(xdg, 'demo-abc12', null);
  let r = await run(['logs', 'demo-abc12'], { env: xdg });
  assert.is(r.exitCode, 0);
  assert.is(r.stdout, '');
  assert.match(r.stderr, 'no requests logged yet for demo-abc12');
  r = await run(['logs', 'demo-abc12', '--json'], { env: xdg });
  assert.equal(JSON.parse(r.stdout), []);
});

test('a broken line is skipped with a note naming it; a half-written last line waits', async () => {
  const xdg = await isolatedXdg();
  const { logFile } = await fakeBottle(xdg, 'demo-abc12', jsonl(ALLOW) + 'not json\n' + jsonl(DENY_HOST) + '{"time":"2026');
  const r = await run(['logs', 'demo-abc12', '--json'], { env: xdg });
  assert.is(r.exitCode, 0);
  assert.equal(JSON.parse(r.stdout), [ALLOW, DENY_HOST]);
  assert.match(r.stderr, `${logFile}:2: not an audit entry, skipped`);
});

test('an unknown slug: one clear message and exit 2, as text and under --json', async () => {
  const xdg = await isolatedXdg();
  let r = await bottle(['logs', 'nope-zzzzz'], { env: xdg });
  assert.is(r.exitCode, 2);
  assert.match(r.stderr, /^Error: no bottle named nope-zzzzz\n/);
  assert.match(r.stderr, 'Fix: List bottles with `bottle ls`.');
  assert.not.ok(hasStack(r.stderr));
  r = await bottle(['logs', 'nope-zzzzz', '--json'], { env: xdg });
  assert.is(r.exitCode, 2);
  assert.is(JSON.parse(r.stdout).error.code, 'BOTTLE_NOT_FOUND');
  // Not a slug at all (and never a path out of the state dir).
  r = await bottle(['logs', '../../etc'], { env: xdg });
  assert.is(r.exitCode, 2);
  assert.match(r.stderr, 'is not a bottle slug');
  r = await bottle(['logs'], { env: xdg });
  assert.is(r.exitCode, 2);
  assert.match(r.stderr, /^Error: Missing 1 required arg/);
});

test('--help says what --follow --json prints', async () => {
  const r = await bottle(['logs', '--help']);
  assert.is(r.exitCode, 0);
  assert.match(r.stdout, /--follow.*JSON Lines/s);
});

/** Reads a child's stdout until `count` lines arrived (or fails after a while). */
function linesFrom(stream: NodeJS.ReadableStream, count: number, timeoutMs = 10_000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${count} lines; got:\n${text}`)), timeoutMs);
    const onData = (c: Buffer) => {
      text += c.toString();
      const lines = text.split('\n').filter(Boolean);
      if (lines.length >= count) {
        clearTimeout(timer);
        stream.removeListener('data', onData);
        resolve(lines.slice(0, count));
      }
    };
    stream.on('data', onData);
  });
}

test('--follow prints what is there, then each new entry as it is appended (even in pieces), and ends when the bottle is removed', async () => {
  const xdg = await isolatedXdg();
  const { stateDir, logFile } = await fakeBottle(xdg, 'demo-abc12', jsonl(ALLOW));
  const child = execa(process.execPath, [BIN, 'logs', 'demo-abc12', '--follow'], { env: { ...xdg, NO_COLOR: '1' }, reject: false });
  try {
    assert.match((await linesFrom(child.stdout!, 1))[0]!, 'ALLOW  POST');
    const next = linesFrom(child.stdout!, 1);
    const half = JSON.stringify(DENY_HOST);
    await appendFile(logFile, half.slice(0, 20));
    await new Promise((r) => setTimeout(r, 500));
    await appendFile(logFile, half.slice(20) + '\n');
    assert.match((await next)[0]!, 'DENY   GET      evil.example.invalid/x  403');
    await rm(stateDir, { recursive: true, force: true });
    const r = await child;
    assert.is(r.exitCode, 0);
    assert.match(String(r.stderr), 'bottle demo-abc12 was removed');
  } finally {
    child.kill();
  }
});

test('--follow --json prints JSON Lines, one entry per line; Ctrl-C ends it cleanly', async () => {
  const xdg = await isolatedXdg();
  const { logFile } = await fakeBottle(xdg, 'demo-abc12', jsonl(ALLOW));
  const child = execa(process.execPath, [BIN, 'logs', 'demo-abc12', '--follow', '--json'], { env: { ...xdg, NO_COLOR: '1' }, reject: false });
  try {
    assert.equal(JSON.parse((await linesFrom(child.stdout!, 1))[0]!), ALLOW);
    const next = linesFrom(child.stdout!, 2);
    await appendFile(logFile, jsonl(DENY_TUNNEL, DLP));
    assert.equal((await next).map((l) => JSON.parse(l)), [DENY_TUNNEL, DLP]);
    child.kill('SIGINT');
    const r = await child;
    assert.is(r.exitCode, 0, String(r.stderr));
  } finally {
    child.kill();
  }
});

test.run();
