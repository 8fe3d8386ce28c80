import { Args } from '@oclif/core';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { AGENT_PID_FILE, BottleError, EXIT_USAGE, bottleStateDir, withPidFile } from '@bot-bottle/core';
import { BaseCommand } from '../base-command.js';
import { backendOf } from '../backends.js';

/** What `bottle run --keep` recorded of the agent it started. */
export interface AgentLaunchRecord {
  argv: string[];
  env: Record<string, string>;
}

export const AGENT_LAUNCH_FILE = 'agent-launch.json';

export default class Attach extends BaseCommand {
  static override summary = 'Start the agent again in a kept bottle (`bottle run --keep`), attached to this terminal.';
  static override description = [
    'The agent starts as `bottle run` started it, with the same command line and env, in the same bottle: its files, its branches and its conversation history on disk are as it left them.',
    'While the agent of that bottle still runs (its `bottle run` is attached to it), attach refuses: a terminal cannot be shared. `bottle exec SLUG` opens a shell beside it.',
  ].join('\n');
  static override examples = ['<%= config.bin %> attach demo-abc12'];
  static override enableJsonFlag = false;
  static override args = { slug: Args.string({ description: 'The bottle (see `bottle ls`)', required: true }) };

  async run(): Promise<void> {
    const { args } = await this.parse(Attach);
    const text = await readFile(path.join(bottleStateDir(args.slug), AGENT_LAUNCH_FILE), 'utf8').catch(() => null);
    if (text === null) {
      throw new BottleError('BOTTLE_NOT_FOUND', `bottle ${args.slug} has no agent to attach to`, {
        suggestions: ['Only a bottle started with `bottle run AGENT --keep` (and no command after --) can be attached; `bottle exec SLUG` runs a command in any bottle.'],
        exit: EXIT_USAGE,
      });
    }
    const launch = JSON.parse(text) as AgentLaunchRecord;
    const backend = await backendOf(this.config, args.slug);
    const running = await backend.exec(args.slug, ['sh', '-c', `kill -0 "$(cat ${AGENT_PID_FILE} 2>/dev/null)" 2>/dev/null`], { tty: false });
    if (running === 0) {
      throw new BottleError('USAGE', `the agent of ${args.slug} is still running, attached to the \`bottle run\` that started it`, {
        suggestions: [`Wait for it to exit (or end that run), then attach; \`bottle exec ${args.slug}\` opens a shell beside it.`],
        exit: EXIT_USAGE,
      });
    }
    const tty = process.stdin.isTTY === true && process.stdout.isTTY === true;
    const env = Object.entries(launch.env).map(([k, v]) => `${k}=${v}`);
    const code = await backend.exec(args.slug, withPidFile(env.length ? ['env', ...env, ...launch.argv] : launch.argv), { tty });
    if (code !== 0) this.exit(code);
  }
}
