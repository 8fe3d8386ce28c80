/**
 * Leaf certificates written by the gateway's own DER code (src/leaf.ts), checked by two verifiers
 * that share none of it: Node's X509Certificate and the openssl CLI (chain, purpose, host name and
 * the authority/subject key identifier match), for the bottle CA and for CAs made by openssl (RSA,
 * P-384, and one without a subject key identifier extension).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createBottleCa, loadCa, LeafCertificates } from '@bot-bottle/egress-gateway';
import { tempDir } from './helpers.js';

const test = suite<{ dir: string }>('leaf certificates', { dir: '' });

test.before((ctx) => {
  ctx.dir = tempDir('egress-leaf-');
});
test.after((ctx) => rmSync(ctx.dir, { recursive: true, force: true }));

function opensslVerify(dir: string, caFile: string, leafPem: string, host: string, strict = true): string {
  const leafFile = path.join(dir, `leaf-${host}.pem`);
  writeFileSync(leafFile, leafPem);
  return execFileSync('openssl', ['verify', '-CAfile', caFile, '-purpose', 'sslserver', '-verify_hostname', host, ...(strict ? ['-x509_strict'] : []), leafFile], { encoding: 'utf8', stdio: 'pipe' });
}

function check(caFile: string, caPem: string, leafPem: string, host: string) {
  const ca = new X509Certificate(caPem);
  const leaf = new X509Certificate(leafPem);
  assert.ok(leaf.verify(ca.publicKey), 'signed by the CA');
  assert.ok(leaf.checkIssued(ca), 'issuer and key identifiers name the CA');
  assert.is(leaf.checkHost(host), host);
  assert.is(leaf.checkHost(`x${host}`), undefined, 'no other name');
  assert.is(leaf.ca, false);
  assert.is(leaf.subjectAltName, `DNS:${host}`);
  assert.is(leaf.issuer, ca.subject);
  assert.ok(leaf.validToDate.getTime() <= ca.validToDate.getTime(), 'does not outlive the CA');
  assert.ok(leaf.validFromDate.getTime() < Date.now());
  assert.equal(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1']);
}

test('the bottle CA: Node and openssl accept the leaf for its host only', async (ctx) => {
  const made = await createBottleCa(path.join(ctx.dir, 'bottle'));
  const leaves = new LeafCertificates(await loadCa(made.certPath, made.keyPath));
  for (const host of ['api.example.test', 'a-b_c.x.example.test']) {
    const pem = leaves.issuePem(host);
    check(made.certPath, made.certPem, pem, host);
    assert.match(opensslVerify(ctx.dir, made.certPath, pem, host), /: OK/);
  }
  // Control: the same verifier refuses the leaf for another name (so the OK above means something).
  const pem = leaves.issuePem('api.example.test');
  assert.throws(() => opensslVerify(ctx.dir, made.certPath, pem, 'other.example.test'));
});

for (const [label, keyArgs, ext] of [
  ['RSA', ['-newkey', 'rsa:2048'], ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']],
  ['P-384', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'], ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']],
  ['P-256 without a subject key identifier', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign', '-addext', 'subjectKeyIdentifier=none', '-addext', 'authorityKeyIdentifier=none']],
] as const) {
  test(`a CA made by openssl (${label})`, async (ctx) => {
    const d = path.join(ctx.dir, label.replace(/\W+/g, '-'));
    execFileSync('mkdir', ['-p', d]);
    execFileSync('openssl', ['req', '-x509', ...keyArgs, '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', `/CN=test ${label} CA/O=bot-bottle tests`, ...ext], { cwd: d, stdio: 'pipe' });
    const caFile = path.join(d, 'ca.crt');
    const loaded = await loadCa(caFile, path.join(d, 'ca.key'));
    const pem = new LeafCertificates(loaded).issuePem('svc.example.test');
    check(caFile, loaded.certPem, pem, 'svc.example.test');
    // openssl's strict mode wants a subject key identifier in every CA; the one without is checked without it.
    assert.match(opensslVerify(ctx.dir, caFile, pem, 'svc.example.test', !label.includes('without')), /: OK/);
  });
}

test.run();
