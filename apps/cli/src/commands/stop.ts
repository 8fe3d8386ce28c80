import { Args, Flags } from '@oclif/core';
import { BottleError, EXIT_USAGE, collectWork } from '@bot-bottle/core';
import { BaseCommand } from '../base-command.js';
import { backendOf, listAll } from '../backends.js';

export default class Stop extends BaseCommand {
  static override summary = 'Stop and remove a bottle (its bundle, volume and state go with it); its branches stay in the host repo.';
  static override examples = ['<%= config.bin %> stop demo-abc12', '<%= config.bin %> stop --all'];
  static override args = { slug: Args.string({ description: 'The bottle (see `bottle ls`)' }) };
  static override flags = { all: Flags.boolean({ summary: 'Stop every bottle.', default: false }) };

  async run(): Promise<{ stopped: string[] }> {
    const { args, flags } = await this.parse(Stop);
    if (!args.slug && !flags.all) throw new BottleError('USAGE', 'name a bottle to stop, or pass --all', { suggestions: ['List bottles with `bottle ls`.'], exit: EXIT_USAGE });
    if (args.slug && flags.all) throw new BottleError('USAGE', 'give a slug or --all, not both', { exit: EXIT_USAGE });
    const slugs = flags.all ? (await listAll(this.config, (m) => this.note(`warning: ${m}`))).map((b) => b.slug) : [args.slug!];
    for (const slug of slugs) {
      const backend = await backendOf(this.config, slug);
      // Its work first (--copy-cwd in a git repo): unpushed commits too, before the bottle goes.
      const back = await collectWork(slug, (argv) => backend.exec(slug, argv, { tty: false }));
      for (const p of back.problems) this.note(`warning: ${slug}: ${p}`);
      if (back.record && back.branches.length) this.note(`${slug}: ${back.branches.length} branch(es) in ${back.record.hostRepo}: ${back.branches.map((b) => `${back.record!.namespace}/${b}`).join(', ')} (bottle diff ${slug})`);
      await backend.stop(slug);
      this.out(`stopped ${slug}`);
    }
    if (slugs.length === 0) this.note('no bottles');
    return { stopped: slugs };
  }
}
