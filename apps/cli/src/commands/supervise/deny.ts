import { Args, Flags } from '@oclif/core';
import { denyRequest, findRequest } from '@bot-bottle/supervise';
import { BaseCommand } from '../../base-command.js';
import { decider, runningQueues } from '../../supervise.js';
import { hostText } from '../../display/visible.js';

export default class SuperviseDeny extends BaseCommand {
  static override summary = "Deny an agent's request; the agent reads your reason with get_request and can adapt.";
  static override examples = ['<%= config.bin %> supervise deny req-0123456789 --reason "use the mirror at registry.internal instead"'];
  static override args = { id: Args.string({ description: 'The request (see `bottle supervise list`)', required: true }) };
  static override flags = {
    reason: Flags.string({ summary: 'Why (at most 1000 characters); the agent is told.' }),
  };

  async run(): Promise<{ id: string; slug: string; reason: string | null }> {
    const { args, flags } = await this.parse(SuperviseDeny);
    const { bottle } = await findRequest(args.id, await runningQueues(this.config));
    const r = await denyRequest({ bottle, id: args.id, decidedBy: decider(), ...(flags.reason !== undefined ? { reason: flags.reason } : {}) });
    this.out(`denied ${r.request.id}: ${bottle.slug} still may not reach ${hostText(r.request.host)}`);
    return { id: r.request.id, slug: bottle.slug, reason: flags.reason?.trim() || null };
  }
}
