/**
 * Per-entry push policy: `push: false` makes a repo read-only; `protect` names refs that no push
 * may create, move or delete.
 *
 * A pattern without `refs/` names branches ("main" is refs/heads/main); one starting with `refs/`
 * names full refs ("refs/tags/*"). `*` matches any run of characters, `/` included, so
 * "release/*" covers release/1.0 and release/1.0/fix.
 */
import type { RefUpdate } from './audit.js';

export const ZERO_OID = /^0+$/;

function patternRegex(pattern: string): RegExp {
  const full = pattern.startsWith('refs/') ? pattern : `refs/heads/${pattern}`;
  const body = full.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${body}$`);
}

/** The first pattern protecting `ref`, or null. */
export function protectingPattern(ref: string, protect: readonly string[]): string | null {
  for (const p of protect) if (patternRegex(p).test(ref)) return p;
  return null;
}

export function updateKind(u: RefUpdate): 'create' | 'delete' | 'update' {
  if (ZERO_OID.test(u.old)) return 'create';
  if (ZERO_OID.test(u.new)) return 'delete';
  return 'update';
}

/** Why this push is refused by the entry's own policy (before the upstream is asked), or null. */
export function pushPolicyProblem(name: string, push: boolean, protect: readonly string[], updates: readonly RefUpdate[]): string | null {
  if (!push) return `git-gate: ${name} is read-only in this bottle (push: false); the push was refused`;
  for (const u of updates) {
    const p = protectingPattern(u.ref, protect);
    if (p === null) continue;
    const what = updateKind(u) === 'delete' ? 'deleting' : updateKind(u) === 'create' ? 'creating' : 'pushing to';
    return `git-gate: ${u.ref} is protected in this bottle (protect: "${p}"); ${what} it is refused. Push to a branch that is not protected instead, e.g. git push origin HEAD:agent-work`;
  }
  return null;
}

/**
 * Two pushes to one branch that reach the upstream at the same moment both pass its
 * fast-forward check; the one that updates the ref second fails git's compare-and-swap with
 * `cannot lock ref '<ref>': is at <theirs> but expected <old>` (`failed to update ref`). To the
 * pusher that is a non-fast-forward like any other: say so, and what to do.
 */
export function lostRaces(upstreamLines: readonly string[]): string[] {
  const out: string[] = [];
  for (const l of upstreamLines) {
    const m = /cannot lock ref '([^']+)': is at ([0-9a-f]+) but expected ([0-9a-f]+)/.exec(l);
    if (m) out.push(`git-gate: ${m[1]} was moved on the upstream by another push while this one was in flight (now at ${m[2]!.slice(0, 12)}), so this push is a non-fast-forward; fetch, merge or rebase, and push again`);
  }
  return out;
}
