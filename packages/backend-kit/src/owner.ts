/**
 * Who owns a bottle: the `bottle run` process that launched it (removed when it exits), or nobody
 * when it was launched with --keep (removed by `bottle stop`). `gc` reclaims what a dead owner left.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

export const KEEP = 'keep';

/** A process identity that survives pid reuse: pid plus its start time where the OS tells it. */
export function ownerId(pid = process.pid): string {
  return `${hostname()}:${pid}:${processStart(pid) ?? '0'}`;
}

function processStart(pid: number): string | null {
  try {
    // Field 22 of /proc/PID/stat is the start time in clock ticks since boot (Linux only).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** True when the owner is gone (or the record is unreadable). `keep` owners are never gone. */
export function ownerGone(owner: string | undefined): boolean {
  if (owner === KEEP) return false;
  if (!owner) return true;
  const [host, pidText, start] = owner.split(':');
  if (host !== hostname()) return false; // another machine's bottle: not ours to judge
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
  const now = processStart(pid);
  return start !== '0' && now !== null && now !== start;
}
