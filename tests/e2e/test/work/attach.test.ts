/**
 * `bottle attach`: a kept bottle's agent (Claude Code's real CLI, headless against the Messages API
 * stand-in) started again in the same bottle after it exited, and after the `bottle run` that
 * started it was killed; `bottle ls` says whether the agent runs.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startWorld, type World } from '../bundle/helpers.js';

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
  for (let i = 0; i < 60 && a.code === 2 && a.stderr.includes('still running'); i++) {
    await new Promise((r) => setTimeout(r, 1000));
    a = await bottle(['attach', slug]);
  }
  assert.is(a.code, 0, a.stderr);
  assert.match(a.stdout, REPLY);
});

test.run();
