import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Flags } from '@oclif/core';
import { BottleError, DEFAULT_AGENT_CLI, EXIT_USAGE, MANIFEST_FILE_NAME, agentDefinition } from '@bot-bottle/core';
import { loadAgents } from '../agents.js';
import { BaseCommand } from '../base-command.js';
import { schemaFileUrl, starterManifest, starterManifestText } from '../starter.js';

export default class Init extends BaseCommand {
  static override summary = 'Write a starter bottle.json in the current directory.';
  static override examples = ['<%= config.bin %> init', '<%= config.bin %> init --agent codex', '<%= config.bin %> init --force'];
  static override flags = {
    force: Flags.boolean({ summary: 'Overwrite an existing bottle.json.', default: false }),
    agent: Flags.string({ summary: 'The coding agent the starter runs (claude, codex, gemini, opencode, or a plugin\'s; `bottle agents` lists them): its "cli" and its API route.', default: DEFAULT_AGENT_CLI, helpValue: 'CLI' }),
  };

  async run(): Promise<{ path: string; agent: string }> {
    const { flags } = await this.parse(Init);
    const found = agentDefinition(await loadAgents(this.config), flags.agent, '--agent');
    const file = path.join(process.cwd(), MANIFEST_FILE_NAME);
    try {
      // "wx" fails if the file exists, with no window between a check and the write.
      await writeFile(file, starterManifestText(schemaFileUrl(this.config.root), starterManifest(found.definition)), { flag: flags.force ? 'w' : 'wx' });
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
    const keys = [...new Set(found.definition.credentials.map((c) => c.env))];
    this.note(`next: export ${keys.join(' and ') || 'the key your agent needs'}, then \`bottle validate\` and \`bottle plan demo\``);
    return { path: file, agent: found.definition.name };
  }
}
