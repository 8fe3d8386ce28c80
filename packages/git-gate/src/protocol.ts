/**
 * The git:// request line and the decision on it, before any git runs.
 *
 * A git:// client opens with one pkt-line: `git-<service> <path>\0host=<host>\0[\0<extra>\0...]`.
 * The gate answers a refusal with an `ERR <message>` pkt-line, which the client prints as
 * `fatal: remote error: <message>`.
 */

/** Longest first pkt-line the gate reads; a real request line is a few dozen bytes. */
export const MAX_REQUEST_LINE = 4096;

export interface GitRequest {
  service: string;
  path: string;
  /** `host=` as the client sent it (informational only; the gate serves one set of repos). */
  host: string | null;
  /** The raw bytes of the pkt-line, passed on to git daemon unchanged. */
  raw: Buffer;
}

export type ReadResult = { kind: 'need-more' } | { kind: 'bad'; reason: string } | { kind: 'request'; request: GitRequest; rest: Buffer };

/** Reads the first pkt-line from what has arrived so far. */
export function readRequest(buf: Buffer): ReadResult {
  if (buf.length < 4) return { kind: 'need-more' };
  const hex = buf.subarray(0, 4).toString('latin1');
  if (!/^[0-9a-f]{4}$/.test(hex)) return { kind: 'bad', reason: 'not a git:// request (use a git client: git clone git://<gate>/<Name>.git)' };
  const len = parseInt(hex, 16);
  if (len <= 4) return { kind: 'bad', reason: 'empty git:// request' };
  if (len > MAX_REQUEST_LINE) return { kind: 'bad', reason: 'git:// request line too long' };
  if (buf.length < len) return { kind: 'need-more' };
  const payload = buf.subarray(4, len);
  const parts = payload.toString('latin1').split('\0');
  const first = parts[0]!.replace(/\n$/, '');
  const m = /^git-([a-z-]+) (.*)$/s.exec(first);
  if (!m) return { kind: 'bad', reason: 'not a git:// request (use a git client: git clone git://<gate>/<Name>.git)' };
  const hostPart = parts.slice(1).find((p) => p.startsWith('host='));
  return { kind: 'request', request: { service: m[1]!, path: m[2]!, host: hostPart ? hostPart.slice(5) : null, raw: Buffer.from(buf.subarray(0, len)) }, rest: Buffer.from(buf.subarray(len)) };
}

function packet(body: Buffer): Buffer {
  return Buffer.concat([Buffer.from((body.length + 4).toString(16).padStart(4, '0'), 'latin1'), body]);
}

function oneLine(message: string): string {
  return message.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}

/** An `ERR` pkt-line. Control characters are dropped so a message cannot forge protocol lines. */
export function errPacket(message: string): Buffer {
  return packet(Buffer.from(`ERR ${oneLine(message)}`, 'utf8').subarray(0, 65000));
}

/**
 * A refusal for a client that asked for side-band-64k once the ref advertisement is behind it:
 * band 3 (a fatal error, which git prints as `remote: <message>` and then stops), where a plain ERR
 * line would read as a packet of band "E".
 */
export function sidebandErrorPacket(message: string): Buffer {
  return packet(Buffer.concat([Buffer.from([3]), Buffer.from(`${oneLine(message)}\n`, 'utf8').subarray(0, 65000)]));
}

export type PathDecision = { ok: true; name: string } | { ok: false; reason: string };

const SERVICE_WORDS: Record<string, string> = {
  'upload-pack': 'fetch',
  'receive-pack': 'push',
  'upload-archive': 'archive',
};

/** What a refusal of a service says; only fetch (upload-pack) and push (receive-pack) exist here. */
export function serviceProblem(service: string): string | null {
  if (service === 'upload-pack' || service === 'receive-pack') return null;
  if (service === 'upload-archive') return 'git-gate: git archive --remote (upload-archive) is not served; clone or fetch the repository and run git archive locally';
  return `git-gate: service "git-${service}" is not served; only fetch/clone (upload-pack) and push (receive-pack) are`;
}

export function serviceWord(service: string): string {
  return SERVICE_WORDS[service] ?? service;
}

/**
 * Maps a request path to a declared name. Exactly `/<Name>.git` is served; everything else is
 * refused before git sees it: `..`, `//`, `~user`, a missing or doubled `.git`, another case,
 * a trailing slash, anything not declared.
 */
export function resolveRepoPath(reqPath: string, declared: readonly string[]): PathDecision {
  const list = declared.length ? declared.map((n) => `${n}.git`).join(', ') : 'none';
  const shown = JSON.stringify(reqPath);
  if (reqPath.includes('\\') || /[\u0000-\u001f\u007f]/.test(reqPath)) return { ok: false, reason: `git-gate: refused path ${shown}: only git://<gate>/<Name>.git of a declared repo is served (declared: ${list})` };
  const tricks = !reqPath.startsWith('/') || reqPath.startsWith('//') || reqPath.startsWith('/~') || reqPath.split('/').some((seg) => seg === '..' || seg === '.') || reqPath.slice(1).includes('/');
  if (tricks) return { ok: false, reason: `git-gate: refused path ${shown}: only git://<gate>/<Name>.git of a declared repo is served, no other path (declared: ${list})` };
  const base = reqPath.slice(1);
  const m = /^(.+)\.git$/.exec(base);
  const name = m?.[1];
  if (name !== undefined && declared.includes(name)) return { ok: true, name };
  const near = declared.find((n) => base === n || base.toLowerCase() === `${n}.git`.toLowerCase() || base.replace(/(\.git)+$/i, '') === n);
  const hint = near ? `; did you mean ${near}.git?` : `; add a git entry for it to the bottle in bottle.json`;
  return { ok: false, reason: `git-gate: repository ${shown} is not declared for this bottle (declared: ${list})${hint}` };
}
