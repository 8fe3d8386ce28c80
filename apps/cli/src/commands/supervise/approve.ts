import { Args, Flags } from '@oclif/core';
import type { EgressRoute } from '@bot-bottle/core';
import { approveRequest, findRequest, type CredentialAssessment } from '@bot-bottle/supervise';
import { BaseCommand } from '../../base-command.js';
import { approvedLines, decider, requestWarnings, runningQueues } from '../../supervise.js';

export interface ApproveJson {
  id: string;
  slug: string;
  /** Exactly the route added, every field. */
  route: EgressRoute;
  persisted: boolean | null;
  alreadyAllowed: boolean;
  credential: CredentialAssessment | null;
  warnings: string[];
}

export default class SuperviseApprove extends BaseCommand {
  static override summary = "Approve an agent's request: the route is in force on its running gateway at once, without a restart.";
  static override description = [
    'The route is exactly what was asked: the host, and the methods and paths if the agent named them (HTTPS on port 443); every field of it is printed.',
    'A route that injects a credential takes the value of its env var from this shell, now; the agent only ever named the variable. Only a variable the manifest names in the bottle\'s "supervise": {"credentials": [...]} can be approved; any other request is refused here, whatever the bundle queued. A credential going to a host no route sent it to before is marked NEW.',
    'With --persist, the route is also added to the bottle in the manifest it was launched from (the rest of the file is left as it is), so the next launch has it too.',
  ].join('\n');
  static override examples = ['<%= config.bin %> supervise approve req-0123456789', '<%= config.bin %> supervise approve req-0123456789 --persist'];
  static override args = { id: Args.string({ description: 'The request (see `bottle supervise list`)', required: true }) };
  static override flags = {
    persist: Flags.boolean({ summary: 'Also add the route to the manifest the bottle was launched from.', default: false }),
  };

  async run(): Promise<ApproveJson> {
    const { args, flags } = await this.parse(SuperviseApprove);
    const { bottle } = await findRequest(args.id, await runningQueues(this.config));
    const r = await approveRequest({ bottle, id: args.id, decidedBy: decider(), env: process.env, persist: flags.persist });
    const warnings = requestWarnings(r.route, r.credential, 'now');
    for (const line of approvedLines(bottle, r, warnings)) this.out(line);
    return { id: r.request.id, slug: bottle.slug, route: r.route, persisted: r.persisted, alreadyAllowed: r.alreadyAllowed, credential: r.credential, warnings };
  }
}
