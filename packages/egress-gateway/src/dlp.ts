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

// Each pattern matches a prefix of bounded length (at most MAX_PATTERN_SPAN bytes), so the
// streaming window below always holds a whole match.
const PATTERNS: readonly Pattern[] = [
  { kind: 'private key block', re: /-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----/ },
  { kind: 'Anthropic API key', re: /(?<![A-Za-z0-9_-])sk-ant-[A-Za-z0-9_-]{20}/ },
  { kind: 'OpenAI API key', re: /(?<![A-Za-z0-9_-])sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32}/ },
  { kind: 'GitHub token', re: /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22})/ },
  { kind: 'GitLab token', re: /(?<![A-Za-z0-9_-])glpat-[A-Za-z0-9_-]{20}/ },
  { kind: 'Slack token', re: /(?<![A-Za-z0-9_-])xox[abposre]-[A-Za-z0-9-]{10}/ },
  { kind: 'AWS access key id', re: /(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])/ },
  { kind: 'JWT', re: /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,64}\.eyJ[A-Za-z0-9_-]{8}/, onlyWithoutRoute: true },
];
const MAX_PATTERN_SPAN = 160;
/** Secrets shorter than this are not searched for: they would match ordinary text. */
export const MIN_SECRET_LENGTH = 8;

export interface ScanContext {
  /** Whether a route allows the request's host (JWTs are allowed there). */
  routed: boolean;
}

/** The secrets to look for and the patterns; one per gateway, rebuilt when secrets change. */
export class DlpScanner {
  private readonly needles: { kind: string; text: string }[] = [];
  /** Bytes a streaming scan holds back: at least the longest thing it can match. */
  readonly window: number;

  constructor(secrets: Record<string, string>) {
    for (const [name, value] of Object.entries(secrets)) {
      if (value.length < MIN_SECRET_LENGTH) continue;
      const kind = `the value of ${name}`;
      const forms = new Set([value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1)]);
      for (const text of forms) this.needles.push({ kind, text: Buffer.from(text, 'utf8').toString('latin1') });
    }
    this.window = Math.max(MAX_PATTERN_SPAN, ...this.needles.map((n) => n.text.length)) + 1;
  }

  /** The first secret in `text` (latin1 or plain text), or null. */
  scanText(text: string, where: string, ctx: ScanContext): DlpFinding | null {
    for (const n of this.needles) if (text.includes(n.text)) return { kind: n.kind, where };
    for (const p of PATTERNS) {
      if (p.onlyWithoutRoute && ctx.routed) continue;
      if (p.re.test(text)) return { kind: p.kind, where };
    }
    return null;
  }

  /** Scans the request target, raw and percent-decoded. */
  scanUrl(url: string, ctx: ScanContext): DlpFinding | null {
    const raw = this.scanText(url, 'url', ctx);
    if (raw) return raw;
    let decoded: string;
    try {
      decoded = decodeURIComponent(url.replace(/\+/g, ' '));
    } catch {
      return null;
    }
    return decoded === url ? null : this.scanText(decoded, 'url', ctx);
  }

  /** Scans header values given as Node's flat raw list; `exempt` names (lower case) are skipped. */
  scanHeaders(rawHeaders: readonly string[], exempt: ReadonlySet<string>, ctx: ScanContext): DlpFinding | null {
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!.toLowerCase();
      if (exempt.has(name)) continue;
      const value = Buffer.from(rawHeaders[i + 1]!, 'latin1').toString('latin1');
      const hit = this.scanText(value, `header ${name}`, ctx);
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
