/**
 * The session's side of the agent contract: after the provisioners, hand the agent's definition
 * what they produced (instructions, MCP servers), check what it returns the way provisioners'
 * results are checked (no credential may ride in), and build the command that starts it.
 */
import path from 'node:path';
import type { Target } from '../backend.js';
import { BottleError, isBottleError } from '../errors.js';
import type { BottlePlan } from '../plan.js';
import type { ProvisionOutcome } from '../runner.js';
import type { AgentDefinition } from './definition.js';

export interface ConfiguredAgent {
  /** The agent's command line, unless the user gave one. */
  argv: string[];
  /** Env for the agent process (the definition's and what configure returned, over the provisioners'). */
  env: Record<string, string>;
}

/** Several instruction files become one, in provisioner order: every agent reads one file. */
async function oneInstructionsFile(target: Target, plan: BottlePlan, files: readonly string[], write: (p: string, c: string) => Promise<void>): Promise<string | null> {
  if (files.length <= 1) return files[0] ?? null;
  const parts: string[] = [];
  for (const f of files) {
    const r = await target.exec(['cat', f], { user: plan.guest.user });
    if (r.exitCode !== 0) throw new BottleError('PROVISIONER_FAILED', `cannot read the instructions file ${f} in ${target.description}`, { details: [r.stderr.trim()].filter(Boolean) });
    parts.push(r.stdout.replace(/\s+$/, ''));
  }
  const joined = path.posix.join(plan.guest.home, '.bot-bottle-instructions.md');
  await write(joined, `${parts.join('\n\n')}\n`);
  return joined;
}

export async function configureAgent(o: {
  definition: AgentDefinition;
  plan: BottlePlan;
  target: Target;
  outcome: ProvisionOutcome;
  /** The env every agent process gets (plan guest env + endpoints). */
  env: Readonly<Record<string, string>>;
  /** The host values of the credentials the gateway injects: none may appear in what the agent is given. */
  secrets: ReadonlyMap<string, string>;
  headlessPrompt?: string;
  signal: AbortSignal;
  log: (m: string) => void;
  warn: (m: string) => void;
}): Promise<ConfiguredAgent> {
  const { definition, plan, target } = o;
  const guest = { user: plan.guest.user, home: plan.guest.home, workspace: plan.guest.workspace };
  const env = { ...o.env, ...o.outcome.env };
  const writeFile = async (guestPath: string, content: string): Promise<void> => {
    if (!guestPath.startsWith('/') || /[\0\n]/.test(guestPath)) throw new BottleError('INTERNAL', `agent ${definition.name}: ${JSON.stringify(guestPath)} is not an absolute guest path`);
    for (const [name, value] of o.secrets) if (content.includes(value)) throw new BottleError('AGENT_CONFIG_SECRET', `agent ${definition.name} would write the value of ${name}, a credential the gateway injects, into ${guestPath}`);
    const r = await target.exec(['sh', '-c', 'umask 077 && mkdir -p -- "$1" && cat > "$2" && chmod 600 "$2"', 'bot-bottle-write', path.posix.dirname(guestPath), guestPath], {
      user: guest.user,
      env: { HOME: guest.home, USER: guest.user },
      stdin: content,
      signal: o.signal,
    });
    if (r.exitCode !== 0) throw new BottleError('PROVISIONER_FAILED', `cannot write ${guestPath} in ${target.description} (exit ${r.exitCode})`, { details: [r.stderr.trim()].filter(Boolean) });
  };
  const copyFile = async (from: string, to: string): Promise<void> => {
    for (const p of [from, to]) if (!p.startsWith('/') || /[\0\n]/.test(p)) throw new BottleError('INTERNAL', `agent ${definition.name}: ${JSON.stringify(p)} is not an absolute guest path`);
    const r = await target.exec(['sh', '-c', 'umask 077 && mkdir -p -- "$1" && cat -- "$2" > "$3" && chmod 600 "$3"', 'bot-bottle-copy', path.posix.dirname(to), from, to], {
      user: guest.user,
      env: { HOME: guest.home, USER: guest.user },
      signal: o.signal,
    });
    if (r.exitCode !== 0) throw new BottleError('PROVISIONER_FAILED', `cannot copy ${from} to ${to} in ${target.description} (exit ${r.exitCode})`, { details: [r.stderr.trim()].filter(Boolean) });
  };
  let configured;
  try {
    configured = await definition.configure({
      target,
      guest,
      instructions: await oneInstructionsFile(target, plan, o.outcome.instructions, writeFile),
      mcpServers: o.outcome.mcpServers.map((m) => ({ ...m })),
      permissionPrompts: plan.agent.permissionPrompts,
      env,
      writeFile,
      copyFile,
      exec: (argv) => target.exec(argv, { user: guest.user, cwd: guest.workspace, env, signal: o.signal, timeoutMs: 120_000 }),
      log: o.log,
      warn: o.warn,
      signal: o.signal,
    });
  } catch (e) {
    if (isBottleError(e) && (e.code === 'AGENT_CONFIG_SECRET' || e.code === 'INTERRUPTED')) throw e;
    const why = e instanceof Error || isBottleError(e) ? (e as Error).message : String(e);
    throw new BottleError('AGENT_CONFIGURE_FAILED', `agent ${definition.name} could not be set up in ${target.description}: ${why}`, {
      suggestions: ['Re-run with BOTTLE_DEBUG=1 for details; the launch was cleaned up.'],
      cause: e,
    });
  }
  const args = [...o.outcome.agentArgs, ...(configured?.args ?? [])];
  const agentEnv = { ...o.outcome.env, ...(configured?.env ?? {}) };
  for (const [name, value] of o.secrets) {
    const holds = (s: string) => s.includes(value);
    if (args.some(holds) || Object.values(agentEnv).some(holds) || Object.hasOwn(configured?.env ?? {}, name)) {
      throw new BottleError('AGENT_CONFIG_SECRET', `agent ${definition.name} would get the value of ${name}, a credential the gateway injects, on its command line or in its env`);
    }
  }
  const argv = definition.command({
    mode: o.headlessPrompt === undefined ? 'interactive' : 'headless',
    ...(o.headlessPrompt === undefined ? {} : { prompt: o.headlessPrompt }),
    permissionPrompts: plan.agent.permissionPrompts,
    args,
  });
  if (!Array.isArray(argv) || !argv.length || !argv.every((a) => typeof a === 'string')) throw new BottleError('INTERNAL', `agent ${definition.name}'s command() did not return a command line`);
  return { argv, env: agentEnv };
}
