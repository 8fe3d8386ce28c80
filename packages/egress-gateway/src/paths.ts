/**
 * Request targets as a route's `paths` prefix check must see them. The check and what the
 * upstream receives are the same string, so the target must already be in the one form every
 * server reads the same way: anything a server could decode or normalise into another directory
 * (dot segments, encoded dots or slashes, double encoding, overlong UTF-8, `%u` escapes, NUL,
 * `;` parameters on a dot segment, a fragment) is refused instead of being normalised here.
 */

/** Splits an origin-form target into its path and its query (with the `?`). */
export function splitTarget(target: string): { path: string; query: string } {
  const q = target.indexOf('?');
  return q === -1 ? { path: target, query: '' } : { path: target.slice(0, q), query: target.slice(q) };
}

/** Why `target` is not a well-formed origin-form request target, or null. Applies to every request. */
export function targetProblem(target: string): string | null {
  if (!target.startsWith('/')) return 'the request target must start with "/"';
  if (target.includes('#')) return 'the request target holds a "#" (a fragment is never sent to a server)';
  // llhttp already refuses most of these; the check does not depend on it.
  if (/[\x00-\x20\x7f-\uffff]/.test(target)) return 'the request target holds spaces, control or non-ASCII characters (percent-encode them)';
  return null;
}

const UNSAFE_DECODED = /[./\\%\x00-\x1f\x7f]/;

/**
 * Why `path` (no query) could be read by a server as a path other than itself, or null when it
 * cannot. Used when a route limits paths; the message says what to send instead.
 */
export function pathAmbiguity(path: string): string | null {
  if (path.includes('\\')) return 'the path holds a backslash, which some servers read as "/"';
  // Every escape must be %XX; %uXXXX and stray % are read differently by different servers.
  if (/%(?![0-9a-fA-F]{2})/.test(path)) return 'the path holds a "%" that is not a %XX escape (e.g. %u002e)';
  const bytes: number[] = [];
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c === '%') {
      bytes.push(parseInt(path.slice(i + 1, i + 3), 16));
      i += 2;
      continue;
    }
    if (bytes.length) {
      const problem = decodedProblem(bytes);
      if (problem) return problem;
      bytes.length = 0;
    }
  }
  if (bytes.length) {
    const problem = decodedProblem(bytes);
    if (problem) return problem;
  }
  for (const segment of path.split('/')) {
    // Tomcat and others drop ";params" from a segment before resolving dots: "..;" is "..".
    const bare = segment.split(';')[0]!;
    if (bare === '.' || bare === '..') return 'the path has a "." or ".." segment (send the path it resolves to)';
  }
  return null;
}

/** Why a run of percent-decoded bytes is unsafe in a path, or null. */
function decodedProblem(bytes: readonly number[]): string | null {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    return 'the path holds percent-escapes that are not valid UTF-8 (e.g. the overlong %c0%ae)';
  }
  if (UNSAFE_DECODED.test(text)) {
    return 'the path percent-encodes ".", "/", "\\", "%" or a control character (e.g. %2e, %2f, %25, %00); send them as they are, or not at all';
  }
  // Servers that fold Unicode compatibility forms (NFKC) would read e.g. U+FF0E as ".".
  if (UNSAFE_DECODED.test(text.normalize('NFKC'))) return 'the path holds an encoded character that folds to ".", "/" or "\\" (e.g. a full-width dot)';
  return null;
}
