import { pendingRequests } from '@bot-bottle/supervise';
import { BaseCommand } from '../../base-command.js';
import { describeRequest, runningQueues } from '../../supervise.js';

export default class Supervise extends BaseCommand {
  static override summary = 'What agents asked for: list, approve or deny their requests (supervise MCP server).';
  static override description = [
    'An agent with the supervise MCP server asks for a change (a new egress host) with a reason; the request waits here until you decide.',
    'Without a terminal this lists the pending requests; `bottle supervise list|approve|deny` do one thing each.',
  ].join('\n');
  static override examples = ['<%= config.bin %> supervise', '<%= config.bin %> supervise approve req-0123456789', '<%= config.bin %> supervise deny req-0123456789 --reason "..."'];

  async run(): Promise<void> {
    await this.parse(Supervise);
    const { pending } = await pendingRequests(await runningQueues());
    if (pending.length === 0) this.note('no pending requests');
    const now = Date.now();
    for (const p of pending) for (const line of describeRequest(p.slug, p.request, now)) this.out(line);
    if (pending.length) this.note('decide with `bottle supervise approve ID [--persist]` or `bottle supervise deny ID [--reason TEXT]`');
  }
}
