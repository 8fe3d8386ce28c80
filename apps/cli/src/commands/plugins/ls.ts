import { Command } from '@oclif/core';

/**
 * `bottle plugins ls`: the list @oclif/plugin-plugins prints as `bottle plugins`, under the name the
 * other list commands use (`bottle ls`). It runs that command itself, so the output, `--core` and
 * `--json` stay exactly the plugin's.
 */
export default class PluginsLs extends Command {
  static override summary = 'List installed plugins (the same as `bottle plugins`).';
  static override examples = ['<%= config.bin %> plugins ls', '<%= config.bin %> plugins ls --json', '<%= config.bin %> plugins ls --core'];
  // The flags are the listing command's; it parses them.
  static override strict = false;

  async run(): Promise<void> {
    await this.config.runCommand('plugins', this.argv);
  }
}
