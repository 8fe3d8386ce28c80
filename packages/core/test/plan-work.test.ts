/** --copy-cwd in a git repo: the host repo's exchange copy as a gate entry that takes bottle/<slug>/* only. */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BUNDLE_WORK_REPO, makePlan, validateManifest } from '../src/index.js';
import { cleanupTempDirs, rejects, tempDir } from './helpers.js';

const test = suite('plan: work back');
test.after(cleanupTempDirs);

async function planIn(agent: Record<string, unknown>, o: { repo: boolean; flag: boolean; git?: object[] }) {
  const dir = await tempDir();
  const cwd = path.join(dir, 'project');
  await mkdir(o.repo ? path.join(cwd, '.git') : cwd, { recursive: true });
  const loaded = await validateManifest({ bottles: { dev: o.git ? { git: o.git } : {} }, agents: { demo: { bottle: 'dev', ...agent } } }, '<t>', dir);
  return makePlan({ manifest: loaded, agentName: 'demo', copyCwd: o.flag, userCwd: cwd }, { env: { XDG_STATE_HOME: path.join(dir, 'state') }, seed: 's' });
}

test('--copy-cwd in a repo: the exchange copy is a gate entry that takes pushes only under bottle/<slug>/, with the limits', async () => {
  const p = await planIn({}, { repo: true, flag: true });
  assert.ok(p.workBack);
  assert.is(p.workBack!.namespace, `bottle/${p.slug}`);
  assert.is(p.workBack!.exchange, path.join(p.stateDir, 'work.git'));
  assert.is(p.workBack!.recordFile, path.join(path.dirname(path.dirname(p.stateDir)), 'work', `${p.slug}.json`), 'the record outlives the state dir');
  assert.equal(p.gitGate.upstreams, [{ name: 'workspace', upstream: `file://${BUNDLE_WORK_REPO}`, identityFile: null, knownHosts: null, push: true, protect: [], refs: [], only: [`refs/heads/bottle/${p.slug}/*`], maxPushBytes: 512 * 2 ** 20, maxRefsPerPush: 100 }]);
});

test('"copyCwd" on the agent makes it the default, with its own limits; outside a repo there is nothing to bring back', async () => {
  const p = await planIn({ copyCwd: { maxPushMiB: 8, maxBranches: 3 } }, { repo: true, flag: false });
  assert.is(p.copyCwd, true);
  assert.equal([p.workBack!.maxPushBytes, p.workBack!.maxBranches], [8 * 2 ** 20, 3]);
  const plain = await planIn({ copyCwd: true }, { repo: false, flag: false });
  assert.equal([plain.copyCwd, plain.workBack, plain.gitGate.upstreams], [true, null, []]);
  const off = await planIn({}, { repo: true, flag: false });
  assert.equal([off.copyCwd, off.workBack], [false, null]);
});

test('a git entry named "workspace" cannot share the name the host repo gets', async () => {
  const err = await rejects(() => planIn({}, { repo: true, flag: true, git: [{ Name: 'workspace', Upstream: 'https://example.com/x.git' }] }));
  assert.match(err.message, 'declares a git entry named "workspace", the name --copy-cwd gives the host repo');
});

test.run();
