/**
 * The ref updates of a push, read exactly as git reads them, in the two places the gate sees them.
 *
 * receive-pack writes each update to the pre-receive hook as one line of text, `<old> <new> <ref>`,
 * and checks ref names only after the hook has run. A name with a line break would reach the hook
 * as two ordinary-looking updates, and one that is not UTF-8 as another name than the one git
 * applies. So the front reads the client's command list itself, the way receive-pack will, and
 * passes it on only when every command is `<old> <new> <ref>` with a name the hook will read back
 * unchanged (UTF-8, no control character); the hook in turn refuses any input line that does not
 * parse. Either refuses the whole push, before git or the upstream sees any of it.
 */
import type { RefUpdate } from './audit.js';
import { CONTROL_CHARACTER, refNameRefusal } from './policy.js';

/** git's largest pkt-line (LARGE_PACKET_MAX). */
const MAX_PKT = 65520;

/** Longest command list the front reads before it passes the push on (some 70,000 ref updates). */
export const MAX_COMMAND_LIST = 8 * 1024 * 1024;

/** An object id as git writes it: SHA-1 or SHA-256, lower-case hex. */
const OID = '(?:[0-9a-f]{40}|[0-9a-f]{64})';
const COMMAND = new RegExp(`^(${OID}) (${OID}) ([^]*)$`);
const SHALLOW = new RegExp(`^shallow ${OID}$`);

const NOTHING_SENT = 'the whole push was refused and nothing was sent to the upstream';

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/** Bytes as a quoted string for a message: printable ASCII as it is, every other byte as \xNN. */
function shown(bytes: Uint8Array): string {
  const text = Array.from(bytes.subarray(0, 200), (b) => (b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
  return `"${text}${bytes.length > 200 ? '…' : ''}"`;
}

/** Why one update is refused before anything runs: its name would not reach the hook as git applies it. */
function updateProblem(u: RefUpdate): string | null {
  if (u.old.length !== u.new.length) return `git-gate: the push's command for ${JSON.stringify(u.ref)} names object ids of two lengths; ${NOTHING_SENT}`;
  if (CONTROL_CHARACTER.test(u.ref)) {
    return refNameRefusal(u.ref, `it contains ${u.ref.includes('\n') ? 'a line break, which git would hand the push hook as two updates' : 'a control character'}`);
  }
  return null;
}

export type CommandListResult =
  | { kind: 'need-more' }
  | { kind: 'bad'; reason: string; updates: RefUpdate[]; sideband: boolean }
  | { kind: 'commands'; updates: RefUpdate[]; sideband: boolean };

/**
 * Reads a receive-pack command list as it arrives: pkt-lines up to a flush, each
 * `<old> <new> <ref>` (the first, or any, with `\0<capabilities>`), or `shallow <id>`. Keeps
 * every byte it was fed (`bytes()`), for the daemon once the list is whole and good.
 */
export class CommandListReader {
  private readonly chunks: Buffer[] = [];
  /** Unparsed bytes: at most one pkt-line. */
  private pending: Buffer = Buffer.alloc(0);
  private read = 0;
  private readonly updates: RefUpdate[] = [];
  private sideband = false;
  private result: CommandListResult = { kind: 'need-more' };

  feed(chunk: Buffer): CommandListResult {
    if (this.result.kind !== 'need-more') return this.result;
    this.chunks.push(chunk);
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    this.result = this.parse();
    return this.result;
  }

  /** Everything fed so far: the command list and whatever followed it (the pack). */
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  private bad(reason: string): CommandListResult {
    return { kind: 'bad', reason, updates: this.updates, sideband: this.sideband };
  }

  private parse(): CommandListResult {
    for (;;) {
      if (this.pending.length < 4) return { kind: 'need-more' };
      const hex = this.pending.subarray(0, 4).toString('latin1');
      if (!/^[0-9a-f]{4}$/.test(hex)) return this.bad(`git-gate: the push's command list is not in git's pkt-line format; ${NOTHING_SENT}`);
      const len = parseInt(hex, 16);
      if (len === 0) return { kind: 'commands', updates: this.updates, sideband: this.sideband };
      // 0001-0003 (delim, response-end) would end receive-pack's list early; 0004 is an empty command.
      if (len <= 4 || len > MAX_PKT) return this.bad(`git-gate: the push's command list has a packet of length ${len}, which no git client sends there; ${NOTHING_SENT}`);
      if (this.pending.length < len) return { kind: 'need-more' };
      this.read += len;
      if (this.read > MAX_COMMAND_LIST) return this.bad(`git-gate: the push names more ref updates than the gate reads in one push (${MAX_COMMAND_LIST / 1024 / 1024} MiB of commands); ${NOTHING_SENT}. Push fewer refs at a time`);
      const problem = this.command(this.pending.subarray(4, len));
      this.pending = this.pending.subarray(len);
      if (problem) return this.bad(problem);
    }
  }

  /** One pkt-line of the list, as receive-pack's read_head_info reads it; a problem, or null. */
  private command(payload: Buffer): string | null {
    // receive-pack drops one trailing LF of the packet; the line ends at the first NUL, and what
    // follows is the capability list (on the first command; read on any).
    const line = payload[payload.length - 1] === 0x0a ? payload.subarray(0, -1) : payload;
    const nul = line.indexOf(0);
    const text = nul < 0 ? line : line.subarray(0, nul);
    if (SHALLOW.test(line.toString('latin1'))) return null;
    if (nul >= 0 && line.subarray(nul + 1).toString('latin1').split(' ').includes('side-band-64k')) this.sideband = true;
    // receive-pack would take the commands from the certificate's lines; no git client sends one here (the gate advertises no push-cert).
    if (text.toString('latin1') === 'push-cert') return `git-gate: signed pushes (git push --signed) are not served: the gate pushes to the upstream itself, so a certificate would sign nothing it forwards; ${NOTHING_SENT}. Push without --signed`;
    const decoded = decodeUtf8(text);
    const m = decoded === null ? null : COMMAND.exec(decoded);
    if (decoded === null) {
      // Audited as latin1, byte for byte; the hook would have read U+FFFD where git keeps the bytes.
      const parts = /^([0-9a-f]+) ([0-9a-f]+) ([^]*)$/.exec(text.toString('latin1'));
      if (parts) this.updates.push({ ref: parts[3]!, old: parts[1]!, new: parts[2]! });
      return `git-gate: the push's command ${shown(text)} names a ref that is not UTF-8, which the push hook would read as another name than the one git applies; ${NOTHING_SENT}. Push to an ordinary branch name instead, e.g. git push origin HEAD:agent-work`;
    }
    if (!m) return `git-gate: the push's command ${shown(text)} is not "<old id> <new id> <ref>" as git sends it; ${NOTHING_SENT}`;
    const u: RefUpdate = { ref: m[3]!, old: m[1]!, new: m[2]! };
    this.updates.push(u);
    return updateProblem(u);
  }
}

/**
 * The pre-receive hook's stdin: `<old> <new> <ref>\n` per update, as receive-pack writes it. Any
 * line that is not exactly that (an empty line, a name that is not UTF-8, a missing id), or no
 * update at all, is a problem: the hook then refuses the whole push rather than guess.
 */
export function parseHookInput(input: Buffer): { updates: RefUpdate[]; problem: string | null } {
  const text = decodeUtf8(input);
  const lines = (text ?? input.toString('latin1')).split('\n');
  const last = lines.pop();
  const updates: RefUpdate[] = [];
  let problem: string | null = null;
  if (text === null) problem = `git-gate: the push hook was given ref names that are not UTF-8; ${NOTHING_SENT}`;
  else if (last !== '') problem = `git-gate: the push hook's input does not end in a line break, as git writes it; ${NOTHING_SENT}`;
  for (const l of lines) {
    const m = COMMAND.exec(l);
    updates.push(m ? { ref: m[3]!, old: m[1]!, new: m[2]! } : { ref: l, old: '', new: '' });
    if (!m || m[1]!.length !== m[2]!.length) {
      problem ??= `git-gate: the push hook was given the line ${JSON.stringify(l)}, which is not "<old id> <new id> <ref>": git writes one line per update, so this is part of a ref name with a line break in it, or not git's; ${NOTHING_SENT}`;
    }
  }
  if (!updates.length) problem ??= `git-gate: the push hook was given no ref update; ${NOTHING_SENT}`;
  return { updates, problem };
}
