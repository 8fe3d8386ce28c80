/**
 * An audit entry as one line for a person: `time  DECISION  WHAT  where  status  why`. Every field
 * the bottle could choose (a path asked of git-gate, a ref name, a host, a reason quoting a request)
 * goes through `visible` (display/visible.ts), so a line cannot drive the terminal or forge another.
 */
import type { AuditEntry, EgressAuditEntry, GitAuditEntry, SuperviseAuditEntry } from '@bot-bottle/core';
import { visible } from '../display/visible.js';

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
