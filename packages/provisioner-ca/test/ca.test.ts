/**
 * Port of the reference's TestProvisionCA with real openssl-made certificates. The original picked
 * pipelock's or egress's CA by whether routes were declared; here both cases install the plan's one
 * CA (the gateway is the only first hop), which these tests pin for either case.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { BottlePlan } from '@bot-bottle/core';
import ca from '../src/index.js';
import { cleanupTempDirs, contextFor, planFor, rejects, world } from '@bot-bottle/core/testing';

const GUEST_CA = '/usr/local/share/ca-certificates/bot-bottle-egress-ca.crt';
const SCRIPT = `chmod 644 ${GUEST_CA} && chown root:root ${GUEST_CA} && update-ca-certificates`;
const UPDATE_OK = { exitCode: 0, stdout: 'Updating certificates in /etc/ssl/certs...\n1 added, 0 removed; done.\n', stderr: '' };

const test = suite('ca');
test.after.each(cleanupTempDirs);

/** A real self-signed CA, written where the launch puts it (key beside it, as the launch does). */
async function writeCa(plan: BottlePlan, cn = 'bot-bottle test CA'): Promise<string> {
  await mkdir(path.dirname(plan.egress.caCertPath), { recursive: true });
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', plan.egress.caKeyPath, '-out', plan.egress.caCertPath, '-days', '1', '-subj', `/CN=${cn}`], { stdio: 'pipe' });
  return readFile(plan.egress.caCertPath, 'utf8');
}

function fingerprint(certPath: string): string {
  return execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', certPath], { encoding: 'utf8' }).trim().split('=')[1]!;
}

test('without routes: the plan CA is copied, then one sh -c as root', async () => {
  const plan = await planFor(await world(), {});
  const pem = await writeCa(plan);
  const { ctx, target } = contextFor(plan);
  target.respond = () => UPDATE_OK;
  await ca.apply(ctx);
  assert.equal(target.calls, [
    { kind: 'copyIn', hostPath: plan.egress.caCertPath, guestPath: GUEST_CA, isDirectory: false, content: pem },
    // chmod, chown and update-ca-certificates in one exec (smolvm's exec warm-up is paid once); as root.
    { kind: 'exec', argv: ['sh', '-c', SCRIPT], options: {} },
  ]);
});

test('with routes declared: the same plan CA (the gateway is the first hop either way)', async () => {
  const plan = await planFor(await world(), { routes: [{ host: 'api.anthropic.com' }] });
  const pem = await writeCa(plan);
  const { ctx, target } = contextFor(plan);
  target.respond = () => UPDATE_OK;
  await ca.apply(ctx);
  assert.is(target.copies.length, 1);
  assert.is(target.copies[0]!.hostPath, plan.egress.caCertPath);
  assert.is(target.copies[0]!.content, pem);
  assert.is(target.execs.length, 1);
  const argv = target.execs[0]!.argv;
  assert.is(argv[0], 'sh');
  assert.is(argv[1], '-c');
  assert.match(argv[2]!, 'chmod 644');
  assert.match(argv[2]!, 'update-ca-certificates');
});

test('logs the installed CA with the sha256 fingerprint openssl reports', async () => {
  const plan = await planFor(await world(), {});
  await writeCa(plan, 'fingerprint check');
  const { ctx, target, logs } = contextFor(plan);
  target.respond = () => UPDATE_OK;
  await ca.apply(ctx);
  assert.equal(logs, [`trusted CN=fingerprint check (sha256 ${fingerprint(plan.egress.caCertPath)}) at ${GUEST_CA}`]);
});

test('dies when the CA cert is missing on the host, before any call', async () => {
  const plan = await planFor(await world(), {});
  const { ctx, target } = contextFor(plan);
  const err = await rejects(() => ca.apply(ctx));
  assert.is(err.code, 'PROVISIONER_FAILED');
  assert.is(err.message, `the egress CA certificate ${plan.egress.caCertPath} does not exist`);
  assert.ok(err.suggestions.length > 0);
  assert.equal(target.calls, []);
});

test('dies when update-ca-certificates does not say "1 added"', async () => {
  for (const stdout of ['Updating certificates in /etc/ssl/certs...\n0 added, 0 removed; done.\n', '11 added, 0 removed; done.\n', '']) {
    const plan = await planFor(await world(), {});
    await writeCa(plan);
    const { ctx, target } = contextFor(plan);
    target.respond = () => ({ exitCode: 0, stdout, stderr: '' });
    const err = await rejects(() => ca.apply(ctx));
    assert.is(err.message, 'update-ca-certificates in recording target did not add the egress CA (expected "1 added" in its output)');
    assert.equal(err.details, stdout.trim() ? [stdout.trim()] : []);
  }
});

test('dies when the exec fails, with its output', async () => {
  const plan = await planFor(await world(), {});
  await writeCa(plan);
  const { ctx, target } = contextFor(plan);
  target.respond = () => ({ exitCode: 127, stdout: '', stderr: 'sh: 1: update-ca-certificates: not found\n' });
  const err = await rejects(() => ca.apply(ctx));
  assert.is(err.message, 'installing the egress CA in recording target failed (exit 127)');
  assert.equal(err.details, ['sh: 1: update-ca-certificates: not found']);
  assert.match(err.suggestions[0]!, 'bottle image build');
});

test('a CA file that holds the private key is refused and never copied', async () => {
  const plan = await planFor(await world(), {});
  const pem = await writeCa(plan);
  // mitmproxy's combined PEM has key and certificate in one file; the key must stay on the host.
  await writeFile(plan.egress.caCertPath, (await readFile(plan.egress.caKeyPath, 'utf8')) + pem);
  const { ctx, target } = contextFor(plan);
  const err = await rejects(() => ca.apply(ctx));
  assert.is(err.message, `${plan.egress.caCertPath} holds a private key; only the CA certificate may be copied into the bottle`);
  assert.equal(target.calls, []);
});

test('a file that is not a certificate is refused before the copy', async () => {
  const plan = await planFor(await world(), {});
  await mkdir(path.dirname(plan.egress.caCertPath), { recursive: true });
  await writeFile(plan.egress.caCertPath, 'not a certificate\n');
  const { ctx, target } = contextFor(plan);
  const err = await rejects(() => ca.apply(ctx));
  assert.ok(err.message.startsWith(`${plan.egress.caCertPath} is not a PEM certificate: `), err.message);
  assert.equal(target.calls, []);
});

test.run();
