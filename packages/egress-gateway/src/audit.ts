/**
 * The audit log: append-only JSONL, one line per request (or refused tunnel) and its decision.
 * Lines made in one turn of the event loop leave in one write (a busy gateway writes many per
 * turn), each line whole: a write never carries part of a line.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { EgressAuditEntry } from '@bot-bottle/core/service';

/** The gateway's lines in the bottle's audit log (core's EgressAuditEntry, shared with `bottle logs`). */
export type AuditEntry = EgressAuditEntry;

export class AuditLog {
  private stream: WriteStream | null;
  private pending = '';
  private scheduled = false;

  /** `file`: a path to append to, or a descriptor already open for appending, or null for none. */
  constructor(
    file: string | number | null,
    private readonly listener?: (entry: AuditEntry) => void,
  ) {
    if (typeof file === 'number') {
      this.stream = createWriteStream('', { fd: file });
      this.stream.on('error', (e) => process.stderr.write(`egress gateway: audit log: ${e.message}\n`));
    } else if (file) {
      mkdirSync(path.dirname(file), { recursive: true });
      this.stream = createWriteStream(file, { flags: 'a', mode: 0o640 });
      this.stream.on('error', (e) => process.stderr.write(`egress gateway: audit log ${file}: ${e.message}\n`));
    } else this.stream = null;
  }

  write(entry: AuditEntry): void {
    if (this.stream) {
      this.pending += JSON.stringify(entry) + '\n';
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    }
    this.listener?.(entry);
  }

  /** Whole lines written elsewhere (a pool's worker), each ending in a newline. */
  writeLines(lines: string): void {
    if (this.stream) {
      this.pending += lines;
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    }
    if (!this.listener) return;
    for (const line of lines.split('\n')) {
      if (!line) continue;
      let entry: AuditEntry;
      try {
        entry = JSON.parse(line) as AuditEntry;
      } catch {
        continue; // written to the log as it came; only the listener misses a line it cannot read
      }
      this.listener(entry);
    }
  }

  private flush(): void {
    this.scheduled = false;
    if (this.pending && this.stream) this.stream.write(this.pending);
    this.pending = '';
  }

  close(): Promise<void> {
    this.flush();
    const s = this.stream;
    this.stream = null;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => s.end(resolve));
  }
}
