import { approveRequest, denyRequest, findRequest, pendingRequests, type PendingRequest } from '@bot-bottle/supervise';
import { BaseCommand } from '../../base-command.js';
import { age, credential, decider, describeRequest, runningQueues, scope } from '../../supervise.js';
import { visible } from '../logs.js';

const QUIT = '(quit)';
const REFRESH = '(refresh)';

export default class Supervise extends BaseCommand {
  static override summary = 'What agents asked for: list, approve or deny their requests (supervise MCP server).';
  static override description = [
    'An agent with the supervise MCP server asks for a change (a new egress host) with a reason; the request waits here until you decide.',
    'On a terminal this is an interactive queue: pick a request with the arrow keys, then approve (in force at once), approve and add it to the manifest, or deny with a reason the agent is told.',
    'Without a terminal (or with --json) it lists the pending requests; `bottle supervise list|approve|deny` do one thing each.',
  ].join('\n');
  static override examples = ['<%= config.bin %> supervise', '<%= config.bin %> supervise approve req-0123456789', '<%= config.bin %> supervise deny req-0123456789 --reason "..."'];

  async run(): Promise<{ id: string; slug: string; host: string }[] | undefined> {
    await this.parse(Supervise);
    if (process.stdin.isTTY && process.stdout.isTTY && !this.jsonEnabled()) {
      await this.interactive();
      return undefined;
    }
    const { pending } = await pendingRequests(await runningQueues());
    if (pending.length === 0) this.note('no pending requests');
    const now = Date.now();
    for (const p of pending) for (const line of describeRequest(p.slug, p.request, now)) this.out(line);
    if (pending.length) this.note('decide with `bottle supervise approve ID [--persist]` or `bottle supervise deny ID [--reason TEXT]`');
    return pending.map((p) => ({ id: p.request.id, slug: p.slug, host: p.request.host }));
  }

  /** The queue on a terminal, until there is nothing left or the person leaves (q, Ctrl-C). */
  private async interactive(): Promise<void> {
    // Loaded only here: a prompt library has no business in a scripted run.
    const { select, input } = await import('@inquirer/prompts');
    try {
      for (;;) {
        const { pending } = await pendingRequests(await runningQueues());
        if (pending.length === 0) {
          this.out('no pending requests');
          return;
        }
        const now = Date.now();
        const id = await select<string>({
          message: `${pending.length} pending request${pending.length === 1 ? '' : 's'} (arrow keys, enter)`,
          choices: [
            ...pending.map((p: PendingRequest) => ({
              value: p.request.id,
              name: `${p.request.id}  ${p.slug}  ${visible(p.request.host)}  ${scope(p.request)}  ${age(p.request.time, now)}`,
              description: [`reason: ${visible(p.request.reason)}`, ...(p.request.auth ? [`credential: ${credential({ host: p.request.host, auth: p.request.auth })}`] : [])].join('\n'),
            })),
            { value: REFRESH, name: 'refresh' },
            { value: QUIT, name: 'quit' },
          ],
          pageSize: 15,
          loop: true,
        });
        if (id === QUIT) return;
        if (id === REFRESH) continue;
        const { bottle, queued } = await findRequest(id, await runningQueues());
        const r = queued.request;
        const action = await select<'approve' | 'persist' | 'deny' | 'back'>({
          message: `${r.id}: ${bottle.slug} asks for ${visible(r.host)} (${scope(r)})${r.auth ? `; ${credential({ host: r.host, auth: r.auth })}` : ''}`,
          choices: [
            { value: 'approve', name: 'approve (in force now, until the bottle stops)' },
            ...(bottle.manifestPath && !bottle.manifestPath.startsWith('<') ? [{ value: 'persist' as const, name: `approve and add to ${bottle.manifestPath}` }] : []),
            { value: 'deny', name: 'deny' },
            { value: 'back', name: 'back' },
          ],
        });
        if (action === 'back') continue;
        try {
          if (action === 'deny') {
            const reason = await input({ message: 'reason (the agent is told; enter for none):' });
            await denyRequest({ bottle, id, decidedBy: decider(), ...(reason.trim() ? { reason } : {}) });
            this.out(`denied ${id}`);
          } else {
            const done = await approveRequest({ bottle, id, decidedBy: decider(), env: process.env, persist: action === 'persist' });
            this.out(`approved ${id}: ${bottle.slug} may now reach ${visible(done.route.host)} (${scope(done.route)})${done.persisted ? `; added to ${bottle.manifestPath}` : ''}`);
          }
        } catch (e) {
          // One decision failing (an env var not set, a bottle gone) leaves the queue open.
          this.note(`could not ${action === 'deny' ? 'deny' : 'approve'} ${id}: ${(e as Error).message}`);
          for (const s of (e as { suggestions?: readonly string[] }).suggestions ?? []) this.note(`  fix: ${s}`);
        }
      }
    } catch (e) {
      if ((e as Error).name === 'ExitPromptError') return; // Ctrl-C at a prompt: leave quietly
      throw e;
    }
  }
}
