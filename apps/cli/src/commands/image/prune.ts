import { Flags } from '@oclif/core';
import { pruneImages, type PruneReport } from '@bot-bottle/images';
import { BaseCommand } from '../../base-command.js';

export default class ImagePrune extends BaseCommand {
  static override summary = 'Remove the images bot-bottle built that newer builds replaced.';
  static override description = 'Tags are hashes of their inputs, so every change leaves the previous image behind. For each kind of image (bundle, runtime, each agent, each of your own images and its agent layer) the newest is kept, and every image a container uses; images bot-bottle did not build are never touched.';
  static override examples = ['<%= config.bin %> image prune --dry-run', '<%= config.bin %> image prune'];
  static override flags = { 'dry-run': Flags.boolean({ summary: 'Only list what would be removed.', default: false }) };

  async run(): Promise<PruneReport & { dryRun: boolean }> {
    const { flags } = await this.parse(ImagePrune);
    const report = await pruneImages({ dryRun: flags['dry-run'] });
    for (const r of report.removed) this.out(`${flags['dry-run'] ? 'would remove' : 'removed'} ${r}`);
    this.note(report.removed.length ? `${report.removed.length} image(s) ${flags['dry-run'] ? 'to remove' : 'removed'}; ${report.kept.length} kept` : `nothing to remove; ${report.kept.length} image(s) kept`);
    return { ...report, dryRun: flags['dry-run'] };
  }
}
