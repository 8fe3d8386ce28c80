/**
 * DLP for what the bottle sends on an upgraded WebSocket. A client masks every frame with a random
 * key, so the raw bytes show nothing; this stream reads RFC 6455 frames, scans each frame's unmasked
 * payload (with the tail of the previous payload, so a value split across two frames is seen when
 * the second arrives), and passes the frame on unchanged only once its payload is clean.
 *
 * A frame is held whole until it is complete, so frames are capped (MAX_FRAME_BYTES); compression
 * extensions are never negotiated (the gateway strips Sec-WebSocket-Extensions), so a frame with
 * an RSV bit set is refused rather than passed unread.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { DlpError, type DlpScanner, type ScanContext } from './dlp.js';

export const MAX_FRAME_BYTES = 4 * 1024 * 1024;

export class WebSocketScanError extends Error {}

export class WebSocketClientScanner extends Transform {
  private buf: Buffer = Buffer.alloc(0);
  private tail = '';
  /** Frame bytes passed on so far. */
  bytes = 0;

  constructor(
    private readonly scanner: DlpScanner,
    private readonly ctx: ScanContext,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      const frame = this.nextFrame();
      if (frame instanceof Error) return done(frame);
      if (frame === null) break;
      const text = this.tail + frame.payload.toString('latin1');
      const hit = this.scanner.scanText(text, 'websocket message', this.ctx);
      if (hit) return done(new DlpError(hit));
      this.tail = text.slice(-this.scanner.window);
      this.bytes += frame.raw.length;
      this.push(frame.raw);
    }
    // What is left is a partial frame: keep a copy, not a view pinning the chunk.
    if (this.buf.length && this.buf.buffer === chunk.buffer) this.buf = Buffer.from(this.buf);
    done();
  }

  /** The next whole frame (raw bytes and unmasked payload), null when more bytes are needed. */
  private nextFrame(): { raw: Buffer; payload: Buffer } | Error | null {
    const b = this.buf;
    if (b.length < 2) return null;
    if (b[0]! & 0x70) return new WebSocketScanError('a WebSocket frame with RSV bits set (a compression extension that was not negotiated) cannot be scanned');
    if (!(b[1]! & 0x80)) return new WebSocketScanError('a WebSocket frame from the client is not masked (RFC 6455 requires it)');
    let len = b[1]! & 0x7f;
    let at = 2;
    if (len === 126) {
      if (b.length < 4) return null;
      len = b.readUInt16BE(2);
      at = 4;
    } else if (len === 127) {
      if (b.length < 10) return null;
      const big = b.readBigUInt64BE(2);
      if (big > BigInt(MAX_FRAME_BYTES)) return new WebSocketScanError(`a WebSocket frame over ${MAX_FRAME_BYTES} bytes is refused (it would have to be held whole to be scanned)`);
      len = Number(big);
      at = 10;
    }
    if (len > MAX_FRAME_BYTES) return new WebSocketScanError(`a WebSocket frame over ${MAX_FRAME_BYTES} bytes is refused (it would have to be held whole to be scanned)`);
    if (b.length < at + 4 + len) return null;
    const mask = b.subarray(at, at + 4);
    const payload = Buffer.allocUnsafe(len);
    for (let i = 0; i < len; i++) payload[i] = b[at + 4 + i]! ^ mask[i & 3]!;
    const raw = b.subarray(0, at + 4 + len);
    this.buf = b.subarray(at + 4 + len);
    return { raw, payload };
  }
}
