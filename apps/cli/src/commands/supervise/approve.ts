import { Args, Flags } from '@oclif/core';
import { approveRequest, findRequest } from '@bot-bottle/supervise';
import { BaseCommand } from '../../base-command.js';
import { credential, decider, runningQueues, scope } from '../../supervise.js';
import { visible } from '../logs.js';

export default class SuperviseApprove extends BaseCommand {
  static override summary = "Approve an agent's request: the route is in force on its running gateway at once, without a restart.";
  static override description = [
    'The route is exactly what was asked: the host, and the methods and paths if the agent named them (HTTPS on port 443).',
    'A route that injects a credential takes the value of its env var from this shell, now; the agent only ever named the variable.',
    'With --persist, the route is also added to the bottle in the manifest it was launched from (the rest of the file is left as it is), so the next launch has it too.',
  ].join('\n');
  static override examples = ['<%= config.bin %> supervise approve req-0123456789', '<%= config.bin %> supervise approve req-0123456789 --persist'];
  static override args = { id: Args.string({ description: 'The request (see `bottle supervise list`)', required: true }) };
  static override flags = {
    persist: Flags.boolean({ summary: 'Also add the route to the manifest the bottle was launched from.', default: false }),
  };

  async run(): Promise<{ id: string; slug: string; route: unknown; persisted: boolean | null; alreadyAllowed: boolean }> {
    const { args, flags } = await this.parse(SuperviseApprove);
    const { bottle } = await findRequest(args.id, await runningQueues());
    const r = await approveRequest({ bottle, id: args.id, decidedBy: decider(), env: process.env, persist: flags.persist });
    this.out(`approved ${r.request.id}: ${bottle.slug} may now reach ${visible(r.route.host)} (${scope(r.route)})${r.alreadyAllowed ? ' (it already could)' : ', in force now'}`);
    if (r.route.auth) this.out(`  ${credential(r.route)}`);
    if (r.persisted === true) this.out(`  added to ${bottle.manifestPath} (bottles.${bottle.bottleName}.egress.routes)`);
    if (r.persisted === false) this.out(`  ${bottle.manifestPath} has this route already`);
    return { id: r.request.id, slug: bottle.slug, route: r.route, persisted: r.persisted, alreadyAllowed: r.alreadyAllowed };
  }
}
