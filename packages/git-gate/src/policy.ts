/**
 * Per-entry push policy: `push: false` makes a repo read-only; `protect` names refs that no push
 * may create, move or delete — nor shadow.
 *
 * A pattern without `refs/` names branches ("main" is refs/heads/main); one starting with `refs/`
 * names full refs ("refs/tags/*"), and `refs/heads/X` is the branch pattern X. `*` matches any run
 * of characters, `/` included, so "release/*" covers release/1.0 and release/1.0/fix.
 *
 * Guarding refs/heads/main alone is not enough: what people and tools use is the short name `main`,
 * and git resolves a short name by trying refs/<name>, refs/tags/<name>, refs/heads/<name>,
 * refs/remotes/<name> and refs/remotes/<name>/HEAD in turn (git rev-parse, checkout, log…). A tag
 * `main` is fetched by every clone and wins over the branch. Upstreams and clones on macOS or
 * Windows keep refs as files on case-insensitive file systems, where refs/heads/MAIN *is*
 * refs/heads/main. So a branch pattern refuses every ref whose name, compared the way such a file
 * system compares it, is one of those spellings of a protected short name, also behind extra
 * refs/, heads/, tags/, remotes/ prefixes (refs/heads/refs/heads/main), and every tag or
 * remote-tracking ref that would shadow a clone's remote-tracking copy (a tag `origin/main`).
 *
 * Only branches and tags are pushed unless the entry opts in to more (`refs`): a ref elsewhere is
 * not what `protect` was written for, and some namespaces change what other names show.
 */
import type { RefUpdate } from './audit.js';

export const ZERO_OID = /^0+$/;

const CONTROL_NAMES: Readonly<Record<string, string>> = { '\n': 'a line break', '\r': 'a carriage return', '\t': 'a tab', '\0': 'a NUL' };

/** C0 controls, DEL and C1 controls: git refuses the first two in a ref name; the C1 ones are refused here too, as they only hide or fake text. */
export const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Why a ref name is refused whatever the entry protects, or null. Mirrors git's check-ref-format
 * for a pushed ref (a little stricter: C1 controls, and a name with no namespace under refs/).
 */
export function refNameProblem(ref: string): string | null {
  if (!ref.startsWith('refs/')) return 'it does not start with "refs/"';
  const rest = ref.slice('refs/'.length);
  // git's receive-pack checks names only after the pre-receive hook has run, so the hook must.
  const control = CONTROL_CHARACTER.exec(ref)?.[0];
  if (control !== undefined) return `it contains ${CONTROL_NAMES[control] ?? `the control character U+${control.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`}`;
  if (ref.includes(' ')) return 'it contains a space';
  if (/[~^:?*[\\]/.test(ref)) return 'it contains one of ~ ^ : ? * [ \\';
  if (ref.includes('..')) return 'it contains ".."';
  if (ref.includes('@{')) return 'it contains "@{"';
  if (ref.endsWith('/') || ref.endsWith('.')) return 'it ends in "/" or "."';
  const parts = rest.split('/');
  if (parts.length < 2) return 'it names no namespace under refs/ (e.g. refs/heads/<name>)';
  for (const c of parts) {
    if (c === '') return 'it contains "//"';
    if (c.startsWith('.')) return `its component "${c}" starts with "."`;
    if (c.endsWith('.lock')) return `its component "${c}" ends in ".lock", the name of git's lock file for a ref`;
    if (c === '@') return 'it contains the component "@"';
  }
  return null;
}

/**
 * A ref with a component HEAD (in any case) is ambiguous with git's own HEAD: a clone keeps the
 * upstream's default branch as the symbolic ref refs/remotes/origin/HEAD (on a case-insensitive
 * file system refs/remotes/origin/head is that same file), and `git branch` refuses the name.
 */
function headProblem(ref: string): boolean {
  return foldRefName(ref)
    .split('/')
    .some((c) => c === 'head');
}

const IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;

/**
 * A ref name as a case-insensitive, normalization-insensitive file system compares it (APFS, HFS+,
 * NTFS): compatibility-normalized (NFKC: full-width letters, ligatures), without the invisible
 * characters HFS+ ignores, case-folded (upper then lower, so "ſ" and "K" fold too), and each
 * component without the trailing dots Windows drops. Stricter than any one file system: what it
 * calls equal is refused, never allowed.
 */
export function foldRefName(name: string): string {
  return name
    .normalize('NFKC')
    .replace(IGNORABLE, '')
    .toUpperCase()
    .toLowerCase()
    .normalize('NFKC')
    .split('/')
    .map((c) => c.replace(/\.+$/, ''))
    .join('/');
}

function globRegex(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 'su');
}

/** How a ref comes to be refused by a protect pattern. */
export type ProtectionKind = 'exact' | 'folded' | 'dwim' | 'nested' | 'remote-tracking';

export interface Protection {
  /** The protect pattern, as the entry wrote it. */
  pattern: string;
  kind: ProtectionKind;
  /** Why, in words, for the refusal message (empty for `exact`). */
  why: string;
}

const NAMESPACES = new Set(['refs', 'heads', 'tags', 'remotes']);

function branchProtection(ref: string, pattern: string, branch: string): Protection | null {
  if (globRegex(`refs/heads/${branch}`).test(ref)) return { pattern, kind: 'exact', why: '' };
  const parts = foldRefName(ref).split('/');
  const folded = foldRefName(branch);
  const short = globRegex(folded);
  const asRemoteTracking = globRegex(`*/${folded}`);
  // parts[0] is "refs"; the candidates are the name with the first i components stripped, for as
  // long as the stripped ones are refs/, heads/, tags/ or remotes/.
  const candidates: { i: number; name: string; through: 'tags' | 'remotes' | null }[] = [];
  let through: 'tags' | 'remotes' | null = null;
  for (let i = 1; i < parts.length; i++) {
    candidates.push({ i, name: parts.slice(i).join('/'), through });
    const c = parts[i]!;
    if (!NAMESPACES.has(c)) break;
    // A tag or remote-tracking ref can pose as <remote>/<branch>; a branch cannot (a clone files it under refs/remotes/origin/).
    if (c === 'tags' || c === 'remotes') through ??= c;
  }
  for (const { i, name } of candidates) {
    if (!short.test(name)) continue;
    if (i === 2 && parts[1] === 'heads') {
      return { pattern, kind: 'folded', why: `on a case-insensitive upstream or clone (macOS, Windows) it is the same file as refs/heads/${name}: names that differ only in case, Unicode form, invisible characters or trailing dots are one name there` };
    }
    if (i === 1) {
      return { pattern, kind: 'dwim', why: `git rev-parse and git checkout resolve the short name ${name} to refs/${name} before refs/heads/${name}, so a mirror of the upstream would take it for the branch` };
    }
    if (i === 2 && parts[1] === 'tags') {
      return { pattern, kind: 'dwim', why: `git rev-parse and git checkout resolve the short name ${name} to refs/tags/${name} before refs/heads/${name}, so every clone would take this tag for the branch` };
    }
    if (i === 2 && parts[1] === 'remotes') {
      return { pattern, kind: 'dwim', why: `git rev-parse resolves the short name ${name} to refs/remotes/${name} wherever no branch ${name} exists, so a mirror of the upstream would take it for the branch` };
    }
    return { pattern, kind: 'nested', why: `its name is the protected branch ${name} behind extra refs/, heads/, tags/ or remotes/ prefixes, which people and tools read as that branch` };
  }
  for (const { name, through: via } of candidates) {
    if (via === null || !asRemoteTracking.test(name)) continue;
    return {
      pattern,
      kind: 'remote-tracking',
      why:
        via === 'tags'
          ? `git rev-parse and git checkout resolve ${name} to a tag refs/tags/${name} before a clone's remote-tracking branch refs/remotes/${name}, so in every clone this tag would shadow the remote's copy of a protected branch`
          : `its name is a remote-tracking copy (${name}) of a protected branch, which a mirror of the upstream would take for the real one`,
    };
  }
  return null;
}

/** How `ref` is protected by the first pattern that refuses it, or null. */
export function protectionOf(ref: string, protect: readonly string[]): Protection | null {
  for (const p of protect) {
    let found: Protection | null;
    if (p.startsWith('refs/heads/')) {
      found = branchProtection(ref, p, p.slice('refs/heads/'.length));
    } else if (p.startsWith('refs/')) {
      found = globRegex(p).test(ref)
        ? { pattern: p, kind: 'exact', why: '' }
        : globRegex(foldRefName(p)).test(foldRefName(ref))
          ? { pattern: p, kind: 'folded', why: `on a case-insensitive upstream or clone (macOS, Windows) it is the same file as a ref that "${p}" protects: names that differ only in case, Unicode form, invisible characters or trailing dots are one name there` }
          : null;
    } else {
      found = branchProtection(ref, p, p);
    }
    if (found) return found;
  }
  return null;
}

/** The first pattern protecting `ref`, or null. */
export function protectingPattern(ref: string, protect: readonly string[]): string | null {
  return protectionOf(ref, protect)?.pattern ?? null;
}

export function updateKind(u: RefUpdate): 'create' | 'delete' | 'update' {
  if (ZERO_OID.test(u.old)) return 'create';
  if (ZERO_OID.test(u.new)) return 'delete';
  return 'update';
}

/** Namespaces every entry may push to; `refs` opts in to more. */
export const PUSHED_NAMESPACES = ['refs/heads/', 'refs/tags/'] as const;

/**
 * Namespaces no `refs` opt-in can open: a ref there changes what *other* names show, so `protect`
 * could not guard what it names. Keyed by the namespace as a case-insensitive file system folds it
 * (on one, refs/Replace/ is the folder refs/replace/).
 */
const NEVER_PUSHED: Readonly<Record<string, string>> = {
  replace:
    'a ref under refs/replace/ makes git show another commit in place of the one it names: every mirror, and every clone that fetches refs/*, would read whatever a branch or tag at that commit points to (a protected main too) as the pushed content, while the branch\'s own id stays unchanged',
  namespaces:
    'a ref under refs/namespaces/<name>/ is what a server run with GIT_NAMESPACE=<name> serves as its own refs (refs/namespaces/<name>/refs/heads/main is its main), out of reach of protect',
};

/** The namespace of a ref or pattern (`notes` for refs/notes/…), folded as a case-insensitive file system compares it. */
function foldedNamespace(ref: string): string {
  return foldRefName(ref).split('/')[1] ?? '';
}

/** Why `pattern` cannot be a `refs` opt-in, or null. The manifest schema checks the same (packages/core/src/manifest/schema.ts). */
export function refsPatternProblem(pattern: string): string | null {
  const shape = 'a refs pattern names refs in one namespace outside refs/heads/ and refs/tags/, such as "refs/notes/*" or "refs/for/*"';
  if (!/^refs\/[^/*]+\/./.test(pattern)) return `${shape}: it starts with refs/<namespace>/, with no "*" in the namespace`;
  if (/[\s\\?[\]^~:]/.test(pattern) || CONTROL_CHARACTER.test(pattern) || pattern.includes('..')) return `${shape}: no spaces, control characters, "..", "?", "[", "^", "~", ":" or "\\\\"`;
  const ns = foldedNamespace(pattern);
  if (ns === 'heads' || ns === 'tags') return `refs/heads/ and refs/tags/ are always pushed (guard them with protect); ${shape}`;
  const never = NEVER_PUSHED[ns];
  if (never) return `refs/${ns}/ can never be opted in: ${never}`;
  return null;
}

const ELSEWHERE = 'Push a branch or a tag instead, e.g. git push origin HEAD:agent-work';

/**
 * Why a ref outside the namespaces this entry pushes is refused and what to do instead, or null
 * when it is inside them: refs/heads/, refs/tags/ and the entry's `refs` opt-ins, which match as
 * protect's patterns do (`*` across "/"), but exactly (an opt-in only ever allows more).
 */
function namespaceProblem(ref: string, refs: readonly string[]): { why: string; instead: string } | null {
  const ns = foldedNamespace(ref);
  const never = NEVER_PUSHED[ns];
  if (never) return { why: `is refused in this bottle: ${never}; no "refs" opt-in allows it`, instead: ELSEWHERE };
  if (PUSHED_NAMESPACES.some((p) => ref.startsWith(p)) || refs.some((p) => globRegex(p).test(ref))) return null;
  if (ns === 'heads' || ns === 'tags') {
    return { why: `is refused in this bottle: it spells refs/${ns}/ another way (case, Unicode form or trailing dots), which a case-insensitive upstream or clone (macOS, Windows) takes for refs/${ns}/ itself`, instead: `Spell it refs/${ns}/…, e.g. git push origin HEAD:agent-work` };
  }
  const allowed = refs.length ? `refs/heads/, refs/tags/ and "refs": ${JSON.stringify(refs).replace(/","/g, '", "')}` : 'refs/heads/ and refs/tags/';
  const prefix = ref.split('/').slice(0, 2).join('/');
  return { why: `is outside the refs this bottle may push (${allowed})`, instead: `${ELSEWHERE}; if the team uses ${prefix}/, add it to the git entry in bottle.json: "refs": ["${prefix}/*"]` };
}

const INSTEAD = 'Push to a branch that is not protected instead, e.g. git push origin HEAD:agent-work';

/** The refusal of a name git (or the gate, which must check it before git does) would not accept. */
export function refNameRefusal(ref: string, problem: string): string {
  return `git-gate: ${JSON.stringify(ref)} is not a ref name git accepts (${problem}); the whole push was refused and nothing was sent to the upstream. Push to an ordinary branch name instead, e.g. git push origin HEAD:agent-work`;
}

/**
 * Why this push is refused by the entry's own policy (before the upstream is asked), or null.
 * `refs` are the entry's opt-ins beyond refs/heads/ and refs/tags/.
 */
export function pushPolicyProblem(
  name: string,
  push: boolean,
  protect: readonly string[],
  updates: readonly RefUpdate[],
  refs: readonly string[] = [],
  limits: { only?: readonly string[]; maxRefsPerPush?: number } = {},
): string | null {
  if (!push) return `git-gate: ${name} is read-only in this bottle (push: false); the push was refused`;
  if (limits.maxRefsPerPush !== undefined && updates.length > limits.maxRefsPerPush) {
    return `git-gate: this push updates ${updates.length} refs; ${name} takes at most ${limits.maxRefsPerPush} in one push in this bottle, and the whole push was refused. Push fewer branches at a time`;
  }
  for (const u of updates) {
    // An allowlist (the host repo's branch per bottle): every ref must be in it, exactly as spelt.
    if (limits.only && !limits.only.some((p) => globRegex(p).test(u.ref))) {
      const ns = limits.only.map((p) => p.replace(/^refs\/heads\//, '')).join(', ');
      return `git-gate: ${u.ref} is refused: this bottle may push to ${name} only under ${ns} (its own branches in the host repo); the whole push was refused. Push there instead, e.g. git push origin HEAD:${limits.only[0]!.replace(/^refs\/heads\//, '').replace(/\*$/, 'work')}`;
    }
    const what = updateKind(u) === 'delete' ? 'deleting' : updateKind(u) === 'create' ? 'creating' : 'pushing to';
    const bad = refNameProblem(u.ref);
    if (bad) return refNameRefusal(u.ref, bad);
    if (headProblem(u.ref)) {
      return `git-gate: ${u.ref} is refused in this bottle: a ref with a component named HEAD (in any case) is ambiguous with git's own HEAD (a clone keeps the upstream's default branch as refs/remotes/origin/HEAD, and git branch refuses the name); ${what} it is refused. Push to a branch with another name instead, e.g. git push origin HEAD:agent-work`;
    }
    // protect first: its reasons (a tag or remote-tracking ref posing as a branch) are the more specific.
    const p = protectionOf(u.ref, protect);
    if (p !== null) {
      if (p.kind === 'exact') return `git-gate: ${u.ref} is protected in this bottle (protect: "${p.pattern}"); ${what} it is refused. ${INSTEAD}`;
      const thing = p.pattern.startsWith('refs/') && !p.pattern.startsWith('refs/heads/') ? 'ref' : 'branch';
      return `git-gate: ${u.ref} would shadow a protected ${thing} in this bottle (protect: "${p.pattern}"): ${p.why}; ${what} it is refused. ${INSTEAD}`;
    }
    const outside = namespaceProblem(u.ref, refs);
    if (outside) return `git-gate: ${u.ref} ${outside.why}; ${what} it is refused. ${outside.instead}`;
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
