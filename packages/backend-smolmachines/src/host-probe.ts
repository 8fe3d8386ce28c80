/**
 * Whether a smolvm guest can boot on this host, read from the host's own files: /dev/kvm (there,
 * and openable read/write), the KVM modules under /sys/module, and the CPU's virtualization flags
 * in /proc/cpuinfo. Everything is read under `root` (default `/`), so a test hands it a fake tree.
 *
 * Why more than "is there a /dev/kvm": some cloud sandboxes offer /dev/kvm through PVM (`kvm_pvm`),
 * a paravirtual KVM with no hardware virtualization under it. It runs only guest kernels built for
 * it; smolvm's kernel (libkrunfw) is not one, and a guest never boots (the VMM spins with an empty
 * console until smolvm gives up after 30 s). Such a host has kvm_pvm and neither kvm_intel nor
 * kvm_amd, and its CPU shows no vmx/svm flag. `guestSupport` turns what was read into a verdict.
 */
import { constants } from 'node:fs';
import { access, open, readFile } from 'node:fs/promises';
import path from 'node:path';

export interface HostProbe {
  platform: NodeJS.Platform;
  arch: string;
  /** /dev/kvm: there at all, and openable read/write by this process (smolvm opens it so). */
  kvm: { present: boolean; openable: boolean; error?: string };
  /** Which KVM modules the kernel has (built in or loaded: both show under /sys/module). */
  modules: { kvm: boolean; kvmIntel: boolean; kvmAmd: boolean; kvmPvm: boolean };
  /** Virtualization flags of the CPU as /proc/cpuinfo lists them. */
  cpuFlags: { vmx: boolean; svm: boolean; hypervisor: boolean };
}

export interface ProbeOptions {
  /** The folder the host's /dev, /proc and /sys are read under (a fake tree in tests). */
  root?: string;
  platform?: NodeJS.Platform;
  arch?: string;
}

async function exists(p: string): Promise<boolean> {
  return access(p, constants.F_OK).then(
    () => true,
    () => false,
  );
}

/** Reads what the verdict needs; never throws (what cannot be read counts as absent). */
export async function probeHost(o: ProbeOptions = {}): Promise<HostProbe> {
  const root = o.root ?? '/';
  const at = (p: string) => path.join(root, p);
  const kvmPath = at('dev/kvm');
  const kvm: HostProbe['kvm'] = { present: await exists(kvmPath), openable: false };
  if (kvm.present) {
    try {
      const fd = await open(kvmPath, constants.O_RDWR);
      await fd.close();
      kvm.openable = true;
    } catch (e) {
      kvm.error = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    }
  }
  const cpuinfo = await readFile(at('proc/cpuinfo'), 'utf8').catch(() => '');
  const flags = new Set(
    cpuinfo
      .split('\n')
      .filter((l) => /^(flags|Features)\s*:/.test(l))
      .flatMap((l) => l.slice(l.indexOf(':') + 1).trim().split(/\s+/)),
  );
  return {
    platform: o.platform ?? process.platform,
    arch: o.arch ?? process.arch,
    kvm,
    modules: {
      kvm: await exists(at('sys/module/kvm')),
      kvmIntel: await exists(at('sys/module/kvm_intel')),
      kvmAmd: await exists(at('sys/module/kvm_amd')),
      kvmPvm: await exists(at('sys/module/kvm_pvm')),
    },
    cpuFlags: { vmx: flags.has('vmx'), svm: flags.has('svm'), hypervisor: flags.has('hypervisor') },
  };
}

export type GuestVerdict = 'hardware-kvm' | 'pvm-only' | 'no-kvm' | 'kvm-denied' | 'unknown' | 'not-linux';

export interface GuestSupport {
  verdict: GuestVerdict;
  /** False only when a guest surely cannot boot; an unknown host is left to smolvm to try. */
  canBoot: boolean;
  /** One line on what the host has. */
  detail: string;
  fix?: string;
}

/** The fix for every host where no guest boots. */
export const HARDWARE_FIX = 'a host with hardware virtualization (bare metal, or a cloud VM with nested virtualization)';

/** What `probe` means for smolvm: whether a guest can boot here, and if not, why and what to do. */
export function guestSupport(p: HostProbe): GuestSupport {
  if (p.platform !== 'linux') {
    return { verdict: 'not-linux', canBoot: true, detail: `${p.platform}/${p.arch}: not probed (smolvm uses the platform's hypervisor there)` };
  }
  if (!p.kvm.present) return { verdict: 'no-kvm', canBoot: false, detail: 'no /dev/kvm: this kernel offers no KVM', fix: HARDWARE_FIX };
  if (!p.kvm.openable) {
    return {
      verdict: 'kvm-denied',
      canBoot: false,
      detail: `/dev/kvm is there but cannot be opened read/write (${p.kvm.error ?? 'denied'})`,
      fix: 'run `bash scripts/smolvm.sh` as root (it gives /dev/kvm to the kvm group, read/write) and add your user to the kvm group',
    };
  }
  const vendor = p.modules.kvmIntel ? 'kvm_intel' : p.modules.kvmAmd ? 'kvm_amd' : null;
  if (vendor) return { verdict: 'hardware-kvm', canBoot: true, detail: `hardware KVM (${vendor}${p.cpuFlags.vmx ? ', vmx' : p.cpuFlags.svm ? ', svm' : ''})` };
  if (p.modules.kvmPvm) {
    return {
      verdict: 'pvm-only',
      canBoot: false,
      detail: `/dev/kvm is PVM only (kvm_pvm; no kvm_intel or kvm_amd${p.cpuFlags.vmx || p.cpuFlags.svm ? '' : ', no vmx/svm CPU flag'}): smolvm's guest kernel is not built for PVM and never boots`,
      fix: HARDWARE_FIX,
    };
  }
  // Arm's KVM is part of the kvm module itself (there is no vendor module); x86 with the vendor
  // module built in and not listed still shows the CPU's flag.
  if ((p.arch === 'arm64' && p.modules.kvm) || p.cpuFlags.vmx || p.cpuFlags.svm) {
    return { verdict: 'hardware-kvm', canBoot: true, detail: `hardware KVM (${p.arch === 'arm64' ? 'arm64 kvm' : p.cpuFlags.vmx ? 'vmx' : 'svm'})` };
  }
  return { verdict: 'unknown', canBoot: true, detail: '/dev/kvm opens, but neither a KVM vendor module nor a vmx/svm CPU flag was found; smolvm will tell at start' };
}
