import { approveRequest, denyRequest, findRequest, knownRoutes, pendingRequests, type PendingRequest } from '@bot-bottle/supervise';
import { BaseCommand } from '../../base-command.js';
import { hostText, visible } from '../../display/visible.js';
import { age, assessRequest, credential, decider, describeRequest, requestWarnings, routeLines, runningQueues, scope, showPending, type PendingJson } from '../../supervise.js';

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

  async run(): Promise<PendingJson[] | undefined> {
    await this.parse(Supervise);
    if (process.stdin.isTTY && process.stdout.isTTY && !this.jsonEnabled()) {
      await this.interactive();
      return undefined;
    }
    const { pending, skipped } = await pendingRequests(await runningQueues(this.config));
    for (const s of skipped) this.note(`bottle: ignored a file in the queue of ${visible(s)}`);
    if (pending.length === 0) this.note('no pending requests');
    const shown = await showPending(pending);
    for (const s of shown) for (const line of s.lines) this.out(line);
    if (pending.length) this.note('decide with `bottle supervise approve ID [--persist]` or `bottle supervise deny ID [--reason TEXT]`');
    return shown.map((s) => s.json);
  }

  /** The queue on a terminal, until there is nothing left or the person leaves (q, Ctrl-C). */
  private async interactive(): Promise<void> {
    // Loaded only here: a prompt library has no business in a scripted run.
    const { select, input } = await import('@inquirer/prompts');
    try {
      for (;;) {
        const { pending } = await pendingRequests(await runningQueues(this.config));
        if (pending.length === 0) {
          this.out('no pending requests');
          return;
        }
        const now = Date.now();
        const shown = await showPending(pending, now);
        const id = await select<string>({
          message: `${pending.length} pending request${pending.length === 1 ? '' : 's'} (arrow keys, enter)`,
          choices: [
            ...pending.map((p: PendingRequest, i) => ({
              value: p.request.id,
              name: `${p.request.id}  ${p.slug}  ${hostText(p.request.host)}  ${scope(p.request)}  ${age(p.request.time, now)}`,
              description: shown[i]!.lines.slice(1).map((l) => l.trim()).join('\n'),
            })),
            { value: REFRESH, name: 'refresh' },
            { value: QUIT, name: 'quit' },
          ],
          pageSize: 15,
          loop: true,
        });
        if (id === QUIT) return;
        if (id === REFRESH) continue;
        const { bottle, queued } = await findRequest(id, await runningQueues(this.config));
        const r = queued.request;
        // Every field of the route, and what its credential would do, before the person decides.
        for (const line of describeRequest(bottle.slug, r, assessRequest(bottle, r, await knownRoutes(bottle)), now)) this.out(line);
        const action = await select<'approve' | 'persist' | 'deny' | 'back'>({
          message: `${r.id}: ${bottle.slug} asks for ${hostText(r.host)} (${scope(r)})${r.auth ? `; ${credential({ host: r.host, auth: r.auth })}` : ''}`,
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
            // Exactly what was shown above is approved, or nothing: the bundle may rewrite its queue.
            const done = await approveRequest({ bottle, id, decidedBy: decider(), env: process.env, persist: action === 'persist', expect: r });
            this.out(`approved ${id}: ${bottle.slug} may now reach ${hostText(done.route.host)} (${scope(done.route)})${done.persisted ? `; added to ${bottle.manifestPath}` : ''}`);
            for (const line of routeLines(done.route, '    ')) this.out(line);
            for (const w of requestWarnings(done.route, done.credential, 'now')) this.out(`  ${w}`);
          }
        } catch (e) {
          // One decision failing (an env var not set, a bottle gone) leaves the queue open.
          this.note(`could not ${action === 'deny' ? 'deny' : 'approve'} ${id}: ${visible((e as Error).message)}`);
          for (const d of (e as { details?: readonly string[] }).details ?? []) this.note(`  ${visible(d)}`);
          for (const s of (e as { suggestions?: readonly string[] }).suggestions ?? []) this.note(`  fix: ${visible(s)}`);
        }
      }
    } catch (e) {
      if ((e as Error).name === 'ExitPromptError') return; // Ctrl-C at a prompt: leave quietly
      throw e;
    }
  }
}

