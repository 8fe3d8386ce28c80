/**
 * Assertions a test of bot-bottle code needs whatever its test runner: they fail by throwing
 * node's AssertionError, which every runner reports.
 */
import { AssertionError } from 'node:assert';
import { isBottleError, type BottleError } from '../errors.js';

/** Awaits fn and returns the BottleError it throws; fails when it resolves or throws something else. */
export async function rejects(fn: () => unknown): Promise<BottleError> {
  let result: unknown;
  try {
    result = await fn();
  } catch (e) {
    if (isBottleError(e)) return e;
    throw new AssertionError({ message: `expected a BottleError, got ${e instanceof Error ? e.stack : String(e)}`, actual: e, operator: 'rejects' });
  }
  throw new AssertionError({ message: `expected a BottleError, but it returned ${JSON.stringify(result)?.slice(0, 300)}`, actual: result, operator: 'rejects' });
}
