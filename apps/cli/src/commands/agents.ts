import { describeInstall } from '@bot-bottle/core';
import { BaseCommand } from '../base-command.js';
import { loadAgents } from '../agents.js';

interface AgentInfo {
  name: string;
  description: string;
  package: string;
  version: string;
  installs: string;
  credentials: { host: string; header: string; env: string }[];
  skills: boolean;
}

export default class Agents extends BaseCommand {
  static override summary = 'List the coding agents a bottle can run (an agent\'s "cli"), with their API hosts.';
  static override description = 'Claude Code, Codex, Gemini CLI and OpenCode ship with bottle; an agent plugin adds another (bottle plugins install <package>). `bottle init --agent NAME` writes a starter for one.';
  static override examples = ['<%= config.bin %> agents', '<%= config.bin %> agents --json'];

  async run(): Promise<{ agents: AgentInfo[] }> {
    await this.parse(Agents);
    const agents = [...(await loadAgents(this.config)).values()]
      .map((r) => ({
        name: r.definition.name,
        description: r.definition.description,
        package: r.packageName,
        version: r.packageVersion,
        installs: describeInstall(r.definition.install),
        credentials: r.definition.credentials.map((c) => ({ host: c.host, header: c.header, env: c.env })),
        skills: r.definition.skillsDir !== undefined,
      }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const a of agents) {
      this.out(`${a.name}  ${a.description}  (${a.installs}; plugin ${a.package}@${a.version})`);
      for (const c of a.credentials) this.out(`  ${c.host}  ${c.header} from ${c.env}`);
    }
    return { agents };
  }
}
