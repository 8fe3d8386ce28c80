/**
 * `bottle logs --follow`: the log's lines as they are appended, until the bottle is removed or the
 * process gets SIGINT/SIGTERM; polled every 200 ms while nothing new comes.
 */
import { open, stat } from 'node:fs/promises';
import type { AuditLog } from './log.js';

const POLL_MS = 200;

/**
 * Calls `line` for every complete line of the log, those there now first, then each new one; a
 * line appended in pieces is passed once it is whole. Resolves with why it stopped.
 */
export async function followAuditLog(log: AuditLog, line: (text: string) => void): Promise<'removed' | 'interrupted'> {
  const { file, stateDir } = log;
  let offset = 0;
  let pending = '';
  let stopped = false;
  const stop = () => {
    stopped = true;
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    while (!stopped) {
      const st = await stat(file).catch(() => null);
      if (st && st.size < offset) {
        offset = 0; // the file was replaced or truncated: read it again from the start
        pending = '';
      }
      if (st && st.size > offset) {
        const fh = await open(file, 'r');
        try {
          const buf = Buffer.alloc(st.size - offset);
          const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
          offset += bytesRead;
          pending += buf.subarray(0, bytesRead).toString('utf8');
        } finally {
          await fh.close();
        }
        const cut = pending.lastIndexOf('\n');
        if (cut >= 0) {
          for (const l of pending.slice(0, cut).split('\n')) line(l);
          pending = pending.slice(cut + 1);
        }
        continue;
      }
      if (!(await stat(stateDir).catch(() => null))) return 'removed';
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    return 'interrupted';
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
}
