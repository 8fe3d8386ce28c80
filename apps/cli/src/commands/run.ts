import { Args, Flags } from '@oclif/core';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BottleError, DETACH_KEY, EXIT_INTERRUPTED, EXIT_USAGE, bottleStateDir, formatPath, makePlan, resolveSteps, runSession } from '@bot-bottle/core';
import { AGENT_LAUNCH_FILE } from './attach.js';
import { agentFor, planAgent } from '../agents.js';
import { forwardPorts, parsePortSpec, type Forwarding } from '../port-forward.js';
import { BaseCommand } from '../base-command.js';
import { backendFlag, chosenBackend } from '../backends.js';
import { interruptSignal, progressPrinter } from '../progress.js';
import { manifestFlag, readManifest } from '../manifest.js';
import { loadRegistry } from '../provisioners.js';

export default class Run extends BaseCommand {
  static override summary = 'Start an agent in a new bottle and attach to it.';
  static override description = [
    'Plans the launch, builds any missing image, starts the bundle and the bottle, applies the agent\'s provisioners in order, then runs the agent\'s CLI (its "cli": Claude Code by default, Codex, Gemini CLI, OpenCode) as user node in /home/node/workspace, without its own permission prompts (the bottle is the sandbox; "permissionPrompts": true turns them back on).',
    'With --print PROMPT the agent runs headless: one prompt, its answer on stdout, then it exits.',
    'With `-- CMD ...` it runs that command instead, streams its output and exits with its exit code.',
    'Everything is removed when the command ends, unless --keep.',
    `With --keep on a terminal, the agent runs in a detachable session: ${DETACH_KEY} leaves it running (the command then ends), and \`bottle attach SLUG\` comes back to it.`,
  ].join('\n');
  static override examples = ['<%= config.bin %> run demo', '<%= config.bin %> run demo --copy-cwd', '<%= config.bin %> run demo --print "run the tests and fix what fails"', '<%= config.bin %> run demo -- git status'];
  static override enableJsonFlag = false;
  static override strict = false;
  static override args = { agent: Args.string({ description: 'Agent name from the manifest', required: true }) };
  static override flags = {
    manifest: manifestFlag,
    backend: backendFlag,
    'copy-cwd': Flags.boolean({ summary: "Copy the current directory (files git does not ignore, and .git) into the bottle's workspace.", default: false }),
    print: Flags.string({ char: 'p', summary: "Run the agent headless with this prompt: its answer goes to stdout, then it exits (Claude Code's -p, `codex exec`, `gemini -p`, `opencode run`).", helpValue: 'PROMPT' }),
    keep: Flags.boolean({ summary: 'Leave the bottle running after the command ends (remove it with `bottle stop`).', default: false }),
    quiet: Flags.boolean({ char: 'q', summary: 'No progress lines on stderr.', default: false }),
    verbose: Flags.boolean({ char: 'v', summary: "Also print what each provisioner logs (its ctx.log lines) on stderr.", default: false }),
  };

  async run(): Promise<void> {
    const { args, flags, argv } = await this.parse(Run);
    const command = (argv as string[]).slice(1);
    const { loaded } = await readManifest(flags.manifest);
    const agent = loaded.manifest.agents[args.agent];
    const chosen = await chosenBackend(this.config, { flag: flags.backend, manifest: agent ? loaded.manifest.bottles[agent.bottle]?.backend : undefined });
    const found = await agentFor(this.config, loaded, args.agent);
    const plan = makePlan({ manifest: loaded, agentName: args.agent, copyCwd: flags['copy-cwd'], userCwd: process.cwd() }, { backend: chosen.name, backendSource: chosen.source, ...planAgent(found) });
    if (command.length && flags.print !== undefined) throw new BottleError('USAGE', '--print and a command after -- cannot be used together', { suggestions: ['Give the prompt with --print, or the command after --, not both.'], exit: EXIT_USAGE });
    const steps = resolveSteps(plan.provisioners, await loadRegistry(this.config), formatPath(['agents', args.agent, 'provisioners']));
    const progress = progressPrinter(flags.quiet);
    const ports = (agent?.ports ?? []).map(parsePortSpec);
    const held: { forwarding: Promise<Forwarding | null> | null } = { forwarding: null };
    const tty = process.stdin.isTTY === true && process.stdout.isTTY === true;
    const detachable = flags.keep && tty && !command.length && flags.print === undefined;
    const interrupt = interruptSignal(() => process.stderr.write('bottle: interrupted; removing the bottle\n'));
    try {
      const code = await runSession({
        plan,
        backend: chosen.backend,
        steps,
        agent: found!.definition,
        ...(flags.print === undefined ? {} : { headlessPrompt: flags.print }),
        argv: command,
        tty,
        keep: flags.keep,
        progress,
        warn: (m) => process.stderr.write(`bottle: warning: ${m}\n`),
        // Provisioners' own progress notes: useful when one misbehaves, noise otherwise.
        log: flags.verbose ? (m) => process.stderr.write(`bottle: ${m}\n`) : undefined,
        signal: interrupt.signal,
        // A kept bottle's agent can be started again in it later (bottle attach).
        onStart: flags.keep && !command.length ? (slug, agentArgv, env) => writeFile(path.join(bottleStateDir(slug), AGENT_LAUNCH_FILE), `${JSON.stringify({ argv: agentArgv, env })}\n`, { mode: 0o600 }) : undefined,
        onDetach: (slug) => progress('detached', `the agent of ${slug} still runs (bottle attach ${slug} to return, bottle stop ${slug} to end it)`),
        onReady: (slug) => {
          progress('ready', flags.keep ? `${slug} (kept: bottle attach ${slug}; bottle exec ${slug}; bottle stop ${slug})${detachable ? `; ${DETACH_KEY} detaches` : ''}` : slug);
          // The agent's "ports", forwarded to host loopback for as long as this run lasts.
          if (ports.length) {
            held.forwarding = forwardPorts(chosen.backend, slug, ports, '127.0.0.1', (m) => process.stderr.write(`bottle: ${m}\n`)).then(
              (f) => {
                for (const l of f.listening) progress('port', `${l.address}:${l.hostPort} -> ${l.port}`);
                return f;
              },
              (e: unknown) => {
                process.stderr.write(`bottle: warning: ports not forwarded: ${(e as Error).message}\n`);
                return null;
              },
            );
          }
        },
      });
      if (interrupt.signal.aborted) throw new BottleError('INTERRUPTED', 'interrupted; the bottle was removed', { exit: EXIT_INTERRUPTED });
      if (code !== 0) this.exit(code);
    } finally {
      await (await held.forwarding)?.close();
      interrupt.dispose();
    }
  }
}
