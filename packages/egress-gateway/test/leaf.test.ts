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
import { rmSync, statSync, writeFileSync } from 'node:fs';
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

test('the bottle CA itself: a self-signed CA for leaves only, as openssl and Node read it', async (ctx) => {
  const made = await createBottleCa(path.join(ctx.dir, 'ca-self'), { commonName: 'bot-bottle egress CA' });
  const ca = new X509Certificate(made.certPem);
  assert.is(ca.ca, true);
  assert.is(ca.subject, 'CN=bot-bottle egress CA\nO=bot-bottle');
  assert.is(ca.issuer, ca.subject);
  assert.ok(ca.verify(ca.publicKey), 'self-signed');
  assert.ok(ca.checkIssued(ca));
  assert.ok(ca.validFromDate.getTime() < Date.now() && ca.validToDate.getTime() > Date.now() + 800 * 86_400_000);
  const text = execFileSync('openssl', ['x509', '-in', made.certPath, '-noout', '-text'], { encoding: 'utf8' });
  assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:TRUE, pathlen:0/);
  assert.match(text, /X509v3 Key Usage: critical\n\s+Certificate Sign, CRL Sign\n/);
  assert.match(text, /X509v3 Subject Key Identifier:/);
  assert.match(text, /ASN1 OID: prime256v1/);
  assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
  // openssl's strictest check of the CA as its own trust anchor.
  assert.match(execFileSync('openssl', ['verify', '-x509_strict', '-CAfile', made.certPath, made.certPath], { encoding: 'utf8' }), /: OK/);
  // The key file holds the CA's key (PKCS#8, mode 600) and nothing else.
  const key = execFileSync('openssl', ['pkey', '-in', made.keyPath, '-pubout'], { encoding: 'utf8' });
  assert.is(key, ca.publicKey.export({ type: 'spki', format: 'pem' }) as string);
  assert.is(statSync(made.keyPath).mode & 0o777, 0o600);
  // What it signs is never a CA (its path length 0 would refuse one anyway).
  const leaf = new X509Certificate(new LeafCertificates(await loadCa(made.certPath, made.keyPath)).issuePem('x.example.test'));
  assert.is(leaf.ca, false);
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
