import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { editDistance } from '../src/index.js';

const test = suite('editDistance');

test('equal strings are 0 apart, and an empty string is as far as the other is long', () => {
  assert.is(editDistance('plan', 'plan'), 0);
  assert.is(editDistance('', ''), 0);
  assert.is(editDistance('', 'egress'), 6);
  assert.is(editDistance('egress', ''), 6);
});

test('one insertion, deletion or substitution is 1', () => {
  assert.is(editDistance('plann', 'plan'), 1);
  assert.is(editDistance('egres', 'egress'), 1);
  assert.is(editDistance('skils', 'skills'), 1);
  assert.is(editDistance('skils', 'skull'), 2);
  assert.is(editDistance('bottle', 'battle'), 1);
});

test('symmetric, and case counts (callers lower-case first when it should not)', () => {
  assert.is(editDistance('kitten', 'sitting'), 3);
  assert.is(editDistance('sitting', 'kitten'), 3);
  assert.is(editDistance('IdentityFile', 'identityfile'), 2);
});

test.run();
