/**
 * `bottle image prune` on a real engine, limited to a test-made repository so that no other
 * suite's images are touched: per kind the newest stays, an image a container uses stays, the
 * older ones go; an image bot-bottle did not build (its bot-bottle.image label, inherited from the base, set empty) is never listed.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { docker } from '@bot-bottle/backend-kit';
import { pruneImages } from '../../src/index.js';
import { standardImages } from './user-images.js';

const REPO = `bot-bottle-test-prune-${randomBytes(3).toString('hex')}`;
const OTHER = `${REPO}-unlabelled`;
const test = suite('image prune');
const ctx: { dir?: string; container?: string } = {};

async function build(tag: string, n: number, label = true): Promise<void> {
  const dir = path.join(ctx.dir!, `b${n}`);
  const { runtime } = await standardImages();
  await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
  await writeFile(path.join(dir, 'Dockerfile'), `FROM ${runtime}\nRUN echo ${n} > /prune-${n}\n`);
  const r = await docker(['build', '-q', '--label', `bot-bottle.image=${label ? '1' : ''}`, '-t', tag, dir], { timeoutMs: 300_000 });
  assert.is(r.exitCode, 0, r.stderr);
  await new Promise((res) => setTimeout(res, 1100)); // distinct creation times (seconds)
}

test.before(async () => {
  ctx.dir = await mkdtemp(path.join(tmpdir(), 'bbtest-prune-'));
  for (const n of [1, 2, 3]) await build(`${REPO}:v${n}`, n);
  await build(`${OTHER}:v1`, 9, false);
  ctx.container = `${REPO}-user`;
  await docker(['create', '--name', ctx.container, '--label', 'bot-bottle-test=1', `${REPO}:v1`, 'true'], { timeoutMs: 60_000 });
});
test.after(async () => {
  if (ctx.container) await docker(['rm', '-f', ctx.container]);
  for (const t of [`${REPO}:v1`, `${REPO}:v2`, `${REPO}:v3`, `${OTHER}:v1`]) await docker(['image', 'rm', '-f', t]);
  if (ctx.dir) await rm(ctx.dir, { recursive: true, force: true });
});

test('the newest and an image in use stay; the older one goes; dry run first removes nothing', async () => {
  const dry = await pruneImages({ dryRun: true, repositories: [REPO, OTHER] });
  assert.equal(dry.removed, [`${REPO}:v2`]);
  assert.equal(dry.kept.sort(), [`${REPO}:v1`, `${REPO}:v3`]);
  assert.is((await docker(['image', 'inspect', `${REPO}:v2`])).exitCode, 0, 'a dry run removes nothing');
  const real = await pruneImages({ dryRun: false, repositories: [REPO, OTHER] });
  assert.equal(real.removed, [`${REPO}:v2`]);
  assert.ok((await docker(['image', 'inspect', `${REPO}:v2`])).exitCode !== 0, 'v2 is gone');
  for (const kept of [`${REPO}:v1`, `${REPO}:v3`, `${OTHER}:v1`]) assert.is((await docker(['image', 'inspect', kept])).exitCode, 0, kept);
});

test.run();
