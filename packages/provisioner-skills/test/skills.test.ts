/** Port of the reference's TestProvisionSkills, against real skill dirs on disk. */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import skills from '../src/index.js';
import { cleanupTempDirs, contextFor, planFor, provisionForTest, RecordingTarget, rejects, world, type World } from '@bot-bottle/core/testing';

const SKILLS = '/home/node/.claude/skills';
const test = suite('skills');
test.after.each(cleanupTempDirs);

/** A skill dir of several files, as Claude Code reads them (SKILL.md plus helpers). */
async function makeSkill(root: string, name: string): Promise<string> {
  const dir = path.join(root, name);
  await mkdir(path.join(dir, 'scripts'), { recursive: true });
  await writeFile(path.join(dir, 'SKILL.md'), `---\nname: ${name}\ndescription: test skill\n---\nDo ${name}.\n`);
  await writeFile(path.join(dir, 'scripts', 'run.sh'), '#!/bin/sh\necho ok\n');
  await writeFile(path.join(dir, 'README.md'), 'notes\n');
  return dir;
}
const besideManifest = (w: World) => path.join(w.base, 'skills');
const inHome = (w: World) => path.join(w.home, '.claude', 'skills');

test('no-op when the agent has no skills', async () => {
  const { target } = await provisionForTest(skills, { skills: [] });
  assert.equal(target.calls, []);
});

test('mkdir once, then per skill rm -rf, one copy of the whole dir, chown -R', async () => {
  const w = await world();
  const initPrd = await makeSkill(besideManifest(w), 'init-prd');
  const verify = await makeSkill(inHome(w), 'verify');
  const { target } = await provisionForTest(skills, { skills: ['init-prd', 'verify'] }, { world: w });

  // mkdir -p once + (rm -rf + chown) per skill = 5 execs. The reference runs all as root; here the
  // mkdir of a dir in the agent's home runs as the agent, so the dirs it creates are the agent's.
  assert.is(target.execs.length, 5);
  assert.equal(target.execs[0]!.argv, ['mkdir', '-p', SKILLS]);
  assert.equal(target.execs[0]!.options, { user: 'node', env: { HOME: '/home/node', USER: 'node' } });
  // One copy per skill (the backend copies a whole tree at once), not one per file.
  assert.is(target.copies.length, 2);
  assert.equal(
    target.calls.map((c) => (c.kind === 'exec' ? c.argv : ['copyIn', c.hostPath, c.guestPath, String(c.isDirectory)])),
    [
      ['mkdir', '-p', SKILLS],
      ['rm', '-rf', `${SKILLS}/init-prd`],
      ['copyIn', initPrd, `${SKILLS}/init-prd`, 'true'],
      ['chown', '-R', 'node:node', `${SKILLS}/init-prd`],
      ['rm', '-rf', `${SKILLS}/verify`],
      ['copyIn', verify, `${SKILLS}/verify`, 'true'],
      ['chown', '-R', 'node:node', `${SKILLS}/verify`],
    ],
  );
  for (const e of target.execs.slice(1)) assert.equal(e.options, {});
});

test('a skill beside the manifest wins over one of the same name in ~/.claude/skills', async () => {
  const w = await world();
  const local = await makeSkill(besideManifest(w), 'init-prd');
  await makeSkill(inHome(w), 'init-prd');
  const { target } = await provisionForTest(skills, { skills: ['init-prd'] }, { world: w });
  assert.is(target.copies[0]!.hostPath, local);
});

test('the guest skills dir is overridable by CLAUDE_BOTTLE_GUEST_SKILLS_DIR', async () => {
  const w = await world();
  await makeSkill(besideManifest(w), 'init-prd');
  const { target } = await provisionForTest(skills, { skills: ['init-prd'], env: { CLAUDE_BOTTLE_GUEST_SKILLS_DIR: '/opt/agent-skills' } }, { world: w });
  assert.equal(target.execs[0]!.argv, ['mkdir', '-p', '/opt/agent-skills']);
  assert.equal(target.execs[0]!.options, {}, 'outside the agent\'s home, root makes the dir');
  assert.is(target.copies[0]!.guestPath, '/opt/agent-skills/init-prd');
});

test('BOT_BOTTLE_GUEST_SKILLS_DIR wins over the original CLAUDE_BOTTLE_GUEST_SKILLS_DIR', async () => {
  const w = await world();
  await makeSkill(besideManifest(w), 'init-prd');
  const env = { BOT_BOTTLE_GUEST_SKILLS_DIR: '/srv/skills', CLAUDE_BOTTLE_GUEST_SKILLS_DIR: '/opt/agent-skills' };
  const { target } = await provisionForTest(skills, { skills: ['init-prd'], env }, { world: w });
  assert.is(target.copies[0]!.guestPath, '/srv/skills/init-prd');
});

test('a missing skill stops the launch, naming every place searched, before any call', async () => {
  const w = await world();
  const plan = await planFor(w, { skills: ['init-prd'] });
  assert.is(plan.skills[0]!.found, false);
  const { ctx, target } = contextFor(plan);
  const err = await rejects(() => skills.apply(ctx));
  assert.is(err.code, 'PROVISIONER_FAILED');
  assert.is(err.message, 'skill "init-prd" of agent "demo" not found');
  assert.equal(err.details, [`init-prd: searched ${path.join(w.base, 'skills', 'init-prd')}, ${path.join(w.home, '.claude', 'skills', 'init-prd')}`]);
  assert.match(err.suggestions[0]!, 'agents.demo.skills');
  assert.equal(target.calls, []);
});

test('every missing skill is named at once, and none is copied', async () => {
  const w = await world();
  await makeSkill(besideManifest(w), 'present');
  const target = new RecordingTarget();
  const err = await rejects(() => provisionForTest(skills, { skills: ['gone-a', 'present', 'gone-b'] }, { world: w, target }));
  assert.is(err.message, 'skills "gone-a", "gone-b" of agent "demo" not found');
  assert.is(err.details.length, 2);
  assert.ok(err.details[0]!.startsWith('gone-a: searched '));
  assert.ok(err.details[1]!.startsWith('gone-b: searched '));
  assert.equal(target.calls, []);
});

test('apply re-checks the disk: a skill removed after planning fails, one added after planning is copied', async () => {
  const w = await world();
  const removed = await makeSkill(besideManifest(w), 'removed');
  const plan = await planFor(w, { skills: ['removed', 'added'] });
  assert.equal(plan.skills.map((s) => s.found), [true, false]);
  await rm(removed, { recursive: true });
  const added = await makeSkill(inHome(w), 'added');
  const first = contextFor(plan);
  const err = await rejects(() => skills.apply(first.ctx));
  assert.is(err.message, 'skill "removed" of agent "demo" not found');

  await makeSkill(besideManifest(w), 'removed');
  const second = contextFor(plan);
  await skills.apply(second.ctx);
  assert.equal(second.target.copies.map((c) => c.hostPath), [path.join(w.base, 'skills', 'removed'), added]);
});

test('a file where a skill dir should be does not count as the skill', async () => {
  const w = await world();
  await mkdir(besideManifest(w), { recursive: true });
  await writeFile(path.join(besideManifest(w), 'init-prd'), 'not a dir');
  const { ctx } = contextFor(await planFor(w, { skills: ['init-prd'] }));
  await rejects(() => skills.apply(ctx));
});

test('a failing guest command stops the launch with its output', async () => {
  const w = await world();
  await makeSkill(besideManifest(w), 'init-prd');
  const target = new RecordingTarget();
  target.respond = (argv) => (argv[0] === 'mkdir' ? { exitCode: 1, stdout: '', stderr: 'mkdir: Read-only file system\n' } : { exitCode: 0, stdout: '', stderr: '' });
  const err = await rejects(() => provisionForTest(skills, { skills: ['init-prd'] }, { world: w, target }));
  assert.is(err.message, `\`mkdir -p ${SKILLS}\` failed in recording target (exit 1)`);
  assert.equal(err.details, ['mkdir: Read-only file system']);
  assert.is(target.copies.length, 0);
});

test.run();
