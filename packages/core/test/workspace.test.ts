/**
 * --copy-cwd's host side with real git and tar: what is listed, and the errors a user sees when the
 * working tree cannot be listed or packed (a WORKSPACE_FAILED with the cause and a fix, exit 1).
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { copyWorkspace, EXIT_FAILURE, workspaceFiles } from '../src/index.js';
import { planFor, RecordingTarget, world } from '../src/testing/index.js';
import { cleanupTempDirs, rejects, tempDir } from './helpers.js';

const test = suite('workspace');
test.after.each(cleanupTempDirs);

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, stdio: 'pipe' });

async function repo(): Promise<string> {
  const dir = await tempDir('bottle-ws-');
  git(dir, 'init', '-q');
  await writeFile(path.join(dir, 'a.txt'), 'a\n');
  await writeFile(path.join(dir, '.gitignore'), 'build/\n');
  await mkdir(path.join(dir, 'build'));
  await writeFile(path.join(dir, 'build', 'out.bin'), 'x');
  git(dir, 'add', 'a.txt', '.gitignore');
  return dir;
}

test('in a git work tree: tracked and untracked files, ignored ones reported', async () => {
  const dir = await repo();
  await writeFile(path.join(dir, 'new.txt'), 'n\n');
  const files = await workspaceFiles(dir);
  assert.equal(files.list.sort(), ['.gitignore', 'a.txt', 'new.txt']);
  assert.equal(files.skipped, ['1 ignored path(s) (.gitignore): build/']);
});

test('a work tree git cannot list (a broken index) is a WORKSPACE_FAILED with git\'s words and a fix', async () => {
  const dir = await repo();
  // Control: the same tree lists while its index is whole.
  assert.is((await workspaceFiles(dir)).files, 2);
  await writeFile(path.join(dir, '.git', 'index'), 'not an index');
  const err = await rejects(() => workspaceFiles(dir));
  assert.is(err.code, 'WORKSPACE_FAILED');
  assert.is(err.exit, EXIT_FAILURE);
  assert.match(err.message, `cannot list the files of ${dir}`);
  assert.match(err.details.join('\n'), /index/i);
  assert.match(err.suggestions[0]!, 'git status');
  assert.match(err.suggestions[0]!, 'without --copy-cwd');
});

test('a failed unpack in the bottle names the target, the exit and the output', async () => {
  const dir = await repo();
  const plan = await planFor(await world(), { copyCwd: true, userCwd: dir });
  const target = new RecordingTarget();
  target.respond = () => ({ exitCode: 2, stdout: '', stderr: 'tar: write error: No space left on device\n' });
  const err = await rejects(() => copyWorkspace(plan, target));
  assert.is(err.code, 'BACKEND_FAILED');
  assert.is(err.message, 'unpacking the workspace in recording target failed (exit 2)');
  assert.equal(err.details, ['tar: write error: No space left on device']);
  assert.match(err.suggestions[0]!, 'bottle image build');
  // Control: the archive was copied before the unpack was tried.
  assert.equal(target.copies.map((c) => c.guestPath), ['/tmp/bot-bottle-workspace.tar']);
});

test.run();
