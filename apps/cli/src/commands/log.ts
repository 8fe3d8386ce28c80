import { Args, Flags } from '@oclif/core';
import { safeGit } from '@bot-bottle/core';
import { BaseCommand } from '../base-command.js';
import { resolveWork } from '../work.js';

export default class Log extends BaseCommand {
  static override summary = "List a bottle's commits since the commit it started from.";
  static override examples = ['<%= config.bin %> log demo-abc12', '<%= config.bin %> log demo-abc12 --branch feat'];
  static override enableJsonFlag = false;
  static override args = { slug: Args.string({ description: 'The bottle', required: true }) };
  static override flags = { branch: Flags.string({ summary: "The bottle's branch (default: the one checked out when it started).", helpValue: 'B' }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Log);
    const w = await resolveWork(args.slug, flags.branch, (m) => this.note(m));
    const r = await safeGit(['log', '--no-show-signature', '--date=short', '--format=%h %ad %an  %s', `${w.base}..${w.tip}`], w.record.hostRepo, { stdout: 'inherit' });
    if (r.code !== 0) this.exit(r.code);
  }
}
