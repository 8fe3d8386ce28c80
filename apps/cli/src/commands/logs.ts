import { Args, Flags } from '@oclif/core';
import type { AuditEntry } from '@bot-bottle/core';
import { BaseCommand } from '../base-command.js';
import { formatAuditLine } from '../audit/format.js';
import { followAuditLog } from '../audit/follow.js';
import { auditLineReader, findAuditLog, readAuditLog } from '../audit/log.js';
// Under --json, text the bottle chose is written with its invisible characters as \u escapes.
import { jsonText } from '../display/visible.js';

export default class Logs extends BaseCommand {
  static override summary = "Show a bottle's audit log: every request its egress gateway and git-gate allowed or refused, what its agent asked for and what was decided, and why.";
  static override description = [
    'One line per request: time, decision (ALLOW/DENY), method, host and path, status (- when the connection was closed without an answer), then the route that allowed it or the reason it was refused.',
    'A git-gate line shows FETCH or PUSH, git:<repo> and the refs a push updates, -, then the reason it was refused.',
    'A supervise line shows ASK (the agent asked; PENDING, or DENY when the server refused it) or DECIDE (ALLOW or DENY by a person), supervise:<id> with the host, methods and paths, then the reason and who decided.',
    'With --json, one JSON array of the audit entries. With --follow, keeps printing new entries until the bottle is removed or you press Ctrl-C; --follow --json prints one JSON object per line (JSON Lines) instead of an array.',
  ].join('\n');
  static override examples = ['<%= config.bin %> logs demo-abc12', '<%= config.bin %> logs demo-abc12 --follow', '<%= config.bin %> logs demo-abc12 --json | jq \'.[] | select(.decision == "deny")\''];
  static override args = { slug: Args.string({ description: 'The bottle (see `bottle ls`)', required: true }) };
  static override flags = {
    follow: Flags.boolean({ char: 'f', summary: 'Keep printing new entries as they are logged (with --json: JSON Lines, one object per line).', default: false }),
  };

  async run(): Promise<AuditEntry[] | undefined> {
    const { args, flags } = await this.parse(Logs);
    const log = await findAuditLog(args.slug);
    const skipped = (m: string) => this.note(m);

    if (!flags.follow) {
      const entries = await readAuditLog(log, skipped);
      if (entries.length === 0) this.note(`no requests logged yet for ${log.slug}`);
      for (const e of entries) this.out(formatAuditLine(e));
      return entries;
    }

    // Each entry as it comes: a line for a person, or under --json one JSON object per line.
    const json = this.jsonEnabled();
    const read = auditLineReader(log.file, skipped);
    const ended = await followAuditLog(log, (line) => {
      const e = read(line);
      if (e) process.stdout.write(`${json ? jsonText(e) : formatAuditLine(e)}\n`);
    });
    if (ended === 'removed') this.note(`bottle ${log.slug} was removed; no more entries`);
    return undefined;
  }
}
