/** Egress presets: the registries' hosts as read-only routes, in the manifest and in the plan. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EGRESS_PRESETS, makePlan, validateManifest } from '@bot-bottle/core';

const test = suite('egress presets');

const manifest = (egress: unknown) => ({ bottles: { dev: { egress } }, agents: { demo: { bottle: 'dev' } } });

test('every preset reads only: GET and HEAD, except a clone\'s POST to git-upload-pack; HTTPS on 443', () => {
  for (const p of EGRESS_PRESETS) {
    assert.ok(p.routes.length > 0, p.name);
    for (const r of p.routes) {
      assert.is(r.auth, undefined, `${p.name} injects nothing`);
      assert.is(r.schemes, undefined, `${p.name}: https only`);
      assert.is(r.ports, undefined, `${p.name}: port 443`);
      const writes = (r.methods ?? []).filter((m) => m !== 'GET' && m !== 'HEAD');
      if (writes.length) assert.equal([p.name, writes, r.paths], ['github', ['POST'], ['/*/*/git-upload-pack']]);
    }
  }
  assert.equal(EGRESS_PRESETS.map((p) => p.name), ['npm', 'pypi', 'crates', 'go', 'github']);
});

test('a preset with "to" sends every one of its hosts there; the plan lists the presets and their routes after the manifest\'s', async () => {
  const loaded = await validateManifest(manifest({ routes: [{ host: 'api.example.com' }], presets: ['go', { name: 'pypi', to: 'https://pypi-mirror.internal:8443' }] }), 'bottle.json', '/tmp', '/tmp');
  const plan = makePlan({ manifest: loaded, agentName: 'demo', copyCwd: false, userCwd: '/' }, { env: {}, home: '/tmp', seed: 's' });
  assert.equal(plan.egress.presets, [{ name: 'go' }, { name: 'pypi', to: 'https://pypi-mirror.internal:8443' }]);
  assert.equal(plan.egress.routes.map((r) => [r.host, r.to ?? null]), [
    ['api.example.com', null],
    ['proxy.golang.org', null],
    ['sum.golang.org', null],
    ['pypi.org', 'https://pypi-mirror.internal:8443'],
    ['files.pythonhosted.org', 'https://pypi-mirror.internal:8443'],
  ]);
});

test('an unknown preset, or a bad "to", is one line by its JSON path with the names', async () => {
  for (const [egress, message] of [
    [{ presets: ['maven'] }, /^bottles\.dev\.egress\.presets\[0\]: presets may name npm, pypi, crates, go, github/],
    [{ presets: [{ name: 'npm', to: 'ftp://x' }] }, /^bottles\.dev\.egress\.presets\[0\]/],
    [{ presets: [{ name: 'npm', mirror: 'https://x' }] }, /^bottles\.dev\.egress\.presets\[0\]/],
  ] as const) {
    const err = await validateManifest(manifest(egress), 'bottle.json', '/tmp', '/tmp').then(() => null, (e: { details: string[] }) => e);
    assert.ok(err, JSON.stringify(egress));
    assert.ok(err!.details.some((d) => message.test(d)), err!.details.join('\n'));
  }
  // Control: presets alone, without routes, are a whole egress section.
  await validateManifest(manifest({ presets: ['npm'] }), 'bottle.json', '/tmp', '/tmp');
});

test.run();
