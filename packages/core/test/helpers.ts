import * as assert from 'uvu/assert';
import type { BottleError } from '../src/index.js';

// The same temp-dir and rejection helpers provisioner packages get from @bot-bottle/core/testing.
export { cleanupTempDirs, rejects, tempDir } from '../src/testing/index.js';

/** Every expected pattern matches exactly one detail line and every line is matched by one pattern. */
export function assertDetails(err: BottleError, expected: readonly (RegExp | string)[]): void {
  const lines = [...err.details];
  const shown = `\n${lines.join('\n')}`;
  assert.is(lines.length, expected.length, `expected ${expected.length} detail line(s), got ${lines.length}:${shown}`);
  for (const pattern of expected) {
    const hits = lines.filter((l) => (typeof pattern === 'string' ? l.startsWith(pattern) : pattern.test(l)));
    assert.is(hits.length, 1, `expected one line matching ${String(pattern)}:${shown}`);
  }
}
