/**
 * Audit lines: one JSON object per line, appended to the log the egress gateway also writes.
 * Each line is one write(2) on a file opened with O_APPEND, so lines from the gate, its push
 * hooks and the gateway never interleave. The entry type is core's GitAuditEntry, one variant of
 * the AuditEntry that `bottle logs` reads.
 *
 * The log may be named `/dev/fd/N`: a descriptor the gate inherited, already open for appending.
 * The bundle runs the gate as a user that cannot open the log's folder (a host folder); it opens
 * the log itself and hands the descriptor down to the gate, its git daemons and their push hooks.
 */
import { appendFileSync, mkdirSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { GitAuditEntry, RefUpdate } from '@bot-bottle/core/service';

export type { GitAuditEntry, GitService, RefUpdate } from '@bot-bottle/core/service';

export type AuditInput = Omit<GitAuditEntry, 'time' | 'source' | 'refs'> & { refs?: RefUpdate[] };

export function auditLine(entry: AuditInput, now = new Date()): GitAuditEntry {
  return { time: now.toISOString(), source: 'git-gate', service: entry.service, repo: entry.repo, refs: entry.refs ?? [], decision: entry.decision, reason: entry.reason, ...(entry.upstream ? { upstream: entry.upstream } : {}), ...(entry.client ? { client: entry.client } : {}) };
}

/** The descriptor an audit log named `/dev/fd/N` refers to, or null for a file path. */
export function auditFd(file: string | null): number | null {
  const m = file ? /^\/dev\/fd\/(\d{1,4})$/.exec(file) : null;
  return m ? Number(m[1]) : null;
}

/** Appends one line; a log that cannot be written is reported on stderr and never stops git. */
export function writeAudit(file: string | null, entry: AuditInput, onWrite?: (e: GitAuditEntry) => void): GitAuditEntry {
  const line = auditLine(entry);
  if (file) {
    try {
      const fd = auditFd(file);
      // An inherited descriptor is written as it is: opening /dev/fd/N again would check the
      // file's permissions against this process's user, which the bundle's gate user fails.
      if (fd !== null) writeSync(fd, JSON.stringify(line) + '\n');
      else {
        mkdirSync(path.dirname(file), { recursive: true });
        appendFileSync(file, JSON.stringify(line) + '\n', { mode: 0o640 });
      }
    } catch (e) {
      process.stderr.write(`git-gate: audit log ${file}: ${(e as Error).message}\n`);
    }
  }
  onWrite?.(line);
  return line;
}
