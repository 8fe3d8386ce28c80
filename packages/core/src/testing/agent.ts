/**
 * A test double of an agent definition, for tests of sessions and backends that run a given command
 * (or check the command line a session builds): it installs nothing real, configures nothing, and
 * starts `cli` with the provisioners' arguments. Never registered with the CLI.
 */
import { configureAgent } from '../agent/configure.js';
import { defineAgent, type AgentDefinition, type McpServer } from '../agent/definition.js';
import { agentEnv } from '../plan.js';
import { RecordingTarget } from './recording-target.js';
import { ENDPOINTS, planFor, world, type PlanInput } from './provision.js';

export function testAgentDouble(cli = 'claude'): AgentDefinition {
  return defineAgent({
    apiVersion: 1,
    name: cli,
    description: `test double of the ${cli} agent`,
    install: { dir: '/nonexistent/test-agent-double', bin: cli },
    credentials: [],
    async configure() {},
    command: ({ mode, prompt, args }) => [cli, ...(mode === 'headless' ? ['-p', prompt ?? ''] : []), ...args],
  });
}

export interface ConfigureForTestOptions extends PlanInput {
  /** What the provisioners handed over: instruction files and MCP servers. */
  instructions?: string[];
  mcpServers?: McpServer[];
  headlessPrompt?: string;
  /** The guest's answer to each exec (default: exit 0, no output). */
  respond?: RecordingTarget['respond'];
  /** Host values of credentials the gateway injects (by env name), for the no-secret checks. */
  secrets?: Record<string, string>;
}

/**
 * Runs an agent definition's configure and command as a session does, against a RecordingTarget:
 * what it wrote and ran in the guest, the command line and env it starts with, what it warned.
 */
export async function configureForTest(definition: AgentDefinition, o: ConfigureForTestOptions = {}) {
  const w = await world();
  const plan = await planFor(w, { ...o, agent: definition });
  const target = new RecordingTarget();
  if (o.respond) target.respond = o.respond;
  const warnings: string[] = [];
  const configured = await configureAgent({
    definition,
    plan,
    target,
    outcome: { env: {}, agentArgs: [], instructions: o.instructions ?? [], mcpServers: o.mcpServers ?? [], applied: [] },
    env: agentEnv(plan, ENDPOINTS),
    secrets: new Map(Object.entries(o.secrets ?? {})),
    ...(o.headlessPrompt === undefined ? {} : { headlessPrompt: o.headlessPrompt }),
    signal: new AbortController().signal,
    log: () => undefined,
    warn: (m) => warnings.push(m),
  });
  /** The files written as the agent user, by guest path (their content as written). */
  const files = new Map<string, string>();
  for (const c of target.execs) {
    if (c.argv[0] === 'sh' && c.argv[3] === 'bot-bottle-write') files.set(c.argv[5]!, String(c.options.stdin ?? ''));
  }
  /** The files copied as the agent user (copyFile): each destination and the guest file it is a copy of. */
  const copies = new Map<string, string>();
  for (const c of target.execs) {
    if (c.argv[0] === 'sh' && c.argv[3] === 'bot-bottle-copy') copies.set(c.argv[6]!, c.argv[5]!);
  }
  return { plan, target, warnings, files, copies, ...configured };
}
