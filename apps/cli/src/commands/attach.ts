import { Args } from '@oclif/core';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { AGENT_STATE_COMMAND, BottleError, DETACH_KEY, EXIT_USAGE, bottleStateDir, keptAgentState, recordedAgentCommand, sessionCommand } from '@bot-bottle/core';
import { BaseCommand } from '../base-command.js';
import { backendOf } from '../backends.js';

/** What `bottle run --keep` recorded of the agent it started. */
export interface AgentLaunchRecord {
  argv: string[];
  env: Record<string, string>;
}

export const AGENT_LAUNCH_FILE = 'agent-launch.json';

export default class Attach extends BaseCommand {
  static override summary = "Attach this terminal to a kept bottle's agent (`bottle run --keep`): its running session, or the agent started again.";
  static override description = [
    `An interactive agent of a kept bottle runs in a detachable session: ${DETACH_KEY} leaves it running, and so does losing the terminal or the \`bottle run\` that started it. attach joins that session (the agent is told to redraw its screen).`,
    'When the agent has exited, attach starts it again as `bottle run` started it, with the same command line and env, in the same bottle: its files, its branches and its conversation history on disk are as it left them.',
    'An agent that runs without a session (a --print run, or one started without a terminal) cannot be joined: wait for it to end. `bottle exec SLUG` opens a shell beside it.',
  ].join('\n');
  static override examples = ['<%= config.bin %> attach demo-abc12'];
  static override enableJsonFlag = false;
  static override args = { slug: Args.string({ description: 'The bottle (see `bottle ls`)', required: true }) };

  async run(): Promise<void> {
    const { args } = await this.parse(Attach);
    const slug = args.slug;
    const text = await readFile(path.join(bottleStateDir(slug), AGENT_LAUNCH_FILE), 'utf8').catch(() => null);
    if (text === null) {
      throw new BottleError('BOTTLE_NOT_FOUND', `bottle ${slug} has no agent to attach to`, {
        suggestions: ['Only a bottle started with `bottle run AGENT --keep` (and no command after --) can be attached; `bottle exec SLUG` runs a command in any bottle.'],
        exit: EXIT_USAGE,
      });
    }
    const launch = JSON.parse(text) as AgentLaunchRecord;
    const backend = await backendOf(this.config, slug);
    const state = keptAgentState(await backend.exec(slug, AGENT_STATE_COMMAND, { tty: false }));
    const tty = process.stdin.isTTY === true && process.stdout.isTTY === true;
    if (state === 'running') {
      throw new BottleError('USAGE', `the agent of ${slug} is running without a terminal session (a --print run, or one started without a terminal): it cannot be joined`, {
        suggestions: [`Wait for it to end, then attach to start it again; \`bottle exec ${slug}\` opens a shell beside it.`],
        exit: EXIT_USAGE,
      });
    }
    if (state === 'attachable' && !tty) {
      throw new BottleError('USAGE', `attaching to the running agent of ${slug} needs a terminal (stdin and stdout are not one)`, {
        suggestions: [`Run \`bottle attach ${slug}\` in a terminal; \`bottle exec ${slug} -- CMD\` runs a command beside the agent without one.`],
        exit: EXIT_USAGE,
      });
    }
    const env = Object.entries(launch.env).map(([k, v]) => `${k}=${v}`);
    const argv = env.length ? ['env', ...env, ...launch.argv] : launch.argv;
    if (tty) this.note(state === 'attachable' ? `attaching to the agent of ${slug} (${DETACH_KEY} detaches)` : `starting the agent of ${slug} again (${DETACH_KEY} detaches)`);
    // On a terminal: the session (joined when it runs, else the agent started in a new one); without
    // one, the agent started again with its output here.
    const code = await backend.exec(slug, tty ? sessionCommand(argv) : recordedAgentCommand(argv), { tty });
    if (tty && keptAgentState(await backend.exec(slug, AGENT_STATE_COMMAND, { tty: false }).catch(() => 2)) !== 'ended') {
      this.note(`detached: the agent of ${slug} still runs (bottle attach ${slug} to return, bottle stop ${slug} to end it)`);
      return;
    }
    if (code !== 0) this.exit(code);
  }
}
