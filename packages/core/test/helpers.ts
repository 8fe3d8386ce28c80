import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { isBottleError, type BottleError } from '../src/index.js';

/** A fresh temp dir; every test that writes files gets its own, removed by `cleanupTempDirs`. */
const made: string[] = [];
export async function tempDir(prefix = 'bottle-core-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
export async function cleanupTempDirs(): Promise<void> {
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** Awaits fn and returns the BottleError it throws; fails when it resolves or throws something else. */
export async function rejects(fn: () => unknown): Promise<BottleError> {
  let result: unknown;
  try {
    result = await fn();
  } catch (e) {
    if (!isBottleError(e)) assert.unreachable(`expected a BottleError, got ${e instanceof Error ? e.stack : String(e)}`);
    return e as BottleError;
  }
  return assert.unreachable(`expected a BottleError, but it returned ${JSON.stringify(result)?.slice(0, 300)}`) as never;
}

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
