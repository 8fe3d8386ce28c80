/**
 * Response-side protection of injected credentials: an upstream that echoes a request (TRACE, an
 * echo endpoint, an error message quoting a header) would hand the bottle the value it must never
 * hold. Every encoded form of every injected value (dlp.ts encodedForms) is overwritten with `*`
 * of the same length in response headers and bodies, so lengths and framing stay valid.
 *
 * A body streams: only the bytes at the end of a chunk that could begin a form are held back until
 * the next chunk shows whether they do, so a stream (SSE) is not delayed by a fixed window.
 */
import { Transform, type TransformCallback } from 'node:stream';

export class Redactor {
  private readonly needles: Buffer[];
  private readonly firstBytes: Set<number>;
  readonly maxLength: number;

  constructor(forms: readonly string[]) {
    this.needles = [...new Set(forms)].filter((f) => f.length > 0).map((f) => Buffer.from(f, 'latin1'));
    this.firstBytes = new Set(this.needles.map((n) => n[0]!));
    this.maxLength = Math.max(0, ...this.needles.map((n) => n.length));
  }

  get empty(): boolean {
    return this.needles.length === 0;
  }

  /** `buf` with every form overwritten (a copy when there was any; `buf` itself untouched), and the count. */
  redact(buf: Buffer): { buf: Buffer; found: number } {
    let out = buf;
    let found = 0;
    for (const n of this.needles) {
      for (let at = out.indexOf(n); at !== -1; at = out.indexOf(n, at + n.length)) {
        if (out === buf) out = Buffer.from(buf);
        out.fill(0x2a, at, at + n.length);
        found++;
      }
    }
    return { buf: out, found };
  }

  /** How many bytes at the end of `buf` are a proper prefix of some form (and must wait for more). */
  pendingSuffix(buf: Buffer): number {
    const from = Math.max(0, buf.length - this.maxLength + 1);
    for (let p = from; p < buf.length; p++) {
      if (!this.firstBytes.has(buf[p]!)) continue;
      const tail = buf.subarray(p);
      for (const n of this.needles) if (n.length > tail.length && n.subarray(0, tail.length).equals(tail)) return buf.length - p;
    }
    return 0;
  }

  /** A header list with every form in names and values overwritten; the count found. */
  redactHeaders(rawHeaders: readonly string[]): { headers: string[]; found: number } {
    let found = 0;
    const headers = rawHeaders.map((h) => {
      const r = this.redact(Buffer.from(h, 'latin1'));
      found += r.found;
      return r.found ? r.buf.toString('latin1') : h;
    });
    return { headers, found };
  }

  stream(): RedactStream {
    return new RedactStream(this);
  }
}

export class RedactStream extends Transform {
  private held: Buffer = Buffer.alloc(0);
  /** Forms overwritten so far. */
  found = 0;

  constructor(private readonly redactor: Redactor) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const r = this.redactor.redact(this.held.length ? Buffer.concat([this.held, chunk]) : chunk);
    const buf = r.buf;
    this.found += r.found;
    const keep = this.redactor.pendingSuffix(buf);
    this.held = keep ? Buffer.from(buf.subarray(buf.length - keep)) : Buffer.alloc(0);
    if (buf.length > keep) this.push(buf.subarray(0, buf.length - keep));
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.held.length) this.push(this.held);
    done();
  }
}
