/** Port of the reference's TestProvisionPrompt, plus the staged file and the agent argument. */
import { readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import prompt from '../src/index.js';
import { cleanupTempDirs, contextFor, planFor, provisionForTest, RecordingTarget, rejects, world } from '@bot-bottle/core/testing';

const GUEST = '/home/node/.claude-bottle-prompt.txt';
const test = suite('prompt');
test.after.each(cleanupTempDirs);

test('copies the staged prompt file to the guest path', async () => {
  const { plan, target, world: w } = await provisionForTest(prompt);
  assert.is(plan.promptFile, path.join(w.stateHome, 'bot-bottle', 'bottles', plan.slug, 'agent', 'prompt.txt'));
  assert.equal(target.copies, [{ kind: 'copyIn', hostPath: plan.promptFile, guestPath: GUEST, isDirectory: false, content: '' }]);
});

test("returns the guest path as the agent's instructions when the agent has a prompt (no agent's own flag)", async () => {
  const { result, target } = await provisionForTest(prompt, { prompt: 'You are a helpful assistant.' });
  assert.equal(result, { instructions: GUEST });
  assert.is(target.copies[0]!.content, 'You are a helpful assistant.');
});

test('returns nothing when the agent has no prompt, but the file is still copied', async () => {
  const { result, target } = await provisionForTest(prompt, { prompt: '' });
  assert.is(result, undefined);
  assert.is(target.copies.length, 1);
  assert.is(target.copies[0]!.content, '');
});

test('chowns to node and chmods 600 after the copy (the copy lands owned by root)', async () => {
  const { target } = await provisionForTest(prompt, { prompt: 'hi' });
  assert.equal(
    target.calls.map((c) => (c.kind === 'exec' ? { kind: c.kind, argv: c.argv, options: c.options } : { kind: c.kind, guestPath: c.guestPath })),
    [
      { kind: 'copyIn', guestPath: GUEST },
      // Run as root (the Target's default user): only root can give the file away.
      { kind: 'exec', argv: ['chown', 'node:node', GUEST], options: {} },
      { kind: 'exec', argv: ['chmod', '600', GUEST], options: {} },
    ],
  );
});

test('the staged file holds the prompt exactly, mode 600, in a dir only the user can enter', async () => {
  const text = 'Line one\n  indented — ünïcode\n\nlast line without newline';
  const { plan } = await provisionForTest(prompt, { prompt: text });
  assert.is(await readFile(plan.promptFile, 'utf8'), text);
  assert.is((await stat(plan.promptFile)).mode & 0o777, 0o600);
  assert.is((await stat(path.dirname(plan.promptFile))).mode & 0o777, 0o700);
});

test('an existing staged file is rewritten and its mode tightened to 600', async () => {
  const plan = await planFor(await world(), { prompt: 'new' });
  await mkdir(path.dirname(plan.promptFile), { recursive: true });
  await writeFile(plan.promptFile, 'old and longer', { mode: 0o644 });
  await prompt.apply(contextFor(plan).ctx);
  assert.is(await readFile(plan.promptFile, 'utf8'), 'new');
  assert.is((await stat(plan.promptFile)).mode & 0o777, 0o600);
});

test('a failed chown stops the launch, naming the command and the guest', async () => {
  const target = new RecordingTarget();
  target.respond = (argv) => (argv[0] === 'chown' ? { exitCode: 1, stdout: '', stderr: "chown: invalid user: 'node:node'\n" } : { exitCode: 0, stdout: '', stderr: '' });
  const err = await rejects(() => provisionForTest(prompt, { prompt: 'hi' }, { target }));
  assert.is(err.code, 'PROVISIONER_FAILED');
  assert.match(err.message, `\`chown node:node ${GUEST}\` failed in recording target (exit 1)`);
  assert.equal(err.details, ["chown: invalid user: 'node:node'"]);
  assert.is(target.execs.length, 1, 'chmod is not attempted');
});

test.run();
