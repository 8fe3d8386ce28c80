import { BaseCommand } from '../../base-command.js';
import { superviseQueue } from '../../supervise-queue.js';
import { listPending, type PendingJson } from '../../supervise.js';

export default class Supervise extends BaseCommand {
  static override summary = 'What agents asked for: list, approve or deny their requests (supervise MCP server).';
  static override description = [
    'An agent with the supervise MCP server asks for a change (a new egress host) with a reason; the request waits here until you decide.',
    'On a terminal this is an interactive queue: pick a request with the arrow keys, then approve (in force at once), approve and add it to the manifest, or deny with a reason the agent is told.',
    'Without a terminal (or with --json) it lists the pending requests; `bottle supervise list|approve|deny` do one thing each.',
  ].join('\n');
  static override examples = ['<%= config.bin %> supervise', '<%= config.bin %> supervise approve req-0123456789', '<%= config.bin %> supervise deny req-0123456789 --reason "..."'];

  async run(): Promise<PendingJson[] | undefined> {
    await this.parse(Supervise);
    if (process.stdin.isTTY && process.stdout.isTTY && !this.jsonEnabled()) {
      await superviseQueue(this.config, { out: (t) => this.out(t), note: (t) => this.note(t) });
      return undefined;
    }
    const shown = await listPending(this.config, (m) => this.note(m));
    for (const s of shown) for (const line of s.lines) this.out(line);
    if (shown.length) this.note('decide with `bottle supervise approve ID [--persist]` or `bottle supervise deny ID [--reason TEXT]`');
    return shown.map((s) => s.json);
  }
}
