/**
 * The audit log: append-only JSONL, one line per request (or refused tunnel) and its decision.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

export interface AuditEntry {
  /** ISO 8601 time the request arrived. */
  time: string;
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

export class AuditLog {
  private stream: WriteStream | null;

  constructor(
    file: string | null,
    private readonly listener?: (entry: AuditEntry) => void,
  ) {
    if (file) {
      mkdirSync(path.dirname(file), { recursive: true });
      this.stream = createWriteStream(file, { flags: 'a', mode: 0o640 });
      this.stream.on('error', (e) => process.stderr.write(`egress gateway: audit log ${file}: ${e.message}\n`));
    } else this.stream = null;
  }

  write(entry: AuditEntry): void {
    this.stream?.write(JSON.stringify(entry) + '\n');
    this.listener?.(entry);
  }

  close(): Promise<void> {
    const s = this.stream;
    this.stream = null;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => s.end(resolve));
  }
}
