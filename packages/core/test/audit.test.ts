import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseAuditEntry, type EgressAuditEntry, type GitAuditEntry } from '../src/index.js';

const test = suite('audit entries');

const EGRESS: EgressAuditEntry = {
  time: '2026-01-01T12:00:00.000Z', source: 'egress', method: 'GET', host: 'api.example.com', path: '/v1', status: 200,
  bytes: 10, bytesUp: 0, decision: 'allow', rule: 'routes[0] api.example.com', reason: null, durationMs: 3,
};
const GIT: GitAuditEntry = {
  time: '2026-01-01T12:00:01.000Z', source: 'git-gate', service: 'receive-pack', repo: 'app',
  refs: [{ ref: 'refs/heads/main', old: 'a'.repeat(40), new: 'b'.repeat(40) }], decision: 'deny', reason: 'protected', upstream: 'ssh://git@h/app.git',
};

test('both variants read back as written, keys in order, unknown keys kept', () => {
  for (const entry of [EGRESS, GIT, { ...EGRESS, extra: 1 }]) {
    const back = parseAuditEntry(JSON.stringify(entry));
    assert.equal(back, entry);
    assert.equal(Object.keys(back!), Object.keys(entry));
  }
  assert.is(parseAuditEntry(JSON.stringify(GIT))!.source, 'git-gate');
});

test('a gateway line without a source (as written before) is an egress entry; missing values are neutral', () => {
  const { source: _s, host: _h, rule: _r, ...old } = EGRESS;
  const e = parseAuditEntry(JSON.stringify(old));
  assert.ok(e && e.source === 'egress');
  if (e?.source !== 'egress') return;
  assert.is(e.host, '');
  assert.is(e.rule, null);
  const g = parseAuditEntry(JSON.stringify({ ...GIT, refs: 'x', reason: undefined }));
  assert.ok(g?.source === 'git-gate');
  if (g?.source === 'git-gate') {
    assert.equal(g.refs, []);
    assert.is(g.reason, null);
  }
});

test('what is not an entry is null', () => {
  for (const text of ['', 'not json', '[]', '"x"', 'null', '{"time":"t"}', JSON.stringify({ ...EGRESS, decision: 'maybe' }), JSON.stringify({ ...EGRESS, time: 1 }), JSON.stringify({ ...GIT, source: 'other' }), JSON.stringify({ ...GIT, service: 3 }), JSON.stringify({ ...EGRESS, source: 'git-gate' })]) {
    assert.is(parseAuditEntry(text), null, text);
  }
});

test.run();
