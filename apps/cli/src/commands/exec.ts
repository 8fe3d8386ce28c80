import { Args } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { backendOf } from '../backends.js';

export default class Exec extends BaseCommand {
  static override summary = 'Run a command in a running bottle (default: a shell), as the agent user.';
  static override examples = ['<%= config.bin %> exec demo-abc12', '<%= config.bin %> exec demo-abc12 -- git log -1'];
  static override enableJsonFlag = false;
  static override strict = false;
  static override args = { slug: Args.string({ description: 'The bottle (see `bottle ls`)', required: true }) };

  async run(): Promise<void> {
    const { args, argv } = await this.parse(Exec);
    const command = (argv as string[]).slice(1);
    const tty = process.stdin.isTTY === true && process.stdout.isTTY === true;
    const code = await (await backendOf(this.config, args.slug)).exec(args.slug, command.length ? command : ['bash'], { tty });
    if (code !== 0) this.exit(code);
  }
}
