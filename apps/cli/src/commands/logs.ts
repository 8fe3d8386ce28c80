import { open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Args, Flags } from '@oclif/core';
import { AUDIT_LOG_NAME, BottleError, EXIT_USAGE, SLUG_PATTERN, bottleStateDir, parseAuditEntry, type AuditEntry, type EgressAuditEntry, type GitAuditEntry, type SuperviseAuditEntry } from '@bot-bottle/core';
import { BaseCommand } from '../base-command.js';
// Text the bottle chose (a path asked of git-gate, a ref name, a host) reaches the terminal here.
import { jsonText, visible } from '../display/visible.js';

/** The git operation a git-gate line shows where an egress line shows its method. */
const GIT_OPERATIONS: Readonly<Record<string, string>> = { 'upload-pack': 'FETCH', 'receive-pack': 'PUSH', 'upload-archive': 'ARCHIVE' };

type Columns = [what: string, where: string, status: string, why: string];

function egressColumns(e: EgressAuditEntry): Columns {
  // A refused tunnel's path is already `host:port`; others are a path on the host.
  const where = e.method === 'CONNECT' || !e.path.startsWith('/') ? e.path || e.host : `${e.host}${e.path}`;
  const why = [e.rule, e.reason].filter((x): x is string => typeof x === 'string' && x !== '').join(': ');
  return [e.method, where, e.status ? String(e.status) : '-', why];
}

function gitColumns(e: GitAuditEntry): Columns {
  const operation = GIT_OPERATIONS[e.service];
  // The repo as declared (or the path asked for), what was asked when it is no git operation, then the refs a push updates.
  const where = [`git:${e.repo || '-'}`, ...(operation ? [] : [`(${e.service})`]), ...e.refs.map((r) => r.ref)].join(' ');
  return [operation ?? 'GIT', where, '-', e.reason ?? ''];
}

/**
 * A supervise line: ASK (the agent's request, pending or refused by the server) or DECIDE (a
 * person's decision), `supervise:<id>` with the host, methods and paths asked for and any
 * credential by env name, then the reason (and who decided).
 */
function superviseColumns(e: SuperviseAuditEntry): Columns {
  const where = [`supervise:${e.id ?? '-'}`, e.host || '-', ...(e.methods ?? []), ...(e.paths ?? []), ...(e.auth ? [`+${e.auth.header} from $${e.auth.env}`] : [])].join(' ');
  const why = [e.decidedBy ? `by ${e.decidedBy}${e.persisted ? ' (added to the manifest)' : ''}` : null, e.reason].filter((x): x is string => typeof x === 'string' && x !== '').join(': ');
  return [e.event === 'request' ? 'ASK' : 'DECIDE', where, '-', why];
}

/**
 * One line per entry: `time  DECISION  WHAT  where  status  why`. An egress line shows the method,
 * host and path, HTTP status, and the route that allowed it or why it was refused; a git-gate line
 * shows FETCH or PUSH, `git:<repo>` and the refs a push updates, `-`, and why it was refused.
 */
export function formatAuditLine(e: AuditEntry): string {
  const columns = e.source === 'git-gate' ? gitColumns(e) : e.source === 'supervise' ? superviseColumns(e) : egressColumns(e);
  const [what, where, status, why] = columns.map(visible) as Columns;
  return [visible(e.time), e.decision.toUpperCase().padEnd(5), what.padEnd(7), where, status.padStart(3), why || '-'].join('  ');
}

/** Where the bottle's audit log is: its plan says, else the default place in its state dir. */
async function auditLogPath(stateDir: string): Promise<string> {
  const fallback = path.join(stateDir, 'log', AUDIT_LOG_NAME);
  const text = await readFile(path.join(stateDir, 'plan.json'), 'utf8').catch(() => null);
  if (!text) return fallback;
  try {
    const p = (JSON.parse(text) as { egress?: { auditLogPath?: unknown } }).egress?.auditLogPath;
    return typeof p === 'string' && path.isAbsolute(p) ? p : fallback;
  } catch {
    return fallback;
  }
}

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
    const slug = args.slug;
    if (!SLUG_PATTERN.test(slug)) {
      throw new BottleError('USAGE', `"${slug}" is not a bottle slug (like demo-abc12)`, { suggestions: ['List bottles and their slugs with `bottle ls`.'], exit: EXIT_USAGE });
    }
    const stateDir = bottleStateDir(slug);
    if (!(await stat(stateDir).catch(() => null))?.isDirectory()) {
      throw new BottleError('BOTTLE_NOT_FOUND', `no bottle named ${slug}`, {
        details: [`${stateDir} does not exist (a stopped bottle's log goes with it)`],
        suggestions: ['List bottles with `bottle ls`.'],
        exit: EXIT_USAGE,
      });
    }
    const file = await auditLogPath(stateDir);
    const json = this.jsonEnabled();
    const entries: AuditEntry[] = [];
    let lineNo = 0;
    const emit = (text: string) => {
      lineNo++;
      if (!text.trim()) return;
      const e = parseAuditEntry(text);
      if (!e) {
        this.note(`bottle: ${file}:${lineNo}: not an audit entry, skipped`);
        return;
      }
      if (!flags.follow) entries.push(e);
      else if (json) process.stdout.write(`${jsonText(e)}\n`);
      else process.stdout.write(`${formatAuditLine(e)}\n`);
    };

    if (!flags.follow) {
      const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return '';
        throw new BottleError('BACKEND_FAILED', `cannot read ${file}: ${e.message}`, { suggestions: ['Run as the user that started the bottle.'] });
      });
      // A line still being written has no newline yet; it is shown next time.
      const complete = text.slice(0, text.lastIndexOf('\n') + 1);
      for (const line of complete.split('\n')) emit(line);
      if (entries.length === 0) this.note(`no requests logged yet for ${slug}`);
      if (!json) for (const e of entries) this.out(formatAuditLine(e));
      return entries;
    }

    await this.follow(file, stateDir, slug, emit);
    return undefined;
  }

  /** Prints what is in the file, then polls for more until the state dir goes away or a signal. */
  private async follow(file: string, stateDir: string, slug: string, emit: (line: string) => void): Promise<void> {
    let offset = 0;
    let pending = '';
    let stopped = false;
    const stop = () => {
      stopped = true;
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      while (!stopped) {
        const st = await stat(file).catch(() => null);
        if (st && st.size < offset) {
          offset = 0; // the file was replaced or truncated: read it again from the start
          pending = '';
        }
        if (st && st.size > offset) {
          const fh = await open(file, 'r');
          try {
            const buf = Buffer.alloc(st.size - offset);
            const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
            offset += bytesRead;
            pending += buf.subarray(0, bytesRead).toString('utf8');
          } finally {
            await fh.close();
          }
          const cut = pending.lastIndexOf('\n');
          if (cut >= 0) {
            for (const line of pending.slice(0, cut).split('\n')) emit(line);
            pending = pending.slice(cut + 1);
          }
          continue;
        }
        if (!(await stat(stateDir).catch(() => null))) {
          this.note(`bottle ${slug} was removed; no more entries`);
          return;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
    }
  }
}
