/**
 * `bottle attach`: a kept bottle's agent (Claude Code's real CLI against the Messages API stand-in).
 * Interactive, on a real pseudo-terminal: the terminal detaches with Ctrl-\ and the agent keeps
 * running; attach joins the same running agent (its next model call carries the conversation so
 * far), also after the `bottle run` that held it was killed; once it exited, attach starts it again.
 * Headless: started again in the same bottle after it exited, and after the `bottle run` that
 * started it was killed. `bottle ls` says which.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startWorld, type World } from '../bundle/helpers.js';
import { onScreen, Terminal } from '../helpers/terminal.js';

const CLI = path.resolve(import.meta.dirname, '../../../../apps/cli/bin/run.js');
const REPLY = 'Hello from the test upstream';
const ctx: { world?: World; manifest?: string; slugs: string[] } = { slugs: [] };
const test = suite('bottle attach');

const KEY = `bbcanary-attach-${randomBytes(8).toString('hex')}`;
const env = () => ({ ...process.env, XDG_STATE_HOME: ctx.world!.stateHome, BOT_BOTTLE_BUNDLE_NETWORK: ctx.world!.network, BOT_BOTTLE_UPSTREAM_CA_CERTS: ctx.world!.upstream.caFile, ANTHROPIC_API_KEY: KEY });
const bottle = (args: string[]) =>
  promisify(execFile)(process.execPath, [CLI, ...args], { env: env(), timeout: 300_000 }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
  );

test.before(async () => {
  ctx.world = await startWorld();
  ctx.manifest = path.join(ctx.world.dir, 'bottle.json');
  const routes = [{ host: 'api.anthropic.com', auth: { header: 'x-api-key', env: 'ANTHROPIC_API_KEY' }, to: ctx.world.upstream.url }];
  await writeFile(ctx.manifest, JSON.stringify({ bottles: { dev: { egress: { routes } } }, agents: { demo: { bottle: 'dev', provisioners: ['ca'] } } }));
});
test.after(async () => {
  for (const s of ctx.slugs) await bottle(['stop', s]);
  await ctx.world?.cleanup();
});

/** The model calls the stand-in saw after `from`, with the text of their messages. */
async function modelCalls(from: number): Promise<string[]> {
  return (await ctx.world!.upstream.requests()).slice(from).filter((q) => q.method === 'POST' && q.url.startsWith('/v1/messages') && q.body.includes('"tools"')).map((q) => q.body);
}

async function waitForCall(from: number, text: string): Promise<string> {
  for (let i = 0; i < 1200; i++) {
    const hit = (await modelCalls(from)).find((b) => b.includes(text));
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no model call carried ${JSON.stringify(text)}`);
}

test('interactive: Ctrl-\\ detaches and the agent keeps running; attach joins the same agent (its conversation goes on); after it exits, ls says so', async () => {
  const run = new Terminal(env(), ['run', 'demo', '--manifest', ctx.manifest!, '--keep']);
  let slug: string;
  try {
    slug = (await run.waitFor(/ready: (demo-[a-z0-9]{5}) .*Ctrl-\\ detaches/, 'the ready line'))[1]!;
    ctx.slugs.push(slug);
    await run.waitFor(/for shortcuts|bypass permissions/i, "Claude Code's prompt");
    const from = (await ctx.world!.upstream.requests()).length;
    await run.type('first words\r');
    await waitForCall(from, 'first words');
    await run.waitFor(onScreen(REPLY), 'the reply');
    run.child.stdin.write('\x1c'); // Ctrl-\: detach
    assert.is(await run.exited, 0, run.plain().slice(-2000));
    assert.match(run.plain(), `detached: the agent of ${slug} still runs`);
  } finally {
    run.kill();
  }
  assert.match((await bottle(['ls'])).stdout, new RegExp(`${slug}.*agent running \\(bottle attach\\)`));

  const a = new Terminal(env(), ['attach', slug]);
  try {
    await a.waitFor(new RegExp(`attaching to the agent of ${slug}`), 'the attach note');
    await new Promise((r) => setTimeout(r, 1500));
    const from = (await ctx.world!.upstream.requests()).length;
    await a.type('second words\r');
    const body = await waitForCall(from, 'second words');
    assert.ok(body.includes('first words'), 'the same agent: its model call carries the conversation before the detach');
    await a.waitFor(onScreen(REPLY), 'the second reply');
    a.child.stdin.write('\x03');
    await new Promise((r) => setTimeout(r, 500));
    a.child.stdin.write('\x03'); // Ctrl-C twice: Claude Code exits
    assert.is(await a.exited, 0, a.plain().slice(-2000));
    assert.not.match(a.plain(), 'detached:');
  } finally {
    a.kill();
  }
  assert.match((await bottle(['ls'])).stdout, new RegExp(`${slug}.*agent exited \\(bottle attach\\)`));
});

test('interactive: after the `bottle run` holding it was killed, attach joins the agent that kept running', async () => {
  const run = new Terminal(env(), ['run', 'demo', '--manifest', ctx.manifest!, '--keep']);
  let slug: string;
  try {
    slug = (await run.waitFor(/ready: (demo-[a-z0-9]{5})/, 'the ready line'))[1]!;
    ctx.slugs.push(slug);
    await run.waitFor(/for shortcuts|bypass permissions/i, "Claude Code's prompt");
    const from = (await ctx.world!.upstream.requests()).length;
    await run.type('before the kill\r');
    await waitForCall(from, 'before the kill');
  } finally {
    run.kill(); // the terminal and `bottle run` with it, at once
  }
  await run.exited;
  const a = new Terminal(env(), ['attach', slug]);
  try {
    await a.waitFor(new RegExp(`attaching to the agent of ${slug}`), 'the attach note (the agent still runs)');
    await new Promise((r) => setTimeout(r, 1500));
    const from = (await ctx.world!.upstream.requests()).length;
    await a.type('after the kill\r');
    assert.ok((await waitForCall(from, 'after the kill')).includes('before the kill'), 'the same agent, its conversation intact');
    a.child.stdin.write('\x1c');
    assert.is(await a.exited, 0);
    assert.match(a.plain(), `detached: the agent of ${slug} still runs`);
  } finally {
    a.kill();
  }
  // Not from a terminal: the running agent cannot be joined, and attach says why.
  const refused = await bottle(['attach', slug]);
  assert.is(refused.code, 2);
  assert.match(refused.stderr, `attaching to the running agent of ${slug} needs a terminal`);
});

test('after the agent exited: attach starts it again in the same bottle; ls says it exited', async () => {
  const r = await bottle(['run', 'demo', '--manifest', ctx.manifest!, '--keep', '--print', 'say hi']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, REPLY);
  const slug = /ready: (demo-[a-z0-9]{5})/.exec(r.stderr)![1]!;
  ctx.slugs.push(slug);
  assert.match((await bottle(['ls'])).stdout, new RegExp(`${slug}.*agent exited \\(bottle attach\\)`));
  const a = await bottle(['attach', slug]);
  assert.is(a.code, 0, a.stderr);
  assert.match(a.stdout, REPLY, 'the same agent, with its prompt, answered again');
  const none = await bottle(['attach', 'demo-zzzzz']);
  assert.is(none.code, 2);
  assert.match(none.stderr, 'bottle demo-zzzzz has no agent to attach to');
});

test('after `bottle run` was killed: the kept bottle stays and its agent can be started again', async () => {
  const child = spawn(process.execPath, [CLI, 'run', 'demo', '--manifest', ctx.manifest!, '--keep', '--print', 'say hi'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (b: Buffer) => (err += b));
  for (let i = 0; i < 600 && !/ready: demo-/.test(err); i++) await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('close', r));
  const slug = /ready: (demo-[a-z0-9]{5})/.exec(err)![1]!;
  ctx.slugs.push(slug);
  let a = await bottle(['attach', slug]);
  for (let i = 0; i < 60 && a.code === 2 && a.stderr.includes('running without a terminal session'); i++) {
    await new Promise((r) => setTimeout(r, 1000));
    a = await bottle(['attach', slug]);
  }
  assert.is(a.code, 0, a.stderr);
  assert.match(a.stdout, REPLY);
});

test.run();
