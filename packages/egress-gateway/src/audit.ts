/**
 * The audit log: append-only JSONL, one line per request (or refused tunnel) and its decision.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { EgressAuditEntry } from '@bot-bottle/core';

/** The gateway's lines in the bottle's audit log (core's EgressAuditEntry, shared with `bottle logs`). */
export type AuditEntry = EgressAuditEntry;

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
