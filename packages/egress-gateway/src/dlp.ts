/**
 * Data-loss prevention: finds secrets in what the bottle sends out. Bodies are scanned as they
 * stream, never buffered whole: each chunk is scanned together with the tail of the previous one,
 * and that tail is held back until the next scan, so no byte of a secret reaches the upstream even
 * when it is split across chunks.
 */
import { Transform, type TransformCallback } from 'node:stream';

export interface DlpFinding {
  /** What was found, e.g. "GitHub token" or "the value of ANTHROPIC_API_KEY". */
  kind: string;
  /** Where: "url", "header x-foo", "body". */
  where: string;
}

interface Pattern {
  kind: string;
  re: RegExp;
  /** JWTs are normal on the routes that allow a host; elsewhere they are refused. */
  onlyWithoutRoute?: boolean;
}

// Each pattern matches a prefix of bounded length (at most MAX_PATTERN_SPAN characters of decoded
// text), so the streaming window below always holds a whole match.
const PATTERNS: readonly Pattern[] = [
  // Any armour: other dash counts, lower case, extra words or spaces.
  { kind: 'private key block', re: /-{2,}\s*BEGIN[ A-Z0-9_-]{0,40}PRIVATE\s*KEY/i },
  // Key bodies without their armour: the DER prefixes of PKCS#1 RSA, PKCS#8 RSA, SEC1 and PKCS#8
  // EC P-256, PKCS#8 Ed25519, and OpenSSH's own format, in base64.
  { kind: 'private key (unarmoured)', re: /MII[A-Za-z0-9+/]{3}IBAAKCA|MII[A-Za-z0-9+/]{3}IBADANBgkqhkiG9w0BAQEFAAS|MHcCAQEEI|MIG[A-Za-z0-9+/]AgEAMBMGByqGSM49AgEG|MC4CAQAwBQYDK2VwBCIEI|b3BlbnNzaC1rZXktdjE|PuTTY-User-Key-File/ },
  { kind: 'Anthropic API key', re: /(?<![A-Za-z0-9_-])sk-ant-[A-Za-z0-9_-]{20}/ },
  { kind: 'OpenAI API key', re: /(?<![A-Za-z0-9_-])sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32}/ },
  { kind: 'GitHub token', re: /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22})/ },
  { kind: 'GitLab token', re: /(?<![A-Za-z0-9_-])glpat-[A-Za-z0-9_-]{20}/ },
  { kind: 'Slack token', re: /(?<![A-Za-z0-9_-])xox[abposre]-[A-Za-z0-9-]{10}/ },
  { kind: 'AWS access key id', re: /(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])/ },
  { kind: 'JWT', re: /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,64}\.eyJ[A-Za-z0-9_-]{8}/, onlyWithoutRoute: true },
];
const MAX_PATTERN_SPAN = 160;
/**
 * The longest encoding of a pattern's span the decoded view reads back (`\u0041` is six
 * characters for one), so a streaming window this long holds a whole encoded match.
 */
const MAX_ENCODED_SPAN = MAX_PATTERN_SPAN * 6;
/** Secrets shorter than this are not searched for: they would match ordinary text. */
export const MIN_SECRET_LENGTH = 8;

/**
 * Fixed prefixes of token formats, searched for in base64 and hex too (a body that base64s a token
 * hides it from the patterns above). Only prefixes long enough that random base64 or hex data
 * would not hit them: "ghp_" or "AKIA" would (documented in the README).
 */
const ENCODED_PREFIXES: readonly { kind: string; text: string }[] = [
  { kind: 'Anthropic API key', text: 'sk-ant-' },
  { kind: 'GitHub token', text: 'github_pat_' },
  { kind: 'GitLab token', text: 'glpat-' },
  { kind: 'private key block', text: 'PRIVATE KEY-----' },
  { kind: 'private key block', text: '-----BEGIN ' },
  { kind: 'private key (unarmoured)', text: 'openssh-key-v1' },
];

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

/** The secrets to look for and the patterns; one per gateway, rebuilt when secrets change. */
export class DlpScanner {
  /** Every encoded form of every injected value. */
  readonly secretNeedles: readonly Needle[];
  /** Base64 and hex of token-format prefixes. */
  private readonly prefixNeedles: Needle[];
  /** Bytes a streaming scan holds back: at least the longest thing it can match. */
  readonly window: number;
  /**
   * Whether anything at all could be found in a text, in one regex: every needle, every pattern
   * (each with its own flags and look-behinds) and the escapes that call for the decoded view, as
   * alternatives. Most of what a request carries matches none, and one search is much cheaper than
   * the ~40 separate ones; when it matches, the scan below runs in full and says what it found.
   */
  private readonly anything: { routed: RegExp; unrouted: RegExp };

  constructor(secrets: Record<string, string>) {
    const secretNeedles: Needle[] = [];
    for (const [name, value] of Object.entries(secrets)) {
      if (value.length < MIN_SECRET_LENGTH) continue;
      const kind = `the value of ${name}`;
      for (const text of encodedForms(value)) secretNeedles.push({ kind, text });
    }
    this.secretNeedles = secretNeedles;
    this.prefixNeedles = [];
    for (const p of ENCODED_PREFIXES) {
      const bytes = Buffer.from(p.text, 'latin1');
      const hex = bytes.toString('hex');
      for (const text of new Set([...base64Forms(bytes), hex, hex.toUpperCase()])) this.prefixNeedles.push({ kind: `${p.kind} (encoded)`, text });
    }
    this.window = Math.max(MAX_ENCODED_SPAN, ...[...secretNeedles, ...this.prefixNeedles].map((n) => n.text.length)) + 1;
    const literal = (t: string) => t.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
    const alternatives = (routed: boolean) => {
      const parts = [...secretNeedles, ...this.prefixNeedles].map((n) => literal(n.text));
      for (const p of PATTERNS) if (!(p.onlyWithoutRoute && routed)) parts.push(p.re.flags.includes('i') ? `(?i:${p.re.source})` : `(?:${p.re.source})`);
      parts.push(ESCAPE.source);
      return new RegExp(parts.join('|'));
    };
    this.anything = { routed: alternatives(true), unrouted: alternatives(false) };
  }

  /** The first secret in `text` (latin1 or plain text), or null: known values, then patterns, then encoded forms. */
  scanText(text: string, where: string, ctx: ScanContext): DlpFinding | null {
    if (!(ctx.routed ? this.anything.routed : this.anything.unrouted).test(text)) return null;
    for (const n of this.secretNeedles) if (text.includes(n.text)) return { kind: n.kind, where };
    const hit = this.scanPatterns(text, where, ctx);
    if (hit) return hit;
    for (const n of this.prefixNeedles) if (text.includes(n.text)) return { kind: n.kind, where };
    const decoded = decodedView(text);
    if (decoded === null) return null;
    for (const n of this.secretNeedles) if (decoded.includes(n.text)) return { kind: n.kind, where };
    return this.scanPatterns(decoded, where, ctx);
  }

  private scanPatterns(text: string, where: string, ctx: ScanContext): DlpFinding | null {
    for (const p of PATTERNS) {
      if (p.onlyWithoutRoute && ctx.routed) continue;
      if (p.re.test(text)) return { kind: p.kind, where };
    }
    return null;
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
