/**
 * Data-loss prevention: finds secrets in what the bottle sends out. Bodies are scanned as they
 * stream, never buffered whole: each chunk is scanned together with the tail of the previous one,
 * and that tail is held back until the next scan, so no byte of a secret reaches the upstream even
 * when it is split across chunks.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { findInDecoded, MAX_ENCODED_TOKEN_SPAN, type Encoding } from './dlp-decode.js';

export interface DlpFinding {
  /** What was found, e.g. "GitHub token" or "the value of ANTHROPIC_API_KEY". */
  kind: string;
  /** Where: "url", "header x-foo", "body". */
  where: string;
}

interface Pattern {
  kind: string;
  /** Sticky (`y`), and a match starts where `lead` matches: it is tried only there. */
  re: RegExp;
  /** The start of every match (regex source): literal, but for a class or two. */
  lead: string;
  /** The characters a match can start with (a lead found is tried only on the patterns it can start). */
  first: string;
  /**
   * `re` without its look-behind and look-ahead, for decoded bytes: a letter glued to a token before
   * it is base64d would otherwise hide it, and these prefixes are distinctive enough without them.
   * (OpenAI's bare `sk-` keeps its look-behind there too: kebab-case words end in "sk-".)
   */
  decoded?: RegExp;
  /** JWTs are normal on the routes that allow a host; elsewhere they are refused. */
  onlyWithoutRoute?: boolean;
}

// Each pattern matches a prefix of bounded length (at most MAX_PATTERN_SPAN characters of decoded
// text), so the streaming window below always holds a whole match. All of them are also searched
// for in what base64 and hex decode to (dlp-decode.ts): each is long enough that random bytes match
// it far too rarely to matter (the README has the figures); a short prefix alone ("ghp_", "AKIA")
// would not be.
const ARMOUR: Pattern = {
  kind: 'private key block',
  // Any armour: other dash counts, lower case, extra words or spaces (the dashes are looked for
  // behind "BEGIN", so that a match starts at its lead).
  re: /(?<=--\s*)BEGIN[ A-Z0-9_-]{0,40}PRIVATE\s*KEY/iy,
  lead: '[Bb][Ee][Gg][Ii][Nn]',
  first: 'Bb',
};
const UNARMOURED: Pattern = {
  kind: 'private key (unarmoured)',
  // Key bodies without their armour: the DER prefixes of PKCS#1 RSA, PKCS#8 RSA, SEC1 and PKCS#8
  // EC P-256, PKCS#8 Ed25519, and OpenSSH's own format, in base64.
  re: /MII[A-Za-z0-9+/]{3}IBAAKCA|MII[A-Za-z0-9+/]{3}IBADANBgkqhkiG9w0BAQEFAAS|MHcCAQEEI|MIG[A-Za-z0-9+/]AgEAMBMGByqGSM49AgEG|MC4CAQAwBQYDK2VwBCIEI|b3BlbnNzaC1rZXktdjE|PuTTY-User-Key-File/y,
  lead: 'MI[IG]|MHcCAQEEI|MC4CAQAwBQYDK2VwBCIEI|b3BlbnNzaC1rZXktdjE|PuTTY-User-Key-File',
  first: 'MbP',
};
const TOKENS: readonly Pattern[] = [
  { kind: 'Anthropic API key', re: /(?<![A-Za-z0-9_-])sk-ant-[A-Za-z0-9_-]{20}/y, decoded: /sk-ant-[A-Za-z0-9_-]{20}/y, lead: 'sk-', first: 's' },
  { kind: 'OpenAI API key', re: /(?<![A-Za-z0-9_-])sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32}/y, lead: 'sk-', first: 's' },
  {
    kind: 'GitHub token',
    re: /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22})/y,
    decoded: /gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22}/y,
    lead: 'gh[pousr]_|github_pat_',
    first: 'g',
  },
  { kind: 'GitLab token', re: /(?<![A-Za-z0-9_-])glpat-[A-Za-z0-9_-]{20}/y, decoded: /glpat-[A-Za-z0-9_-]{20}/y, lead: 'glpat-', first: 'g' },
  { kind: 'Slack token', re: /(?<![A-Za-z0-9_-])xox[abposre]-[A-Za-z0-9-]{10}/y, decoded: /xox[abposre]-[A-Za-z0-9-]{10}/y, lead: 'xox[abposre]-', first: 'x' },
  { kind: 'AWS access key id', re: /(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])/y, decoded: /(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}/y, lead: 'A(?:KIA|SIA|BIA|CCA)', first: 'A' },
  { kind: 'JWT', re: /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,64}\.eyJ[A-Za-z0-9_-]{8}/y, lead: 'eyJ', first: 'e', onlyWithoutRoute: true },
];
interface PatternGroup {
  /** The leads of the group's patterns, as one regex (`g`). */
  leads: RegExp;
  patterns: readonly Pattern[];
}
/**
 * The patterns in groups, each with one search for its leads (JWTs are not looked for where a route
 * allows the host). The grouping is measured, not principled: in text (base64 text above all) V8
 * searched one regex of all the leads several times more slowly than these three (and one of all
 * the patterns, or ten pattern searches, slower still); in decoded bytes, which are mostly binary,
 * one regex of all of them is the fastest.
 */
function patternGroups(sets: readonly (readonly Pattern[])[], routed: boolean): readonly PatternGroup[] {
  return sets
    .map((set) => set.filter((p) => !(routed && p.onlyWithoutRoute)))
    .map((patterns) => ({ leads: new RegExp([...new Set(patterns.map((p) => p.lead))].join('|'), 'g'), patterns }));
}
const GROUPED = [[ARMOUR], [UNARMOURED], TOKENS];
const ONE_GROUP = [[ARMOUR, UNARMOURED, ...TOKENS]];
const GROUPS = {
  grouped: { routed: patternGroups(GROUPED, true), unrouted: patternGroups(GROUPED, false) },
  oneGroup: { routed: patternGroups(ONE_GROUP, true), unrouted: patternGroups(ONE_GROUP, false) },
};
/** Texts shorter than this (header values, URLs) are searched with one regex: there, each call costs more than its search. */
const SHORT_TEXT = 1024;

/**
 * The first pattern that matches in `text` (`decoded`: bytes that base64 or hex decoded to): the
 * patterns are tried (each anchored, with the whole text around it for its look-behind) only where
 * a lead is, which ordinary text and random data rarely hold.
 */
function findPattern(text: string, ctx: ScanContext, decoded = false): Pattern | null {
  const groups = decoded || text.length < SHORT_TEXT ? GROUPS.oneGroup : GROUPS.grouped;
  for (const { leads, patterns } of ctx.routed ? groups.routed : groups.unrouted) {
    leads.lastIndex = 0;
    for (let m = leads.exec(text); m; m = leads.exec(text)) {
      const c = text[m.index]!;
      for (const p of patterns) {
        if (!p.first.includes(c)) continue;
        const re = (decoded && p.decoded) || p.re;
        re.lastIndex = m.index;
        if (re.test(text)) return p;
      }
      leads.lastIndex = m.index + 1; // the next lead may start inside this one
    }
  }
  return null;
}
const MAX_PATTERN_SPAN = 160;
/**
 * The longest encoding of a pattern's span the decoded view reads back (`\u0041` is six
 * characters for one), so a streaming window this long holds a whole encoded match.
 */
const MAX_ENCODED_SPAN = MAX_PATTERN_SPAN * 6;
/** Secrets shorter than this are not searched for: they would match ordinary text. */
export const MIN_SECRET_LENGTH = 8;

/**
 * The base64 text that `bytes` turn into wherever they sit in a longer message: for each of the
 * three alignments, the characters that depend on `bytes` alone (standard and URL-safe alphabets).
 */
export function base64Forms(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let k = 0; k < 3; k++) {
    const b64 = Buffer.concat([Buffer.alloc(k), bytes]).toString('base64');
    const from = Math.ceil((8 * k) / 6);
    const to = Math.floor((8 * (k + bytes.length)) / 6);
    const mid = b64.slice(from, to);
    if (mid.length >= 4) out.push(mid, mid.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return out;
}

/**
 * The forms a known value takes in the encodings a client or server commonly applies: raw, URL
 * (component, every byte, twice), JSON (escaped, every character as \uXXXX), hex (both cases)
 * and base64 at every alignment (both alphabets). Deduplicated; each is plain ASCII or the
 * value's own bytes, compared as latin1.
 */
export function encodedForms(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const pct = (upper: boolean) => [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).map((x) => (upper ? x.toUpperCase() : x)).join('');
  const uEsc = (upper: boolean) => [...value].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).map((x) => (upper ? x.replace(/[a-f]/g, (h) => h.toUpperCase()) : x)).join('');
  const hex = bytes.toString('hex');
  const forms = [
    bytes.toString('latin1'),
    encodeURIComponent(value),
    encodeURIComponent(encodeURIComponent(value)),
    pct(true),
    pct(false),
    pct(true).replace(/%/g, '%25'),
    JSON.stringify(value).slice(1, -1),
    uEsc(false),
    uEsc(true),
    hex,
    hex.toUpperCase(),
    ...base64Forms(bytes),
  ];
  return [...new Set(forms)];
}

const ESCAPE = /%[0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}|\\x[0-9a-fA-F]{2}/;

/** Undoes %XX, \uXXXX and \xXX escapes (twice, for double encoding): the view patterns are also run on. */
function decodedView(text: string): string | null {
  if (!ESCAPE.test(text)) return null;
  let t = text;
  for (let i = 0; i < 2; i++) {
    t = t
      .replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
      .replace(/\\u([0-9a-fA-F]{4})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
      .replace(/\\x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
  return t;
}

export interface ScanContext {
  /** Whether a route allows the request's host (JWTs are allowed there). */
  routed: boolean;
}

interface Needle {
  kind: string;
  text: string;
}

/** "GitHub token" read from base64 is "GitHub token (base64)"; "private key (unarmoured)" becomes "private key (unarmoured, base64)". */
function encodedKind(kind: string, encoding: Encoding): string {
  return kind.endsWith(')') ? `${kind.slice(0, -1)}, ${encoding})` : `${kind} (${encoding})`;
}

/** The secrets to look for and the patterns; one per gateway, rebuilt when secrets change. */
export class DlpScanner {
  /** Every encoded form of every injected value. */
  readonly secretNeedles: readonly Needle[];
  /** Every injected value as it is (its UTF-8 bytes as latin1), for what base64 and hex decode to. */
  private readonly secretValues: readonly Needle[];
  /** Bytes a streaming scan holds back: at least the longest thing it can match. */
  readonly window: number;
  /**
   * For short texts (header values, URLs), where the cost is in the number of calls: whether a text
   * holds a needle, a lead of a pattern or an escape, in one regex. A text without any of them can
   * hold only an encoded token.
   */
  private readonly anything: RegExp;

  constructor(secrets: Record<string, string>) {
    const secretNeedles: Needle[] = [];
    const secretValues: Needle[] = [];
    for (const [name, value] of Object.entries(secrets)) {
      if (value.length < MIN_SECRET_LENGTH) continue;
      const kind = `the value of ${name}`;
      for (const text of encodedForms(value)) secretNeedles.push({ kind, text });
      secretValues.push({ kind, text: Buffer.from(value, 'utf8').toString('latin1') });
    }
    this.secretNeedles = secretNeedles;
    this.secretValues = secretValues;
    this.window = Math.max(MAX_ENCODED_SPAN, MAX_ENCODED_TOKEN_SPAN, ...secretNeedles.map((n) => n.text.length)) + 1;
    const literal = (t: string) => t.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
    const leads = [...new Set([ARMOUR, UNARMOURED, ...TOKENS].map((p) => p.lead))];
    this.anything = new RegExp([...secretNeedles.map((n) => literal(n.text)), ...leads, ESCAPE.source].join('|'));
  }

  /**
   * The first secret in `text` (latin1 or plain text), or null: known values (in all their encoded
   * forms), then patterns, then both again in the escape-decoded view; then token patterns in what
   * base64 and hex in the text (or in that view) decode to.
   */
  scanText(text: string, where: string, ctx: ScanContext): DlpFinding | null {
    // One search per needle (String#includes, natively fast), one for the patterns' leads: a
    // single regex of needles, patterns and escapes as alternatives ran several times slower
    // (bench/egress/README.md), except on short texts, where it saves some twenty calls.
    if (text.length < SHORT_TEXT && !this.anything.test(text)) return this.scanEncoded(text, where, ctx);
    for (const n of this.secretNeedles) if (text.includes(n.text)) return { kind: n.kind, where };
    const hit = this.scanPatterns(text, where, ctx);
    if (hit) return hit;
    const decoded = decodedView(text);
    if (decoded !== null) {
      for (const n of this.secretNeedles) if (decoded.includes(n.text)) return { kind: n.kind, where };
      const inView = this.scanPatterns(decoded, where, ctx) ?? this.scanEncoded(decoded, where, ctx);
      if (inView) return inView;
    }
    return this.scanEncoded(text, where, ctx);
  }

  /** Injected values and token patterns in what the base64 and hex of `text` decode to; the finding names the encoding. */
  private scanEncoded(text: string, where: string, ctx: ScanContext): DlpFinding | null {
    // Injected values too: their base64 and hex forms are needles already, but not wrapped in
    // lines or in mixed-case hex.
    const hit = findInDecoded(text, (decoded) => this.secretValues.find((v) => decoded.includes(v.text)) ?? findPattern(decoded, ctx, true));
    return hit && { kind: encodedKind(hit.found.kind, hit.encoding), where };
  }

  private scanPatterns(text: string, where: string, ctx: ScanContext): DlpFinding | null {
    const p = findPattern(text, ctx);
    return p && { kind: p.kind, where };
  }

  /** Scans the request target, raw and percent-decoded (repeatedly: double encoding). */
  scanUrl(url: string, ctx: ScanContext): DlpFinding | null {
    let text = url;
    for (let i = 0; i < 3; i++) {
      const hit = this.scanText(text, 'url', ctx);
      if (hit) return hit;
      let next: string;
      try {
        next = decodeURIComponent(text.replace(/\+/g, ' '));
      } catch {
        return null;
      }
      if (next === text) return null;
      text = next;
    }
    return null;
  }

  /** Scans header names and values given as Node's flat raw list; `exempt` names (lower case) have their values skipped. */
  scanHeaders(rawHeaders: readonly string[], exempt: ReadonlySet<string>, ctx: ScanContext): DlpFinding | null {
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!;
      const lower = name.toLowerCase();
      const inName = this.scanText(name, 'header names', ctx);
      if (inName) return inName;
      if (exempt.has(lower)) continue;
      const hit = this.scanText(rawHeaders[i + 1]!, `header ${lower}`, ctx);
      if (hit) return hit;
    }
    return null;
  }

  /** A stream that passes the body on, holding back the last `window` bytes until it can tell. */
  bodyStream(ctx: ScanContext): BodyScanStream {
    return new BodyScanStream(this, ctx);
  }
}

export class DlpError extends Error {
  constructor(readonly finding: DlpFinding) {
    super(`${finding.kind} in the ${finding.where}`);
  }
}

export class BodyScanStream extends Transform {
  private tail: Buffer = Buffer.alloc(0);
  /** Bytes passed on so far. */
  bytes = 0;

  constructor(
    private readonly scanner: DlpScanner,
    private readonly ctx: ScanContext,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const buf = this.tail.length ? Buffer.concat([this.tail, chunk]) : chunk;
    const hit = this.scanner.scanText(buf.toString('latin1'), 'body', this.ctx);
    if (hit) return done(new DlpError(hit));
    const keep = Math.min(this.scanner.window, buf.length);
    const out = buf.subarray(0, buf.length - keep);
    // Copy the tail: it must not pin the (possibly large) chunk it was cut from.
    this.tail = Buffer.from(buf.subarray(buf.length - keep));
    if (out.length) {
      this.bytes += out.length;
      this.push(out);
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.tail.length) {
      this.bytes += this.tail.length;
      this.push(this.tail);
    }
    done();
  }
}
