import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Flags } from '@oclif/core';
import { BottleError, EXIT_USAGE, MANIFEST_FILE_NAME } from '@bot-bottle/core';
import { BaseCommand } from '../base-command.js';
import { schemaFileUrl, starterManifestText } from '../starter.js';

export default class Init extends BaseCommand {
  static override summary = 'Write a starter bottle.json in the current directory.';
  static override examples = ['<%= config.bin %> init', '<%= config.bin %> init --force'];
  static override flags = { force: Flags.boolean({ summary: 'Overwrite an existing bottle.json.', default: false }) };

  async run(): Promise<{ path: string }> {
    const { flags } = await this.parse(Init);
    const file = path.join(process.cwd(), MANIFEST_FILE_NAME);
    try {
      // "wx" fails if the file exists, with no window between a check and the write.
      await writeFile(file, starterManifestText(schemaFileUrl(this.config.root)), { flag: flags.force ? 'w' : 'wx' });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        throw new BottleError('USAGE', `${file} already exists`, {
          suggestions: ['Edit it, or run `bottle init --force` to replace it with the starter manifest.'],
          exit: EXIT_USAGE,
        });
      }
      throw new BottleError('MANIFEST_UNWRITABLE', `cannot write ${file} (${code ?? (e as Error).message})`, {
        suggestions: code === 'EISDIR' ? [`Remove or rename the directory ${file}.`] : ['Run it in a directory you can write to.'],
        exit: EXIT_USAGE,
        cause: e,
      });
    }
    this.out(`wrote ${file}`);
    this.note('next: export ANTHROPIC_API_KEY, then `bottle validate` and `bottle plan demo`');
    return { path: file };
  }
}
