/**
 * --copy-cwd: the user's working tree goes into the bottle's workspace as one archive (one copy,
 * one exec, whatever the number of files). In a git work tree, files git ignores are skipped and
 * reported; `.git` itself is the git provisioner's job. Outside git, everything is copied.
 */
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BottleError, EXIT_FAILURE } from './errors.js';
import type { Target } from './backend.js';
import type { BottlePlan } from './plan.js';

function run(cmd: string, args: string[], cwd: string): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => (err += b));
    child.on('error', (e) => resolve({ code: 127, stdout: Buffer.alloc(0), stderr: e.message }));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr: err }));
  });
}

export interface WorkspaceCopy {
  files: number;
  /** What was left out and why (one line each). */
  skipped: string[];
}

/** Lists the files to copy: tracked and untracked-but-not-ignored in a git work tree, else all. */
export async function workspaceFiles(cwd: string): Promise<WorkspaceCopy & { list: string[] }> {
  const inGit = await run('git', ['rev-parse', '--is-inside-work-tree'], cwd);
  if (inGit.code === 0 && inGit.stdout.toString().trim() === 'true') {
    const ls = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--deduplicate'], cwd);
    if (ls.code !== 0) {
      throw new BottleError('WORKSPACE_FAILED', `cannot list the files of ${cwd} to copy them (git ls-files failed)`, {
        details: [ls.stderr.trim() || `git exited ${ls.code}`],
        suggestions: [`Run \`git status\` in ${cwd} and fix what git reports, or run without --copy-cwd.`],
        exit: EXIT_FAILURE,
      });
    }
    const ignored = await run('git', ['ls-files', '-z', '--others', '--ignored', '--exclude-standard', '--directory'], cwd);
    const skippedEntries = ignored.stdout.toString().split('\0').filter(Boolean);
    // A tracked file deleted in the work tree is listed by git but cannot be archived.
    const list: string[] = [];
    const { existsSync } = await import('node:fs');
    for (const f of ls.stdout.toString().split('\0').filter(Boolean)) if (existsSync(path.join(cwd, f))) list.push(f);
    return {
      list,
      files: list.length,
      skipped: skippedEntries.length ? [`${skippedEntries.length} ignored path(s) (.gitignore): ${skippedEntries.slice(0, 5).join(', ')}${skippedEntries.length > 5 ? ', ...' : ''}`] : [],
    };
  }
  return { list: ['.'], files: -1, skipped: [] };
}

export async function copyWorkspace(plan: BottlePlan, target: Target): Promise<WorkspaceCopy> {
  const cwd = plan.userCwd;
  const { list, files, skipped } = await workspaceFiles(cwd);
  await mkdir(plan.stageDir, { recursive: true, mode: 0o700 });
  const listFile = path.join(plan.stageDir, 'workspace.list');
  const archive = path.join(plan.stageDir, 'workspace.tar');
  await writeFile(listFile, list.join('\0'));
  // .git is excluded here: the git provisioner copies it (and only when asked).
  const tar = await run('tar', ['-c', '-f', archive, '--null', '--no-recursion', '--exclude=./.git', '--exclude=.git', ...(list[0] === '.' ? ['--recursion'] : []), '-T', listFile], cwd);
  if (tar.code !== 0) {
    throw new BottleError('WORKSPACE_FAILED', `packing ${cwd} to copy it into the bottle failed`, {
      details: [tar.stderr.trim().split('\n')[0] || `tar exited ${tar.code}`],
      suggestions: [`Check that you can read every file under ${cwd} (and that tar is installed), or run without --copy-cwd.`],
      exit: EXIT_FAILURE,
    });
  }
  try {
    await target.copyIn(archive, '/tmp/bot-bottle-workspace.tar');
    const r = await target.exec(['sh', '-c', `mkdir -p "$1" && tar -x -f /tmp/bot-bottle-workspace.tar -C "$1" --no-same-owner && chown -R node:node "$1" && rm -f /tmp/bot-bottle-workspace.tar`, 'sh', plan.guest.workspace]);
    if (r.exitCode !== 0) {
      throw new BottleError('BACKEND_FAILED', `unpacking the workspace in ${target.description} failed (exit ${r.exitCode})`, {
        details: [r.stderr.trim() || 'no output'],
        suggestions: [`Check that the bottle has room for ${cwd} and that its image has tar; rebuild it with \`bottle image build\`.`],
        exit: EXIT_FAILURE,
      });
    }
  } finally {
    await rm(archive, { force: true });
    await rm(listFile, { force: true });
  }
  return { files, skipped };
}
