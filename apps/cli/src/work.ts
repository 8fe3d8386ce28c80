/**
 * What `bottle diff`, `log`, `merge` and `apply` share: the bottle's recorded work (where it
 * started in which host repo), its branches brought up to date from the exchange repo while the
 * bottle runs, the branch asked for, and the checks that refuse before git is asked to change
 * anything (a dirty tree, a base that is gone, attribute files the agent changed).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { BottleError, EXIT_USAGE, bottleBranches, bottleStateDir, fetchBottleBranches, readWorkRecord, safeGit, type WorkRecord } from '@bot-bottle/core';

export interface ResolvedWork {
  record: WorkRecord;
  branch: string;
  /** refs/heads/bottle/<slug>/<branch> */
  tip: string;
  base: string;
}

export async function resolveWork(slug: string, branchFlag: string | undefined, note: (m: string) => void): Promise<ResolvedWork> {
  const record = await readWorkRecord(slug);
  if (!existsSync(path.join(record.hostRepo, '.git'))) {
    throw new BottleError('BOTTLE_NOT_FOUND', `the repo bottle ${slug} worked on, ${record.hostRepo}, is gone`, { suggestions: ['Its branches were in that repo; nothing is left to show.'], exit: EXIT_USAGE });
  }
  // A running bottle's pushes are in its exchange repo until it stops: fetch them now.
  const exchange = path.join(bottleStateDir(slug), 'work.git');
  if (existsSync(exchange)) await fetchBottleBranches(record, exchange).catch((e: unknown) => note(`warning: could not fetch the running bottle's latest pushes: ${(e as Error).message}`));
  const branches = await bottleBranches(record);
  if (!branches.length) {
    throw new BottleError('BOTTLE_NOT_FOUND', `bottle ${slug} has no branches in ${record.hostRepo} (nothing under ${record.namespace}/)`, {
      suggestions: ['A bottle\'s branches arrive when it pushes, and when it ends (`bottle run` exits, `bottle stop`).'],
      exit: EXIT_USAGE,
    });
  }
  const branch = branchFlag ?? (record.branch && branches.includes(record.branch) ? record.branch : branches.length === 1 ? branches[0]! : undefined);
  if (branch === undefined || !branches.includes(branch)) {
    throw new BottleError('USAGE', branch === undefined ? `bottle ${slug} has several branches; name one with --branch` : `bottle ${slug} has no branch ${JSON.stringify(branch)}`, {
      details: [`its branches: ${branches.join(', ')}`],
      suggestions: [`--branch ${branches[0]}`],
      exit: EXIT_USAGE,
    });
  }
  if (!record.base || (await safeGit(['cat-file', '-e', `${record.base}^{commit}`], record.hostRepo)).code !== 0) {
    throw new BottleError('USAGE', `the commit bottle ${slug} started from${record.base ? ` (${record.base.slice(0, 12)})` : ''} is not in ${record.hostRepo} any more`, {
      suggestions: [`Look at its branch directly: git log ${record.namespace}/${branch}`],
      exit: EXIT_USAGE,
    });
  }
  return { record, branch, tip: `refs/heads/${record.namespace}/${branch}`, base: record.base };
}

/** Refuses a working tree with changes to tracked files (untracked files are left alone, as git merge does). */
export async function refuseDirty(repo: string, what: string): Promise<void> {
  const r = await safeGit(['status', '--porcelain', '--untracked-files=no'], repo);
  if (r.code !== 0) throw new BottleError('WORKSPACE_FAILED', `git status failed in ${repo}`, { details: [r.stderr.trim()] });
  if (r.stdout.trim()) {
    throw new BottleError('USAGE', `${repo} has uncommitted changes; ${what} needs a clean tree`, {
      details: r.stdout.trim().split('\n').slice(0, 10),
      suggestions: ['Commit or stash them first (git stash), then run it again.'],
      exit: EXIT_USAGE,
    });
  }
}

/**
 * Refuses work that adds or changes .gitattributes or .gitmodules: attributes choose the filter,
 * diff and merge drivers git runs while checking files out, which would let the agent's commits
 * pick programs the user's config defines (a filter of git-lfs, say) to run on the host.
 */
export async function refuseAttributes(w: ResolvedWork, allow: boolean): Promise<void> {
  if (allow) return;
  const r = await safeGit(['diff', '--name-only', '--no-renames', w.base, w.tip], w.record.hostRepo);
  const touched = r.stdout.split('\n').filter((f) => f && (path.posix.basename(f) === '.gitattributes' || f === '.gitmodules'));
  if (touched.length) {
    throw new BottleError('USAGE', `the bottle's work changes ${touched.join(', ')}, which choose the programs git runs on checkout (filters, drivers); refused`, {
      suggestions: [`Read the change first: bottle diff ${w.record.slug} -- ${touched.join(' ')}`, 'Then, to go on anyway: --allow-attributes'],
      exit: EXIT_USAGE,
    });
  }
}
