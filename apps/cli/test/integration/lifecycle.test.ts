/**
 * The CLI's part of a bottle's life against the real docker engine, through the real `bottle`
 * process: `run` passing the command's streams and exit code through, `ls` (JSON and the table),
 * `exec`, `stop` and their errors, Ctrl-C, parallel launches of one agent. What the backend must do
 * (stdin, a terminal, keep, a killed owner, SIGKILL and abort at each launch phase, then gc, the
 * copied work tree) is in core's backend checks (packages/backend-docker/test/integration/conformance.test.ts).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BIN, cleanupTempDirs, tempDir } from '../helpers.js';

const test = suite('lifecycle (real engine)');

/** A per-run agent name, so that runs of this file (and other tests) never see each other's bottles. */
const AGENT = `life-${process.pid.toString(36)}`;

interface Ctx { env: NodeJS.ProcessEnv; manifest: string; dir: string }
const ctx = {} as Ctx;

function bottle(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: ctx.env, encoding: 'utf8', input: input ?? '', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** This run's bottles as `bottle ls --json` reports them (the engine may hold others'). */
function mine(): { slug: string; agent: string; state: string; backend: string }[] {
  const r = bottle(['ls', '--json']);
  assert.is(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { slug: string; agent: string; state: string; backend: string }[]).filter((b) => b.agent === AGENT);
}

function docker(args: string[]): string {
  return spawnSync('docker', args, { encoding: 'utf8' }).stdout;
}

/** Everything labelled for a slug, across containers, volumes and networks. */
function leftovers(slug: string): string[] {
  const f = `label=bot-bottle.slug=${slug}`;
  return [
    ...docker(['ps', '-aq', '--filter', f]).split('\n'),
    ...docker(['volume', 'ls', '-q', '--filter', f]).split('\n'),
    ...docker(['network', 'ls', '-q', '--filter', f]).split('\n'),
  ].filter(Boolean);
}

test.before(async () => {
  ctx.dir = await tempDir('bottle-life-');
  ctx.manifest = path.join(ctx.dir, 'bottle.json');
  await writeFile(ctx.manifest, JSON.stringify({ bottles: { dev: {} }, agents: { [AGENT]: { bottle: 'dev', provisioners: [] } } }));
  ctx.env = { ...process.env, XDG_STATE_HOME: path.join(ctx.dir, 'state'), BOT_BOTTLE_MANIFEST: ctx.manifest };
  const built = bottle(['image', 'build']);
  assert.is(built.code, 0, built.stderr);
});

test.after(cleanupTempDirs);

test('run: the command\'s stdout, stderr and exit code are the CLI\'s', () => {
  const r = bottle(['run', AGENT, '-q', '--', 'sh', '-c', 'echo to-stdout; echo to-stderr >&2; exit 7']);
  assert.is(r.code, 7, r.stderr);
  assert.is(r.stdout, 'to-stdout\n');
  assert.match(r.stderr, /to-stderr/);
  assert.equal(mine(), [], 'nothing is left after the run');
});

test('--keep, ls, exec, stop', () => {
  const run = bottle(['run', AGENT, '--keep', '--', 'true']);
  assert.is(run.code, 0, run.stderr);
  const list = mine();
  try {
    assert.is(list.length, 1);
    checkKept(list[0]!);
  } finally {
    for (const k of list) bottle(['stop', k.slug]);
  }
});

function checkKept(b: { slug: string; agent: string; state: string; backend: string }) {
  assert.is(b.agent, AGENT);
  assert.is(b.state, 'running');
  assert.is(b.backend, 'docker');
  const human = bottle(['ls']);
  assert.match(human.stdout, new RegExp(`^SLUG\\s[^]*^${b.slug}\\s+${AGENT}\\s+docker\\s+running\\s`, 'm'));
  const ex = bottle(['exec', b.slug, '--', 'sh', '-c', 'id -un; exit 3']);
  assert.is(ex.code, 3);
  assert.is(ex.stdout, 'node\n');
  const stop = bottle(['stop', b.slug]);
  assert.is(stop.code, 0, stop.stderr);
  assert.equal(leftovers(b.slug), []);
  const again = bottle(['stop', b.slug]);
  assert.is(again.code, 2);
  assert.match(again.stderr, /no bottle named/);
  assert.not.match(again.stderr, /\n\s+at /, 'no stack trace');
}

test('exec on an unknown bottle is a clear error', () => {
  const r = bottle(['exec', 'nope-aaaaa', '--', 'true']);
  assert.is(r.code, 2);
  assert.match(r.stderr, /Error: no bottle named nope-aaaaa\nFix: /);
});

test('two launches of one agent are independent', async () => {
  const runOne = () => new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, 'run', AGENT, '-q', '--', 'sh', '-c', 'echo $HOSTNAME; sleep 2'], { env: ctx.env });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    child.on('close', (code) => resolve({ code, out }));
  });
  const [a, b] = await Promise.all([runOne(), runOne()]);
  assert.is(a.code, 0);
  assert.is(b.code, 0);
  assert.is.not(a.out.trim(), b.out.trim(), 'two different containers');
});

/** Starts `bottle run` in its own process group and resolves when stderr shows the phase. */
function startUntil(phase: RegExp): Promise<{ pid: number; slugSoFar: () => string; done: Promise<number | null> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'run', AGENT, '--', 'sleep', '120'], { env: ctx.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    const done = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    child.stderr.on('data', (b) => {
      err += b;
      if (phase.test(err)) resolve({ pid: child.pid!, slugSoFar: () => err, done });
    });
    child.on('close', () => reject(new Error(`run ended before ${phase}: ${err}`)));
  });
}

test('Ctrl-C (SIGINT) during a run removes the bottle and exits 130', async () => {
  const run = await startUntil(/\] ready: /);
  const slug = /ready: (\S+)/.exec(run.slugSoFar())![1]!;
  process.kill(run.pid, 'SIGINT');
  const code = await run.done;
  assert.is(code, 130);
  assert.equal(leftovers(slug), []);
});

test.run();
