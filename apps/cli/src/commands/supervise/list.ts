import { BaseCommand } from '../../base-command.js';
import { pendingRequests } from '@bot-bottle/supervise';
import { describeRequest, runningQueues } from '../../supervise.js';

export interface PendingJson {
  id: string;
  slug: string;
  host: string;
  methods: string[] | null;
  paths: string[] | null;
  auth: { header: string; env: string } | null;
  reason: string;
  time: string;
  ageSeconds: number;
}

export default class SuperviseList extends BaseCommand {
  static override summary = 'List what agents asked for and wait on: the pending requests of every running bottle.';
  static override description = [
    'Each request: its id, the bottle, the host and the methods and paths asked for, how long it has waited, the agent\'s reason, and any credential the route would inject (by the host env var it comes from).',
    'Decide with `bottle supervise approve ID` or `bottle supervise deny ID`.',
  ].join('\n');
  static override examples = ['<%= config.bin %> supervise list', '<%= config.bin %> supervise list --json'];

  async run(): Promise<PendingJson[]> {
    await this.parse(SuperviseList);
    const { pending, skipped } = await pendingRequests(await runningQueues());
    for (const s of skipped) this.note(`bottle: ignored a file in the queue of ${s}`);
    const now = Date.now();
    if (pending.length === 0) this.note('no pending requests');
    for (const p of pending) for (const line of describeRequest(p.slug, p.request, now)) this.out(line);
    return pending.map(({ slug, request: r }) => ({
      id: r.id,
      slug,
      host: r.host,
      methods: r.methods ?? null,
      paths: r.paths ?? null,
      auth: r.auth ? { header: r.auth.header, env: r.auth.env } : null,
      reason: r.reason,
      time: r.time,
      ageSeconds: Math.max(0, Math.floor((now - Date.parse(r.time)) / 1000)),
    }));
  }
}
