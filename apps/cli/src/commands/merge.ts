import { Args, Flags } from '@oclif/core';
import { BottleError, safeGit } from '@bot-bottle/core';
import { BaseCommand } from '../base-command.js';
import { refuseAttributes, refuseDirty, resolveWork } from '../work.js';

export default class Merge extends BaseCommand {
  static override summary = "Merge a bottle's branch into the branch checked out in its repo.";
  static override description = 'Refuses a tree with uncommitted changes, a base that is gone, and work that changes .gitattributes or .gitmodules (without --allow-attributes). The repo\'s hooks do not run.';
  static override examples = ['<%= config.bin %> merge demo-abc12', '<%= config.bin %> merge demo-abc12 --squash', '<%= config.bin %> merge demo-abc12 --branch feat'];
  static override args = { slug: Args.string({ description: 'The bottle', required: true }) };
  static override flags = {
    squash: Flags.boolean({ summary: 'Stage the work as one change instead, for you to commit.', default: false }),
    branch: Flags.string({ summary: "The bottle's branch (default: the one checked out when it started).", helpValue: 'B' }),
    'allow-attributes': Flags.boolean({ summary: 'Merge even when the work changes .gitattributes or .gitmodules.', default: false }),
  };

  async run(): Promise<{ repo: string; merged: string; squash: boolean }> {
    const { args, flags } = await this.parse(Merge);
    const w = await resolveWork(args.slug, flags.branch, (m) => this.note(m));
    await refuseDirty(w.record.hostRepo, 'bottle merge');
    await refuseAttributes(w, flags['allow-attributes']);
    const r = await safeGit(['merge', '--no-verify', '--no-edit', ...(flags.squash ? ['--squash'] : []), w.tip], w.record.hostRepo);
    if (r.code !== 0) {
      throw new BottleError('WORKSPACE_FAILED', `git merge of ${w.record.namespace}/${w.branch} stopped in ${w.record.hostRepo}`, {
        details: (r.stdout + r.stderr).trim().split('\n').slice(-10),
        suggestions: ['Resolve the conflicts and commit, or undo it: git merge --abort'],
      });
    }
    this.out(`merged ${w.record.namespace}/${w.branch} into ${w.record.hostRepo}${flags.squash ? ' (staged, not committed: git commit)' : ''}`);
    return { repo: w.record.hostRepo, merged: `${w.record.namespace}/${w.branch}`, squash: flags.squash };
  }
}
