/**
 * Response-side protection of injected credentials: an upstream that echoes a request (TRACE, an
 * echo endpoint, an error message quoting a header) would hand the bottle the value it must never
 * hold. Every encoded form of every injected value (dlp.ts encodedForms) is overwritten with `*`
 * of the same length in response headers and bodies, so lengths and framing stay valid.
 *
 * Nothing the bottle can observe may depend on a *partial* match of a secret. A redactor that held
 * back only the bytes that could begin a form (a prefix of a secret at the end of a chunk) was an
 * oracle: a bottle that gets an upstream to stream back what it sends sees *when* bytes are held,
 * and learns the key one character at a time. So a body stream holds back a fixed window, the
 * last `maxLength - 1` bytes seen, whatever they are; those bytes go out with the next chunk, at
 * the end, or once the upstream has been silent for `idleFlushMs` (so a stream that pauses, SSE,
 * still delivers its last event). Chunk boundaries, timing and sizes are then functions of the
 * upstream's timing and the lengths alone; the bytes change only where a whole form was found.
 *
 * What the window cannot promise: a form the upstream sends in two writes more than `idleFlushMs`
 * apart has its first part released before the second arrives (the rest is still overwritten).
 */
import { Transform, type TransformCallback } from 'node:stream';

/** How long the held window waits for more bytes before it is released anyway. */
export const DEFAULT_IDLE_FLUSH_MS = 200;

export class Redactor {
  private readonly needles: Buffer[];
  readonly maxLength: number;

  constructor(forms: readonly string[]) {
    this.needles = [...new Set(forms)].filter((f) => f.length > 0).map((f) => Buffer.from(f, 'latin1'));
    this.maxLength = Math.max(0, ...this.needles.map((n) => n.length));
  }

  get empty(): boolean {
    return this.needles.length === 0;
  }

  /** Bytes a body stream holds back: enough that any whole form is seen in one buffer. */
  get window(): number {
    return Math.max(0, this.maxLength - 1);
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

  /** A text with every form overwritten (for messages the gateway writes from what an upstream said). */
  redactText(text: string): string {
    if (this.empty) return text;
    const r = this.redact(Buffer.from(text, 'latin1'));
    return r.found ? r.buf.toString('latin1') : text;
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

  stream(options: { idleFlushMs?: number } = {}): RedactStream {
    return new RedactStream(this, options.idleFlushMs ?? DEFAULT_IDLE_FLUSH_MS);
  }
}

export class RedactStream extends Transform {
  /** Bytes not yet sent: at most the window. */
  private held: Buffer = Buffer.alloc(0);
  /**
   * The last window of bytes already sent, scanned again with what comes next: after an idle
   * release, a form that began in the released bytes is still overwritten where it continues.
   */
  private sent: Buffer = Buffer.alloc(0);
  private timer: NodeJS.Timeout | null = null;
  /** Forms overwritten so far. */
  found = 0;

  constructor(
    private readonly redactor: Redactor,
    private readonly idleFlushMs: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.stopTimer();
    const before = this.sent.length;
    const r = this.redactor.redact(Buffer.concat([this.sent, this.held, chunk]));
    this.found += r.found;
    const buf = r.buf.subarray(before);
    const keep = Math.min(this.redactor.window, buf.length);
    this.held = Buffer.from(buf.subarray(buf.length - keep));
    if (buf.length > keep) this.send(buf.subarray(0, buf.length - keep));
    if (this.held.length && this.idleFlushMs > 0) {
      this.timer = setTimeout(() => this.release(), this.idleFlushMs);
      this.timer.unref();
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    this.stopTimer();
    this.release();
    done();
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.stopTimer();
    cb(err);
  }

  private release(): void {
    this.timer = null;
    if (!this.held.length || this.destroyed) return;
    const out = this.held;
    this.held = Buffer.alloc(0);
    this.send(out);
  }

  private send(out: Buffer): void {
    const w = this.redactor.window;
    // Copied: the window must not pin the (possibly large) chunk it was cut from.
    this.sent = Buffer.from(out.length >= w ? out.subarray(out.length - w) : Buffer.concat([this.sent, out]).subarray(Math.max(0, this.sent.length + out.length - w)));
    this.push(out);
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
