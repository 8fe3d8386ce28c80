/**
 * The bottle's audit log: append-only JSON Lines, one entry per decision, written by the bundle's
 * services into one file (each line is one write on a file opened for appending, so lines never
 * interleave). `source` tells the writers apart; `bottle logs` reads and renders both.
 */

/** One request (or refused tunnel) through the egress gateway and its decision. */
export interface EgressAuditEntry {
  /** ISO 8601 time the request arrived. */
  time: string;
  source: 'egress';
  method: string;
  host: string;
  path: string;
  /** Status sent to the bottle (0 when the connection was closed without a response). */
  status: number;
  /** Response body bytes sent to the bottle. */
  bytes: number;
  /** Request body bytes passed to the upstream. */
  bytesUp: number;
  decision: 'allow' | 'deny';
  /** The route that allowed it (`routes[0] api.example.com`), or null. */
  rule: string | null;
  /** Why it was refused, or what went wrong after it was allowed; null when all went well. */
  reason: string | null;
  /** Where the gateway connected (an allowed request with a `to` route shows the override). */
  upstream?: string;
  durationMs: number;
}

/** git's service name: upload-pack (fetch, clone), receive-pack (push), or what was asked for. */
export type GitService = 'upload-pack' | 'receive-pack' | 'upload-archive' | (string & {});

export interface RefUpdate {
  ref: string;
  /** Object id before the push (all zeros when the ref is created). */
  old: string;
  /** Object id after the push (all zeros when the ref is deleted). */
  new: string;
}

/** One request to git-gate (a fetch, a push and the refs it updates) and its decision. */
export interface GitAuditEntry {
  /** ISO 8601 time of the decision. */
  time: string;
  source: 'git-gate';
  service: GitService;
  /** The declared name, or the path asked for when it names no declared repo. */
  repo: string;
  /** The refs a push updates; empty for a fetch. */
  refs: RefUpdate[];
  decision: 'allow' | 'deny';
  /** Why it was refused, or null. */
  reason: string | null;
  upstream?: string;
  /** Where the request came from, when the gate knows it. */
  client?: string;
}

/**
 * One event of the supervise queue: the agent asked for a change (`request`, pending, or refused
 * by the server), or a person decided on a request (`decision`, on the host). Text in `host`,
 * `reason` and the rest was chosen by the agent (or the person), not checked by anyone upstream.
 */
export interface SuperviseAuditEntry {
  /** ISO 8601 time of the event. */
  time: string;
  source: 'supervise';
  event: 'request' | 'decision';
  /** The request's id; null for a request the server refused without queueing it. */
  id: string | null;
  /** The host asked for (as sent, cut to 300 characters, when it was refused). */
  host: string;
  methods?: string[];
  paths?: string[];
  /** A credential the route would inject: the header and the host env var's name, never a value. */
  auth?: { header: string; env: string };
  /** pending: queued; allow: approved; deny: denied by a person, or refused by the server. */
  decision: 'pending' | 'allow' | 'deny';
  /** The agent's reason on a request, the person's on a decision, the server's on a refusal. */
  reason: string | null;
  /** Who decided (the host user name), on a decision. */
  decidedBy?: string;
  /** On an approval: the route was also written to the manifest. */
  persisted?: boolean;
}

export type AuditEntry = EgressAuditEntry | GitAuditEntry | SuperviseAuditEntry;
export type AuditSource = AuditEntry['source'];

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isDecision = (x: unknown): x is 'allow' | 'deny' => x === 'allow' || x === 'deny';

/**
 * Reads one line of the log, or null when it is not an audit entry. Keys stay in the order they
 * were written and keys this version does not know are kept; a missing optional value gets a
 * neutral one. A line with no `source` is the egress gateway's (its lines had none before).
 */
export function parseAuditEntry(text: string): AuditEntry | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isRecord(v) || typeof v.time !== 'string') return null;
  if (v.source === 'supervise') {
    if ((v.event !== 'request' && v.event !== 'decision') || !(isDecision(v.decision) || v.decision === 'pending')) return null;
    const strings = (x: unknown) => (Array.isArray(x) ? x.filter((s): s is string => typeof s === 'string') : undefined);
    const methods = strings(v.methods);
    const paths = strings(v.paths);
    const auth = isRecord(v.auth) && typeof v.auth.header === 'string' && typeof v.auth.env === 'string' ? { header: v.auth.header, env: v.auth.env } : undefined;
    if (!auth) delete v.auth;
    return Object.assign(v, {
      id: typeof v.id === 'string' ? v.id : null,
      host: typeof v.host === 'string' ? v.host : '',
      reason: typeof v.reason === 'string' ? v.reason : null,
      ...(methods ? { methods } : {}),
      ...(paths ? { paths } : {}),
      ...(auth ? { auth } : {}),
    }) as unknown as SuperviseAuditEntry;
  }
  if (!isDecision(v.decision)) return null;
  const source = v.source ?? (typeof v.method === 'string' ? 'egress' : undefined);
  const reason = typeof v.reason === 'string' ? v.reason : null;
  if (source === 'egress' && typeof v.method === 'string') {
    return Object.assign(v, {
      source,
      host: typeof v.host === 'string' ? v.host : '',
      path: typeof v.path === 'string' ? v.path : '',
      status: typeof v.status === 'number' ? v.status : 0,
      rule: typeof v.rule === 'string' ? v.rule : null,
      reason,
    }) as unknown as EgressAuditEntry;
  }
  if (source === 'git-gate' && typeof v.service === 'string') {
    const refs = Array.isArray(v.refs) ? v.refs.filter((r): r is RefUpdate => isRecord(r) && typeof r.ref === 'string') : [];
    return Object.assign(v, { repo: typeof v.repo === 'string' ? v.repo : '', refs, reason }) as unknown as GitAuditEntry;
  }
  return null;
}
