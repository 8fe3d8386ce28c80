/** The egress presets as the gateway decides by them: installing passes, publishing and pushing do not. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { expandPresets } from '@bot-bottle/core';
import { RuleSet, pathPrefixMatches } from '@bot-bottle/egress-gateway';

const test = suite('egress presets in the rules');

test('the gateway\'s rules: an install passes, a publish and a push are refused, a host outside the preset is refused', () => {
  const rules = new RuleSet(expandPresets(['npm', 'pypi', 'github']));
  const ask = (method: string, host: string, target: string) => rules.decide({ scheme: 'https', host, port: 443, method, target }).allowed;
  assert.ok(ask('GET', 'registry.npmjs.org', '/left-pad'));
  assert.ok(ask('GET', 'registry.npmjs.org', '/left-pad/-/left-pad-1.3.0.tgz'));
  assert.not.ok(ask('PUT', 'registry.npmjs.org', '/left-pad'), 'npm publish is a PUT');
  assert.ok(ask('GET', 'pypi.org', '/simple/requests/'));
  assert.ok(ask('GET', 'files.pythonhosted.org', '/packages/ab/cd/requests-2.0.tar.gz'));
  assert.not.ok(ask('POST', 'upload.pypi.org', '/legacy/'), 'twine upload goes to a host outside the preset');
  assert.not.ok(ask('POST', 'pypi.org', '/legacy/'));
  assert.not.ok(ask('GET', 'pypi.org', '/account/login/'), 'outside the index paths');
  assert.ok(ask('GET', 'github.com', '/owner/repo.git/info/refs?service=git-upload-pack'));
  assert.ok(ask('POST', 'github.com', '/owner/repo.git/git-upload-pack'));
  assert.not.ok(ask('POST', 'github.com', '/owner/repo.git/git-receive-pack'), 'a push');
  assert.not.ok(ask('POST', 'github.com', '/owner/git-upload-pack'), 'the star stands for one whole segment');
  assert.not.ok(ask('POST', 'api.github.com', '/repos/o/r/issues'));
  assert.not.ok(ask('GET', 'example.com', '/'));
});

test('a star segment stands for one whole segment, and a star inside a segment is a literal', () => {
  assert.ok(pathPrefixMatches('/*/*/git-upload-pack', '/o/r.git/git-upload-pack'));
  assert.not.ok(pathPrefixMatches('/*/*/git-upload-pack', '/o/git-upload-pack'));
  assert.not.ok(pathPrefixMatches('/*/*/git-upload-pack', '//r/git-upload-pack'));
  assert.ok(pathPrefixMatches('/a*b/', '/a*b/x'));
  assert.not.ok(pathPrefixMatches('/a*b/', '/axb/x'));
  assert.ok(pathPrefixMatches('/v1/', '/v1/models'), 'control: plain prefixes as before');
});

test.run();
