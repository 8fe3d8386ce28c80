import { Flags } from '@oclif/core';
import type { GcReport } from '@bot-bottle/core';
import { BaseCommand } from '../base-command.js';
import { gcAll } from '../backends.js';

export default class Gc extends BaseCommand {
  static override summary = 'Reclaim everything bot-bottle created whose owner is gone (crashed or killed runs).';
  static override description = 'Bottles kept with --keep, and bottles whose `bottle run` is still alive, are left alone.';
  static override examples = ['<%= config.bin %> gc --dry-run', '<%= config.bin %> gc'];
  static override flags = { 'dry-run': Flags.boolean({ summary: 'Only list what would be removed.', default: false }) };

  async run(): Promise<GcReport & { dryRun: boolean }> {
    const { flags } = await this.parse(Gc);
    const report = await gcAll(this.config, { dryRun: flags['dry-run'] });
    const verb = flags['dry-run'] ? 'would remove' : 'removed';
    for (const r of report.removed) this.out(`${verb} ${r}`);
    for (const k of report.kept) this.note(`kept ${k}`);
    if (report.removed.length === 0) this.note('nothing to reclaim');
    return { ...report, dryRun: flags['dry-run'] };
  }
}
