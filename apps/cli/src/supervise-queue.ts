/**
 * `bottle supervise` on a terminal: the pending requests of every running bottle as a menu, and for
 * the one picked, every field of the route it asks for before the person approves (in force at
 * once), approves and adds it to the manifest, or denies it with a reason the agent is told. Runs
 * until the queue is empty or the person leaves (quit, Ctrl-C).
 */
import type { Config } from '@oclif/core';
import { approveRequest, denyRequest, findRequest, knownRoutes, pendingRequests, type PendingRequest } from '@bot-bottle/supervise';
import { age } from './display/age.js';
import { hostText, visible } from './display/visible.js';
import { assessRequest, credential, decider, describeRequest, requestWarnings, routeLines, runningQueues, scope, showPending } from './supervise.js';

const QUIT = '(quit)';
const REFRESH = '(refresh)';

export interface QueueOutput {
  /** A line of data (stdout). */
  out: (text: string) => void;
  /** A line of notes (stderr). */
  note: (text: string) => void;
}

export async function superviseQueue(config: Config, { out, note }: QueueOutput): Promise<void> {
  // Loaded only here: a prompt library has no business in a scripted run.
  const { select, input } = await import('@inquirer/prompts');
  try {
    for (;;) {
      const { pending } = await pendingRequests(await runningQueues(config));
      if (pending.length === 0) {
        out('no pending requests');
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
      const { bottle, queued } = await findRequest(id, await runningQueues(config));
      const r = queued.request;
      // Every field of the route, and what its credential would do, before the person decides.
      for (const line of describeRequest(bottle.slug, r, assessRequest(bottle, r, await knownRoutes(bottle)), now)) out(line);
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
          out(`denied ${id}`);
        } else {
          // Exactly what was shown above is approved, or nothing: the bundle may rewrite its queue.
          const done = await approveRequest({ bottle, id, decidedBy: decider(), env: process.env, persist: action === 'persist', expect: r });
          out(`approved ${id}: ${bottle.slug} may now reach ${hostText(done.route.host)} (${scope(done.route)})${done.persisted ? `; added to ${bottle.manifestPath}` : ''}`);
          for (const line of routeLines(done.route, '    ')) out(line);
          for (const w of requestWarnings(done.route, done.credential, 'now')) out(`  ${w}`);
        }
      } catch (e) {
        // One decision failing (an env var not set, a bottle gone) leaves the queue open.
        note(`could not ${action === 'deny' ? 'deny' : 'approve'} ${id}: ${visible((e as Error).message)}`);
        for (const d of (e as { details?: readonly string[] }).details ?? []) note(`  ${visible(d)}`);
        for (const s of (e as { suggestions?: readonly string[] }).suggestions ?? []) note(`  fix: ${visible(s)}`);
      }
    }
  } catch (e) {
    if ((e as Error).name === 'ExitPromptError') return; // Ctrl-C at a prompt: leave quietly
    throw e;
  }
}
