/**
 * One `bottle run`, backend-neutral: refuse launch problems, launch, provision in the declared
 * order, run the agent (or the given command) attached, and remove everything afterwards unless
 * asked to keep it. Any failure or interruption after launch still removes what was made.
 */
import { BottleError, EXIT_INTERRUPTED, EXIT_USAGE } from './errors.js';
import type { Backend, LaunchProgress } from './backend.js';
import type { BottlePlan } from './plan.js';
import { runProvisioners, type ResolvedStep } from './runner.js';
import { copyWorkspace } from './workspace.js';

export interface SessionOptions {
  plan: BottlePlan;
  backend: Backend;
  steps: readonly ResolvedStep[];
  /** The command to run; empty means the agent (claude) with what provisioners added. */
  argv: readonly string[];
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
}

export const AGENT_COMMAND = 'claude';

export async function runSession(o: SessionOptions): Promise<number> {
  if (o.plan.launchProblems.length) {
    throw new BottleError('LAUNCH_ENV_MISSING', `cannot launch ${o.plan.agentName}: ${o.plan.launchProblems.length === 1 ? 'a value it needs is missing' : 'values it needs are missing'}`, {
      details: o.plan.launchProblems,
      suggestions: ['Export each variable named above in the shell that runs `bottle run`.'],
      exit: EXIT_USAGE,
    });
  }
  const bottle = await o.backend.launch(o.plan, { progress: o.progress, signal: o.signal, keep: o.keep });
  let keepIt = o.keep;
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
    o.onReady?.(bottle.slug);
    const argv = o.argv.length ? o.argv : [AGENT_COMMAND, ...outcome.agentArgs];
    return await bottle.attach(argv, { tty: o.tty, env: outcome.env });
  } catch (e) {
    keepIt = false; // a launch that failed is never kept half-made
    throw e;
  } finally {
    if (!keepIt) await bottle.destroy();
  }
}
