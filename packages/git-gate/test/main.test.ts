/**
 * The entry point the bundle runs: `node dist/main.js CONFIG.json`.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cleanup, commitFile, freePort, git, gitOk, makeUpstream, tmpDir } from './helpers.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

function startMain(configPath: string): Promise<{ stop: () => Promise<number | null>; line: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      const m = /git-gate: listening on .*\n/.exec(err);
      if (m)
        resolve({
          line: m[0],
          stop: () =>
            new Promise((r) => {
              child.once('exit', (code) => r(code));
              child.kill('SIGTERM');
            }),
        });
    });
    child.once('exit', (code) => reject(new Error(`main exited ${code}: ${err}`)));
  });
}

const Main = suite('dist/main.js');

Main('serves from a TCP config, and stops cleanly on SIGTERM', async () => {
  const root = tmpDir();
  try {
    const bare = await makeUpstream(root, 'app');
    const port = await freePort();
    const auditLog = path.join(root, 'log', 'audit.jsonl');
    const config = path.join(root, 'git-gate.json');
    writeFileSync(config, JSON.stringify({ listen: { host: '127.0.0.1', port }, dataDir: path.join(root, 'data'), auditLog, upstreams: [{ name: 'app', upstream: `file://${bare}`, identityFile: null, knownHosts: null, push: true, protect: ['main'] }] }));
    const main = await startMain(config);
    assert.is(main.line, `git-gate: listening on git://127.0.0.1:${port} serving app.git\n`);
    const home = path.join(root, 'home');
    const work = path.join(root, 'work');
    await gitOk(['clone', '--quiet', `git://127.0.0.1:${port}/app.git`, work], { home });
    await commitFile(work, home, 'a.txt', 'a\n');
    const r = await git(['push', 'origin', 'HEAD:topic'], { cwd: work, home });
    assert.is(r.exitCode, 0, r.all);
    assert.is(await gitOk(['rev-parse', 'topic'], { cwd: bare, home }), await gitOk(['rev-parse', 'HEAD'], { cwd: work, home }));
    const lines = readFileSync(auditLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { service: string; decision: string });
    assert.equal(lines.map((l) => `${l.service} ${l.decision}`), ['upload-pack allow', 'receive-pack allow']);
    assert.is(await main.stop(), 0);
  } finally {
    cleanup(root);
  }
});

Main('listens on a unix socket; a client reaches it through a forwarder', async () => {
  const root = tmpDir();
  const forwarder = net.createServer();
  try {
    const bare = await makeUpstream(root, 'app');
    const socket = path.join(root, 'git.sock');
    const config = path.join(root, 'git-gate.json');
    writeFileSync(config, JSON.stringify({ listen: { socket }, dataDir: path.join(root, 'data'), upstreams: [{ name: 'app', upstream: `file://${bare}`, identityFile: null, knownHosts: null, push: false, protect: [] }] }));
    const main = await startMain(config);
    assert.is(main.line, `git-gate: listening on ${socket} serving app.git (read-only)\n`);
    // The bottle side: loopback port -> the gate's socket (as the bottle's forwarder does).
    forwarder.on('connection', (c) => {
      const u = net.connect(socket);
      c.pipe(u).pipe(c);
      u.on('error', () => c.destroy());
      c.on('error', () => u.destroy());
    });
    await new Promise<void>((r) => forwarder.listen(0, '127.0.0.1', () => r()));
    const port = (forwarder.address() as net.AddressInfo).port;
    const home = path.join(root, 'home');
    const out = await gitOk(['ls-remote', `git://127.0.0.1:${port}/app.git`], { home });
    assert.match(out, /refs\/heads\/main/);
    const push = await git(['push', `git://127.0.0.1:${port}/app.git`, 'main:refs/heads/x'], { cwd: bare, home });
    assert.match(push.all, /read-only in this bottle \(push: false\)/);
    assert.is(await main.stop(), 0);
  } finally {
    forwarder.close();
    cleanup(root);
  }
});

Main('a bad config exits 2 with one message naming each problem and the fix', async () => {
  const root = tmpDir();
  try {
    const config = path.join(root, 'git-gate.json');
    writeFileSync(config, JSON.stringify({ dataDir: path.join(root, 'data'), upstreams: [{ name: 'app', upstream: 'ssh://git@example.invalid/app.git', identityFile: path.join(root, 'missing_key'), knownHosts: null, push: true, protect: [] }] }));
    const r = await execa(process.execPath, [MAIN, config], { reject: false });
    assert.is(r.exitCode, 2);
    assert.match(r.stderr, /^git-gate: config .*git-gate\.json is not valid\n/);
    assert.match(r.stderr, /upstreams\[0\]\.identityFile: .*missing_key does not exist/);
    assert.match(r.stderr, /upstreams\[0\]\.knownHosts: "app" is an ssh upstream and no known_hosts is given/);
    assert.match(r.stderr, /fix: /);
    assert.not.match(r.stderr, / {4}at /, 'no stack trace');
    const none = await execa(process.execPath, [MAIN, path.join(root, 'nope.json')], { reject: false });
    assert.is(none.exitCode, 2);
    assert.match(none.stderr, /cannot read its config .*nope\.json \(ENOENT\)/);
  } finally {
    cleanup(root);
  }
});

Main.run();
