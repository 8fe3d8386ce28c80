/**
 * A bottle's audit log on the host: where it is (the bottle's plan says, else the default place in
 * its state dir) and its entries. The log is appended to by the bundle's services while it is read:
 * a line without its newline yet is left for the next read.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { AUDIT_LOG_NAME, BottleError, EXIT_USAGE, SLUG_PATTERN, bottleStateDir, parseAuditEntry, type AuditEntry } from '@bot-bottle/core';

export interface AuditLog {
  slug: string;
  /** The bottle's state dir: the log is followed until it is removed (a stopped bottle's log goes with it). */
  stateDir: string;
  file: string;
}

/** Where the bottle's audit log is: its plan says, else the default place in its state dir. */
async function auditLogPath(stateDir: string): Promise<string> {
  const fallback = path.join(stateDir, 'log', AUDIT_LOG_NAME);
  const text = await readFile(path.join(stateDir, 'plan.json'), 'utf8').catch(() => null);
  if (!text) return fallback;
  try {
    const p = (JSON.parse(text) as { egress?: { auditLogPath?: unknown } }).egress?.auditLogPath;
    return typeof p === 'string' && path.isAbsolute(p) ? p : fallback;
  } catch {
    return fallback;
  }
}

/** The audit log of the bottle `slug`; a usage error when `slug` is no slug or no such bottle exists. */
export async function findAuditLog(slug: string): Promise<AuditLog> {
  if (!SLUG_PATTERN.test(slug)) {
    throw new BottleError('USAGE', `"${slug}" is not a bottle slug (like demo-abc12)`, { suggestions: ['List bottles and their slugs with `bottle ls`.'], exit: EXIT_USAGE });
  }
  const stateDir = bottleStateDir(slug);
  if (!(await stat(stateDir).catch(() => null))?.isDirectory()) {
    throw new BottleError('BOTTLE_NOT_FOUND', `no bottle named ${slug}`, {
      details: [`${stateDir} does not exist (a stopped bottle's log goes with it)`],
      suggestions: ['List bottles with `bottle ls`.'],
      exit: EXIT_USAGE,
    });
  }
  return { slug, stateDir, file: await auditLogPath(stateDir) };
}

/**
 * Reads the log's lines in order, one call per line: the entry, or null for a blank line or one
 * that is not an audit entry (`skipped` is told which line of the file that was).
 */
export function auditLineReader(file: string, skipped: (message: string) => void): (line: string) => AuditEntry | null {
  let lineNo = 0;
  return (text) => {
    lineNo++;
    if (!text.trim()) return null;
    const e = parseAuditEntry(text);
    if (!e) skipped(`bottle: ${file}:${lineNo}: not an audit entry, skipped`);
    return e;
  };
}

/** Every complete entry in the log now (none when it does not exist yet). */
export async function readAuditLog(log: AuditLog, skipped: (message: string) => void): Promise<AuditEntry[]> {
  const text = await readFile(log.file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return '';
    throw new BottleError('BACKEND_FAILED', `cannot read ${log.file}: ${e.message}`, { suggestions: ['Run as the user that started the bottle.'] });
  });
  // A line still being written has no newline yet; it is shown next time.
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  const read = auditLineReader(log.file, skipped);
  const entries: AuditEntry[] = [];
  for (const line of complete.split('\n')) {
    const e = read(line);
    if (e) entries.push(e);
  }
  return entries;
}
