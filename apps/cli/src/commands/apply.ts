import { Args, Flags } from '@oclif/core';
import { BottleError, safeGit } from '@bot-bottle/core';
import { BaseCommand } from '../base-command.js';
import { refuseAttributes, refuseDirty, resolveWork } from '../work.js';

export default class Apply extends BaseCommand {
  static override summary = "Apply a bottle's work to its repo's working tree as uncommitted changes.";
  static override description = 'The change from where the bottle started to its branch, applied with git apply; nothing is committed. Refuses what `bottle merge` refuses.';
  static override examples = ['<%= config.bin %> apply demo-abc12', '<%= config.bin %> apply demo-abc12 --branch feat'];
  static override args = { slug: Args.string({ description: 'The bottle', required: true }) };
  static override flags = {
    branch: Flags.string({ summary: "The bottle's branch (default: the one checked out when it started).", helpValue: 'B' }),
    'allow-attributes': Flags.boolean({ summary: 'Apply even when the work changes .gitattributes or .gitmodules.', default: false }),
  };

  async run(): Promise<{ repo: string; applied: string }> {
    const { args, flags } = await this.parse(Apply);
    const w = await resolveWork(args.slug, flags.branch, (m) => this.note(m));
    await refuseDirty(w.record.hostRepo, 'bottle apply');
    await refuseAttributes(w, flags['allow-attributes']);
    const patch = await safeGit(['diff', '--binary', '--no-ext-diff', '--no-textconv', '--no-renames', w.base, w.tip], w.record.hostRepo);
    if (patch.code !== 0) throw new BottleError('WORKSPACE_FAILED', 'git diff failed', { details: [patch.stderr.trim()] });
    if (!patch.stdout) {
      this.out(`nothing to apply: ${w.record.namespace}/${w.branch} has no changes since it started`);
      return { repo: w.record.hostRepo, applied: `${w.record.namespace}/${w.branch}` };
    }
    const r = await safeGit(['apply', '--whitespace=nowarn'], w.record.hostRepo, { stdin: patch.stdout });
    if (r.code !== 0) {
      throw new BottleError('WORKSPACE_FAILED', `the bottle's change does not apply to ${w.record.hostRepo} as it is now`, {
        details: r.stderr.trim().split('\n').slice(-8),
        suggestions: [`Merge it instead: bottle merge ${args.slug}`],
      });
    }
    this.out(`applied ${w.record.namespace}/${w.branch} to ${w.record.hostRepo} (uncommitted: git diff, git add, git commit)`);
    return { repo: w.record.hostRepo, applied: `${w.record.namespace}/${w.branch}` };
  }
}
