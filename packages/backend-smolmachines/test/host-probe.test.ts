/**
 * The host probe on fake /dev, /proc and /sys trees: hardware KVM (Intel, AMD, arm64, a built-in
 * vendor module seen by its CPU flag), a PVM-only /dev/kvm (these machines), no KVM, a /dev/kvm
 * that cannot be opened, an unknown x86 host; and what each means for launching a guest.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { HARDWARE_FIX, guestSupport, probeHost } from '../src/index.js';

const test = suite('host probe: can a smolvm guest boot here');
const roots: string[] = [];

interface Tree {
  kvm?: 'device' | 'unopenable' | 'none';
  modules?: string[];
  flags?: string[];
  cpuinfoKey?: string;
}

/** A fake root with /dev/kvm (a plain file stands in for the device; a folder cannot be opened read/write). */
async function tree(t: Tree): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'bbtest-probe-'));
  roots.push(root);
  await mkdir(path.join(root, 'dev'), { recursive: true });
  if ((t.kvm ?? 'device') === 'device') await writeFile(path.join(root, 'dev', 'kvm'), '');
  if (t.kvm === 'unopenable') await mkdir(path.join(root, 'dev', 'kvm'));
  for (const m of t.modules ?? []) await mkdir(path.join(root, 'sys', 'module', m, 'parameters'), { recursive: true });
  await mkdir(path.join(root, 'proc'), { recursive: true });
  const line = `${t.cpuinfoKey ?? 'flags'}\t\t: fpu vme de pse ${(t.flags ?? []).join(' ')} sse sse2`;
  await writeFile(path.join(root, 'proc', 'cpuinfo'), `processor\t: 0\n${line}\n\nprocessor\t: 1\n${line}\n`);
  return root;
}

test.after(async () => {
  await Promise.all(roots.splice(0).map((r) => rm(r, { recursive: true, force: true })));
});

test('Intel with kvm_intel and vmx: hardware KVM, a guest can boot', async () => {
  const p = await probeHost({ root: await tree({ modules: ['kvm', 'kvm_intel'], flags: ['vmx'] }), platform: 'linux', arch: 'x64' });
  assert.equal(p.kvm, { present: true, openable: true });
  assert.equal(p.modules, { kvm: true, kvmIntel: true, kvmAmd: false, kvmPvm: false });
  assert.equal(p.cpuFlags, { vmx: true, svm: false, hypervisor: false });
  const s = guestSupport(p);
  assert.equal([s.verdict, s.canBoot], ['hardware-kvm', true]);
  assert.match(s.detail, 'kvm_intel, vmx');
});

test('AMD with kvm_amd and svm; a cloud VM with nested virtualization (hypervisor flag too) is hardware KVM', async () => {
  const s = guestSupport(await probeHost({ root: await tree({ modules: ['kvm', 'kvm_amd'], flags: ['svm', 'hypervisor'] }), platform: 'linux', arch: 'x64' }));
  assert.equal([s.verdict, s.canBoot], ['hardware-kvm', true]);
  assert.match(s.detail, 'kvm_amd, svm');
});

test('PVM only (kvm_pvm, no kvm_intel/kvm_amd, no vmx/svm; the hypervisor flag): no guest boots, with the fix', async () => {
  const p = await probeHost({ root: await tree({ modules: ['kvm', 'kvm_pvm'], flags: ['hypervisor'] }), platform: 'linux', arch: 'x64' });
  assert.equal(p.modules, { kvm: true, kvmIntel: false, kvmAmd: false, kvmPvm: true });
  const s = guestSupport(p);
  assert.equal([s.verdict, s.canBoot], ['pvm-only', false]);
  assert.match(s.detail, '/dev/kvm is PVM only (kvm_pvm; no kvm_intel or kvm_amd, no vmx/svm CPU flag)');
  assert.is(s.fix, HARDWARE_FIX);
  assert.match(s.fix!, 'a host with hardware virtualization (bare metal, or a cloud VM with nested virtualization)');
});

test('kvm_pvm beside a vendor module is hardware KVM (the vendor module decides)', async () => {
  const s = guestSupport(await probeHost({ root: await tree({ modules: ['kvm', 'kvm_pvm', 'kvm_intel'], flags: ['vmx'] }), platform: 'linux', arch: 'x64' }));
  assert.is(s.verdict, 'hardware-kvm');
});

test('no /dev/kvm: no guest boots, with the fix', async () => {
  const p = await probeHost({ root: await tree({ kvm: 'none', flags: ['vmx'] }), platform: 'linux', arch: 'x64' });
  assert.equal(p.kvm, { present: false, openable: false });
  const s = guestSupport(p);
  assert.equal([s.verdict, s.canBoot, s.fix], ['no-kvm', false, HARDWARE_FIX]);
});

test('a /dev/kvm that cannot be opened read/write: no guest boots; the fix is access, not another host', async () => {
  const p = await probeHost({ root: await tree({ kvm: 'unopenable', modules: ['kvm', 'kvm_intel'], flags: ['vmx'] }), platform: 'linux', arch: 'x64' });
  assert.is(p.kvm.present, true);
  assert.is(p.kvm.openable, false);
  assert.is(p.kvm.error, 'EISDIR');
  const s = guestSupport(p);
  assert.equal([s.verdict, s.canBoot], ['kvm-denied', false]);
  assert.match(s.fix!, 'kvm group');
});

test('arm64: KVM is in the kvm module itself (no vendor module, no vmx/svm)', async () => {
  const s = guestSupport(await probeHost({ root: await tree({ modules: ['kvm'], cpuinfoKey: 'Features' }), platform: 'linux', arch: 'arm64' }));
  assert.equal([s.verdict, s.canBoot], ['hardware-kvm', true]);
});

test('x86 with the vendor module built in and unlisted: the CPU flag says hardware', async () => {
  const s = guestSupport(await probeHost({ root: await tree({ modules: ['kvm'], flags: ['svm'] }), platform: 'linux', arch: 'x64' }));
  assert.is(s.verdict, 'hardware-kvm');
});

test('x86 with /dev/kvm and nothing else known: left to smolvm to try (not refused)', async () => {
  const s = guestSupport(await probeHost({ root: await tree({ modules: [] }), platform: 'linux', arch: 'x64' }));
  assert.equal([s.verdict, s.canBoot], ['unknown', true]);
});

test('not Linux: not probed, not refused (smolvm uses the platform hypervisor)', async () => {
  const s = guestSupport(await probeHost({ root: await tree({ kvm: 'none' }), platform: 'darwin', arch: 'arm64' }));
  assert.equal([s.verdict, s.canBoot], ['not-linux', true]);
});

test('an empty root reads as a host with nothing, never throws', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'bbtest-probe-empty-'));
  roots.push(root);
  const p = await probeHost({ root, platform: 'linux', arch: 'x64' });
  assert.equal(p.kvm, { present: false, openable: false });
  assert.equal(p.cpuFlags, { vmx: false, svm: false, hypervisor: false });
});

test.run();
