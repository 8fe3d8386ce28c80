import { Flags } from '@oclif/core';
import type { GcReport } from '@bot-bottle/core';
import { BaseCommand } from '../base-command.js';
import { allBackends } from '../backends.js';

export default class Gc extends BaseCommand {
  static override summary = 'Reclaim everything bot-bottle created whose owner is gone (crashed or killed runs).';
  static override description = 'Bottles kept with --keep, and bottles whose `bottle run` is still alive, are left alone.';
  static override examples = ['<%= config.bin %> gc --dry-run', '<%= config.bin %> gc'];
  static override flags = { 'dry-run': Flags.boolean({ summary: 'Only list what would be removed.', default: false }) };

  async run(): Promise<GcReport & { dryRun: boolean }> {
    const { flags } = await this.parse(Gc);
    // Every installed backend reclaims its own; one whose engine is not here has nothing running to reclaim.
    const report: GcReport = { removed: [], kept: [] };
    for (const b of await allBackends(this.config)) {
      const r = await b.backend.gc({ dryRun: flags['dry-run'] }).catch((e: unknown) => {
        if ((e as { code?: string }).code !== 'BACKEND_UNAVAILABLE') throw e;
        return { removed: [], kept: [] };
      });
      report.removed.push(...r.removed);
      report.kept.push(...r.kept);
    }
    const verb = flags['dry-run'] ? 'would remove' : 'removed';
    for (const r of report.removed) this.out(`${verb} ${r}`);
    for (const k of report.kept) this.note(`kept ${k}`);
    if (report.removed.length === 0) this.note('nothing to reclaim');
    return { ...report, dryRun: flags['dry-run'] };
  }
}
