/**
 * `bottle port`: a server the agent runs in a real bottle answers through a host loopback port,
 * carried over the backend's channel; the listener is loopback-only, `bottle ls` shows it, and
 * ending the command closes it. The bottle still has loopback alone and cannot reach the host's
 * forwarded port (its 127.0.0.1 is its own).
 */
import { execFile, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startWorld, type World } from '../bundle/helpers.js';

const CLI = path.resolve(import.meta.dirname, '../../../../apps/cli/bin/run.js');
const ctx: { world?: World; slug?: string; manifest?: string } = {};
const test = suite('bottle port');

const env = () => ({ ...process.env, XDG_STATE_HOME: ctx.world!.stateHome, BOT_BOTTLE_BUNDLE_NETWORK: ctx.world!.network });
const bottle = (args: string[]) => promisify(execFile)(process.execPath, [CLI, ...args], { env: env(), timeout: 300_000 });

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const SERVER = "require('http').createServer((q,s)=>s.end('from inside the bottle '+q.url)).listen(3000,'127.0.0.1')";

test.before(async () => {
  ctx.world = await startWorld();
  ctx.manifest = path.join(ctx.world.dir, 'bottle.json');
  await writeFile(ctx.manifest, JSON.stringify({ bottles: { dev: {} }, agents: { demo: { bottle: 'dev', provisioners: [] } } }));
  const r = await bottle(['run', 'demo', '--manifest', ctx.manifest, '--keep', '--', 'sh', '-c', `setsid node -e "${SERVER}" >/dev/null 2>&1 & sleep 1; echo started`]);
  ctx.slug = /ready: (demo-[a-z0-9]{5})/.exec(r.stderr)![1]!;
});
test.after(async () => {
  if (ctx.slug) await bottle(['stop', ctx.slug]).catch(() => undefined);
  await ctx.world?.cleanup();
});

test('a server in the bottle answers through the host port; loopback only; bottle ls shows it; Ctrl-C closes it', async () => {
  const hostPort = await freePort();
  const child = spawn(process.execPath, [CLI, 'port', ctx.slug!, `3000:${hostPort}`], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b));
  try {
    for (let i = 0; i < 100 && !out.includes('forwarding'); i++) await new Promise((r) => setTimeout(r, 100));
    assert.is(out.trim(), `forwarding 127.0.0.1:${hostPort} -> ${ctx.slug}:3000`);
    for (const q of ['/one', '/two']) {
      const res = await fetch(`http://127.0.0.1:${hostPort}${q}`);
      assert.is(await res.text(), `from inside the bottle ${q}`);
    }
    const ls = await bottle(['ls']);
    assert.match(ls.stdout, new RegExp(`${ctx.slug}.*ports 127\\.0\\.0\\.1:${hostPort}->3000`));
    // Inside, 127.0.0.1 is the bottle's own: the host's forwarded port is not there, and no interface but lo.
    const inside = await bottle(['exec', ctx.slug!, '--', 'sh', '-c', `node -e "require('net').connect(${hostPort},'127.0.0.1').on('error',e=>{console.log(e.code);process.exit(0)}).on('connect',()=>{console.log('CONNECTED');process.exit(0)})"; ls /sys/class/net`]);
    assert.equal(inside.stdout.trim().split('\n'), ['ECONNREFUSED', 'lo']);
  } finally {
    child.kill('SIGINT');
    await new Promise((r) => child.once('close', r));
  }
  const after = await fetch(`http://127.0.0.1:${hostPort}/`).then(() => 'answered', (e: Error & { cause?: { code?: string } }) => e.cause?.code ?? e.message);
  assert.is(after, 'ECONNREFUSED', 'the listener is gone');
  assert.not.match((await bottle(['ls'])).stdout, 'ports ', 'bottle ls no longer shows it');
});

test('a port nothing listens on in the bottle: the connection is closed, the forwarder goes on', async () => {
  const hostPort = await freePort();
  const child = spawn(process.execPath, [CLI, 'port', ctx.slug!, `3999:${hostPort}`], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b));
  child.stderr.on('data', (b: Buffer) => (err += b));
  try {
    for (let i = 0; i < 100 && !out.includes('forwarding'); i++) await new Promise((r) => setTimeout(r, 100));
    const r = await fetch(`http://127.0.0.1:${hostPort}/`).then(() => 'answered', () => 'closed');
    assert.is(r, 'closed');
    for (let i = 0; i < 50 && !err.includes('ECONNREFUSED'); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(err, 'ECONNREFUSED');
    assert.is(child.exitCode, null, 'still forwarding');
  } finally {
    child.kill('SIGINT');
    await new Promise((r) => child.once('close', r));
  }
});

test.run();
