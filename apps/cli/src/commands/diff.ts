import { Args, Flags } from '@oclif/core';
import { safeGit } from '@bot-bottle/core';
import { BaseCommand } from '../base-command.js';
import { resolveWork } from '../work.js';

export default class Diff extends BaseCommand {
  static override summary = "Show a bottle's work: its branch against the commit it started from.";
  static override description = 'Reads the bottle/<slug>/<branch> branch in the repo the bottle was started in (--copy-cwd); a running bottle\'s latest pushes are fetched first. No external diff driver or textconv runs.';
  static override examples = ['<%= config.bin %> diff demo-abc12', '<%= config.bin %> diff demo-abc12 --stat', '<%= config.bin %> diff demo-abc12 --branch feat -- src/'];
  static override strict = false;
  static override enableJsonFlag = false;
  static override args = { slug: Args.string({ description: 'The bottle', required: true }) };
  static override flags = {
    stat: Flags.boolean({ summary: 'Only the files changed and how much.', default: false }),
    branch: Flags.string({ summary: "The bottle's branch (default: the one checked out when it started).", helpValue: 'B' }),
  };

  async run(): Promise<void> {
    const { args, flags, argv } = await this.parse(Diff);
    const paths = (argv as string[]).slice(1);
    const w = await resolveWork(args.slug, flags.branch, (m) => this.note(m));
    this.note(`${w.record.hostRepo}: ${w.base.slice(0, 12)}..${w.record.namespace}/${w.branch}`);
    const r = await safeGit(['diff', '--no-ext-diff', '--no-textconv', ...(flags.stat ? ['--stat'] : []), w.base, w.tip, '--', ...paths], w.record.hostRepo, { stdout: 'inherit' });
    if (r.code !== 0) this.exit(r.code);
  }
}
