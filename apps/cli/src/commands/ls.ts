import { existsSync } from 'node:fs';
import path from 'node:path';
import { AGENT_STATE_COMMAND, bottleStateDir, keptAgentState, type BottleStatus } from '@bot-bottle/core';
import { AGENT_LAUNCH_FILE } from './attach.js';
import { BaseCommand } from '../base-command.js';
import { backendOf, listAll } from '../backends.js';
import { age } from '../display/age.js';
import { forwardedPorts } from '../port-forward.js';

export default class Ls extends BaseCommand {
  static override summary = 'List bottles: what the engine runs, checked against the state dir.';
  static override examples = ['<%= config.bin %> ls', '<%= config.bin %> ls --json'];

  async run(): Promise<BottleStatus[]> {
    await this.parse(Ls);
    const bottles = await listAll(this.config, (m) => this.note(`warning: ${m}`));
    // Each kept bottle's agent, asked of all of them at once: running in its session (bottle attach
    // joins it), running without one, or exited (bottle attach starts it again).
    await Promise.all(
      bottles.map(async (b) => {
        if (b.state === 'running' && existsSync(path.join(bottleStateDir(b.slug), AGENT_LAUNCH_FILE))) {
          const backend = await backendOf(this.config, b.slug).catch(() => null);
          const state = keptAgentState((await backend?.exec(b.slug, AGENT_STATE_COMMAND, { tty: false }).catch(() => -1)) ?? -1);
          const agent = { attachable: 'agent running (bottle attach)', running: 'agent running', ended: 'agent exited (bottle attach)' }[state];
          b.detail = [b.detail, agent].filter(Boolean).join('; ');
        }
        const ports = await forwardedPorts(b.slug);
        if (ports.length) b.detail = [b.detail, `ports ${ports.join(', ')}`].filter(Boolean).join('; ');
      }),
    );
    if (bottles.length === 0) {
      this.note('no bottles');
      return bottles;
    }
    const rows = [['SLUG', 'AGENT', 'BACKEND', 'STATE', 'AGE', 'DETAIL'], ...bottles.map((b) => [b.slug, b.agent, b.backend, b.state, age(b.createdAt), b.detail ?? ''])];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) this.out(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
    if (bottles.some((b) => b.state === 'orphaned')) this.note('orphaned bottles lost their owner; `bottle gc` reclaims them');
    return bottles;
  }
}
