/**
 * Reads a small JSON request body for the bundle's local HTTP endpoints (the gateway's admin
 * socket, the supervise server), stopping at a size cap. The caller answers: a body over the cap
 * is `too-large` (answer, then destroy the request), one that is not JSON is `not-json`.
 */
import type http from 'node:http';

export type JsonBody = { ok: true; value: unknown } | { ok: false; problem: 'too-large' | 'not-json' };

export function readJsonBody(req: http.IncomingMessage, maxBytes: number): Promise<JsonBody> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > maxBytes) {
        done = true;
        resolve({ ok: false, problem: 'too-large' });
      } else chunks.push(c);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      try {
        resolve({ ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown });
      } catch {
        resolve({ ok: false, problem: 'not-json' });
      }
    });
  });
}
