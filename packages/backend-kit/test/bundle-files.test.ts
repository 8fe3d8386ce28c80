/**
 * The host side of a bundle, without docker: what the user named and the launch cannot use (an
 * upstream CA file, a known_hosts for an ssh upstream) is a BottleError of its own code, exit 2,
 * with the fix; each with the control that the same launch passes once the input is right.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EXIT_USAGE } from '@bot-bottle/core';
import { cleanupTempDirs, planFor, rejects, tempDir, world } from '@bot-bottle/core/testing';
import { readBundleConfig } from '@bot-bottle/bundle';
import { prepareBundleFiles, writeBundleConfig } from '../src/bundle-files.js';

const test = suite('bundle files');
test.after.each(cleanupTempDirs);

async function pemFile(dir: string): Promise<string> {
  const cert = path.join(dir, 'upstream.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', path.join(dir, 'upstream.key'), '-out', cert, '-days', '1', '-subj', '/CN=upstream test CA'], { stdio: 'pipe' });
  return cert;
}

test('BOT_BOTTLE_UPSTREAM_CA_CERTS naming a missing or non-PEM file: CA_CERT_INVALID, exit 2, with the fix', async () => {
  const dir = await tempDir('bottle-bf-');
  const notPem = path.join(dir, 'notes.txt');
  await writeFile(notPem, 'hello\n');
  for (const [file, said] of [[path.join(dir, 'missing.crt'), 'cannot be read'], [notPem, 'is not a PEM certificate']] as const) {
    const plan = await planFor(await world());
    const err = await rejects(() => prepareBundleFiles(plan, { BOT_BOTTLE_UPSTREAM_CA_CERTS: file }));
    assert.is(err.code, 'CA_CERT_INVALID');
    assert.is(err.exit, EXIT_USAGE);
    assert.is(err.message, `upstream CA ${file} (from BOT_BOTTLE_UPSTREAM_CA_CERTS) ${said}`);
    assert.match(err.suggestions.join('\n'), 'BOT_BOTTLE_UPSTREAM_CA_CERTS');
  }
  // Control: a real certificate is taken.
  const plan = await planFor(await world());
  const dirs = await prepareBundleFiles(plan, { BOT_BOTTLE_UPSTREAM_CA_CERTS: await pemFile(dir) });
  assert.ok(dirs.bundleDir.startsWith(plan.stateDir));
});

test('an ssh upstream with no known_hosts anywhere: LAUNCH_ENV_MISSING, exit 2, naming the entry and where it looked', async () => {
  const w = await world();
  const plan = await planFor(w, { git: [{ Name: 'app', Upstream: 'ssh://git@git.example.invalid/app.git', IdentityFile: '~/.ssh/id_ed25519' }] });
  const knownHosts = path.join(w.home, '.ssh', 'known_hosts');
  const err = await rejects(() => prepareBundleFiles(plan, { HOME: w.home }));
  assert.is(err.code, 'LAUNCH_ENV_MISSING');
  assert.is(err.exit, EXIT_USAGE);
  assert.match(err.message, 'git entry "app" is an ssh upstream');
  assert.equal(err.details, [`looked for ${knownHosts}`]);
  assert.match(err.suggestions[0]!, 'KnownHosts');
  // Control: with the user's known_hosts in place the same plan gets it mounted read-only.
  await mkdir(path.dirname(knownHosts), { recursive: true });
  await writeFile(knownHosts, 'git.example.invalid ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n');
  const dirs = await prepareBundleFiles(plan, { HOME: w.home });
  assert.ok(dirs.mounts.some((m) => m.host === knownHosts && m.readOnly), JSON.stringify(dirs.mounts));
  assert.ok(!dirs.mounts.some((m) => m.guest.startsWith('/run/bot-bottle/') || m.guest === '/run/bot-bottle'), 'the sockets are the backend\'s to mount');
});

test('the bundle.json it writes is one the bundle reads: its schema takes it, with and without git', async () => {
  const w = await world();
  const knownHosts = path.join(w.home, '.ssh', 'known_hosts');
  await mkdir(path.dirname(knownHosts), { recursive: true });
  await writeFile(knownHosts, 'git.example.invalid ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n');
  for (const input of [{}, { routes: [{ host: 'api.example.com' }], git: [{ Name: 'app', Upstream: 'ssh://git@git.example.invalid/app.git', IdentityFile: '~/.ssh/id_ed25519' }] }]) {
    const plan = await planFor(w, input);
    const dirs = await prepareBundleFiles(plan, { HOME: w.home });
    const config = await readBundleConfig(await writeBundleConfig(dirs, plan.limits));
    assert.is(config.slug, plan.slug);
    assert.is(config.gitGate?.upstreams.length ?? 0, plan.gitGate.upstreams.length);
    assert.equal(config.egress.routes, plan.egress.routes);
    // The gateway runs one process per core of the bundle's quota.
    assert.is(config.egress.workers, Math.floor(plan.limits.bundle.cpus));
  }
});

test('writeBundleConfig follows the limits it is given (an engine machine smaller than the planner\'s), and adds extra keys', async () => {
  const w = await world();
  const plan = await planFor(w);
  const dirs = await prepareBundleFiles(plan, { HOME: w.home });
  const limits = { ...plan.limits, bundle: { ...plan.limits.bundle, cpus: 3.5 } };
  const file = await writeBundleConfig(dirs, limits, { note: 'x' });
  const raw = JSON.parse(await readFile(file, 'utf8')) as { egress: { workers: number }; note: string };
  assert.is(raw.egress.workers, 3);
  assert.is(raw.note, 'x');
});

test.run();
