/**
 * One `bottle run`, backend-neutral: refuse launch problems, launch, provision in the declared
 * order, run the agent (or the given command) attached, and remove everything afterwards unless
 * asked to keep it. Any failure or interruption after launch still removes what was made.
 */
import { BottleError, EXIT_INTERRUPTED, EXIT_USAGE } from './errors.js';
import type { Backend, LaunchProgress, Target } from './backend.js';
import { agentEnv, type BottlePlan } from './plan.js';
import { runProvisioners, type ResolvedStep } from './runner.js';
import { copyWorkspace } from './workspace.js';
import { configureAgent } from './agent/configure.js';
import { bringWorkBack, prepareWorkBack } from './work-back.js';
import type { AgentDefinition } from './agent/definition.js';
import { AGENT_STATE_COMMAND, keptAgentState, recordedAgentCommand, sessionCommand } from './kept-agent.js';

export interface SessionOptions {
  plan: BottlePlan;
  backend: Backend;
  steps: readonly ResolvedStep[];
  /** The command to run; empty means the agent, as its definition starts it. */
  argv: readonly string[];
  /** The definition of the plan's agent (its "cli"): how it is configured and started. */
  agent: AgentDefinition;
  /** Run the agent headless with this prompt (its one-shot mode) instead of interactively. */
  headlessPrompt?: string;
  tty: boolean;
  keep: boolean;
  progress: LaunchProgress;
  warn: (message: string) => void;
  /** A provisioner's `ctx.log` lines, as `<provisioner>: <message>`; without it they are dropped. */
  log?: (message: string) => void;
  signal: AbortSignal;
  hostEnv?: NodeJS.ProcessEnv;
  /** Called once the bottle is up and provisioned, before the command runs. */
  onReady?: (slug: string) => void;
  /** Called with the command line and env the agent starts with (a kept bottle records them for `bottle attach`). */
  onStart?: (slug: string, argv: readonly string[], env: Readonly<Record<string, string>>) => Promise<void> | void;
  /** Called when the terminal left a kept bottle's agent running in its session (detached); the run then ends with 0. */
  onDetach?: (slug: string) => void;
}

/** How long one setup command may run (an `npm ci` of a large project is minutes, not hours). */
export const SETUP_TIMEOUT_MS = 30 * 60_000;

/** The last lines of a command's output, for the error that stops the launch. */
function tail(text: string, lines = 30): string[] {
  const all = text.replace(/\s+$/, '').split('\n');
  return all.length > lines ? [`... (${all.length - lines} earlier lines)`, ...all.slice(-lines)] : all.filter((l, i) => l !== '' || i > 0);
}

/**
 * The plan's setup commands, in order, each as the agent user in the workspace with the agent's
 * env (so through the same proxy and egress policy as the agent), each a progress line. The first
 * that fails stops the launch with its output; the session's clean-up removes the bottle.
 */
export async function runSetup(o: Pick<SessionOptions, 'plan' | 'progress' | 'signal'>, target: Target, env: Record<string, string>): Promise<void> {
  const { setup } = o.plan;
  for (const [i, command] of setup.entries()) {
    if (o.signal.aborted) throw new BottleError('INTERRUPTED', 'interrupted', { exit: EXIT_INTERRUPTED });
    o.progress('setup', `${i + 1}/${setup.length}: ${command}`);
    const r = await target.exec(['sh', '-c', command], { user: o.plan.guest.user, cwd: o.plan.guest.workspace, env, timeoutMs: SETUP_TIMEOUT_MS, signal: o.signal });
    if (r.exitCode !== 0) {
      throw new BottleError('SETUP_FAILED', `setup command ${i + 1} of ${setup.length} failed (exit ${r.exitCode}): ${command}`, {
        details: tail([r.stdout, r.stderr].filter(Boolean).join('\n')),
        suggestions: [
          'Fix the command (or what it installs) and run again; the bottle was removed.',
          'A download refused by the gateway shows in `bottle logs`; a registry needs its preset ("egress": {"presets": [...]}, see `bottle presets`).',
        ],
      });
    }
  }
}

export async function runSession(o: SessionOptions): Promise<number> {
  if (o.plan.launchProblems.length) {
    throw new BottleError('LAUNCH_ENV_MISSING', `cannot launch ${o.plan.agentName}: ${o.plan.launchProblems.length === 1 ? 'a value it needs is missing' : 'values it needs are missing'}`, {
      details: o.plan.launchProblems,
      suggestions: ['Export each variable named above in the shell that runs `bottle run`.'],
      exit: EXIT_USAGE,
    });
  }
  if (o.plan.workBack) {
    o.progress('work', `${o.plan.workBack.hostRepo}: the bottle's origin; its work comes back as ${o.plan.workBack.namespace}/*`);
    await prepareWorkBack(o.plan);
  }
  const bottle = await o.backend.launch(o.plan, { progress: o.progress, signal: o.signal, keep: o.keep });
  let keepIt = o.keep;
  let ready = false;
  try {
    if (o.plan.copyCwd) {
      o.progress('workspace', o.plan.userCwd);
      const copied = await copyWorkspace(o.plan, bottle.target);
      o.progress('workspace', `${copied.files >= 0 ? `${copied.files} files` : 'all files'} copied${copied.skipped.length ? `; skipped ${copied.skipped.join('; ')}` : ''}`);
    }
    o.progress('provision');
    const outcome = await runProvisioners(o.steps, {
      plan: o.plan,
      target: bottle.target,
      endpoints: bottle.endpoints,
      hostEnv: o.hostEnv ?? process.env,
      signal: o.signal,
      onStep: (name, i, total) => o.progress('provision', `${name} (${i + 1}/${total})`),
      warn: (name, m) => o.warn(`${name}: ${m}`),
      log: (name, m) => o.log?.(`${name}: ${m}`),
    });
    if (o.signal.aborted) throw new BottleError('INTERRUPTED', 'interrupted', { exit: EXIT_INTERRUPTED });
    const env = agentEnv(o.plan, bottle.endpoints);
    o.progress('agent', `${o.plan.agent.cli} (${o.plan.agent.description})`);
    const hostEnv = o.hostEnv ?? process.env;
    const agent = await configureAgent({
      definition: o.agent,
      plan: o.plan,
      target: bottle.target,
      outcome,
      env,
      secrets: new Map(o.plan.egress.secretEnv.flatMap((n) => (hostEnv[n] && hostEnv[n]!.length >= 8 ? [[n, hostEnv[n]!] as const] : []))),
      ...(o.headlessPrompt === undefined ? {} : { headlessPrompt: o.headlessPrompt }),
      signal: o.signal,
      log: (m) => o.log?.(`${o.plan.agent.cli}: ${m}`),
      warn: (m) => o.warn(`${o.plan.agent.cli}: ${m}`),
    });
    if (o.signal.aborted) throw new BottleError('INTERRUPTED', 'interrupted', { exit: EXIT_INTERRUPTED });
    await runSetup(o, bottle.target, { ...env, ...agent.env });
    o.onReady?.(bottle.slug);
    ready = true;
    const argv = o.argv.length ? o.argv : agent.argv;
    await o.onStart?.(bottle.slug, argv, agent.env);
    // A kept bottle's agent records its pid and exit code; an interactive one runs in a detachable
    // session (the terminal may leave it, or be lost, and `bottle attach` joins it again).
    const kept = o.keep && !o.argv.length;
    const detachable = kept && o.tty && o.headlessPrompt === undefined;
    const code = await bottle.attach(detachable ? sessionCommand(argv) : kept ? recordedAgentCommand(argv) : argv, { tty: o.tty, env: agent.env });
    if (detachable) {
      const state = await bottle.target.exec(AGENT_STATE_COMMAND, { user: o.plan.guest.user }).then((r) => keptAgentState(r.exitCode), () => 'ended' as const);
      if (state !== 'ended') o.onDetach?.(bottle.slug);
    }
    return code;
  } catch (e) {
    keepIt = false; // a launch that failed is never kept half-made
    throw e;
  } finally {
    // The agent's branches come home before the bottle goes (a launch that never got ready has none).
    if (!keepIt && ready && o.plan.workBack) {
      const back = await bringWorkBack(o.plan, bottle.target);
      for (const p of back.problems) o.warn(`work: ${p}`);
      if (back.branches.length) o.progress('work', `${back.branches.length} branch(es) in ${o.plan.workBack.hostRepo}: ${back.branches.map((b) => `${o.plan.workBack!.namespace}/${b}`).join(', ')} (bottle diff ${bottle.slug})`);
    }
    if (!keepIt) await bottle.destroy();
  }
}
