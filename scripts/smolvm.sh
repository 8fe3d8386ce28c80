#!/usr/bin/env bash
# Makes the smolvm engine (the smolmachines backend's microVM runner) ready on this machine:
# - the PyPI wheel `smolmachines` (pinned below) in $BOTTLE_TOOLS/smolmachines. It carries the whole
#   engine: `smol/smol-vmm` (the smolvm CLI), the smol-machines builds of libkrun and libkrunfw
#   beside it and the agent rootfs tarball, so nothing is downloaded when a machine starts.
#   (Not the PyPI package named `smolvm`: that is an unrelated project.)
# - `$BOTTLE_TOOLS/bin/smolvm`, a wrapper that execs the engine with its library dir and agent
#   rootfs named (scripts/env.sh puts $BOTTLE_TOOLS/bin first on PATH);
# - `mkfs.ext4` (Debian's e2fsprogs), which smolvm runs to format machine disks;
# - read/write /dev/kvm for the user running bottles.
# Idempotent and quiet when there is nothing to do. SMOLMACHINES_VERSION overrides the pin.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

SMOLMACHINES_VERSION="${SMOLMACHINES_VERSION:-1.32.2}"
dest="$BOTTLE_TOOLS/smolmachines"
smol="$dest/smol"
wrapper="$BOTTLE_TOOLS/bin/smolvm"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "smolvm: '$*' needs root; run it as root and re-run this script" >&2; return 1
  fi
}

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq >&2
  as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

installed_version() {
  sed -n 's/^Version: //p' "$dest"/smolmachines-*.dist-info/METADATA 2>/dev/null | head -n1
}

if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]; then
  echo "smolvm: this script installs the Linux x86_64 engine; on $(uname -s)-$(uname -m) install smolvm yourself and put it on PATH" >&2
  exit 1
fi

if [ "$(installed_version)" != "$SMOLMACHINES_VERSION" ] || [ ! -x "$smol/smol-vmm" ]; then
  py="$(command -v python3 || true)"
  if [ -z "$py" ] || ! "$py" -m pip --version >/dev/null 2>&1; then
    echo "smolvm: installing python3-pip from Debian (pip installs the smolmachines wheel)" >&2
    apt_install python3-pip
    py="$(command -v python3)"
  fi
  echo "smolvm: installing smolmachines $SMOLMACHINES_VERSION into $dest" >&2
  rm -rf "$dest"
  # --no-deps: the engine needs none of the SDK's optional Python dependencies.
  PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore "$py" -m pip install --quiet --disable-pip-version-check --no-deps \
    --only-binary=:all: --target "$dest" "smolmachines==$SMOLMACHINES_VERSION" >&2
  [ -x "$smol/smol-vmm" ] || { echo "smolvm: the wheel has no smol/smol-vmm; its layout changed (see $dest)" >&2; exit 1; }
fi

# The engine prints a "no packed assets found for 'smol-vmm'" note on every run unless the
# executable's own name is `smolvm` (it resolves /proc/self/exe, so a symlink does not do);
# a hard link in the same folder keeps the libraries beside it.
[ "$smol/smolvm" -ef "$smol/smol-vmm" ] || ln -f "$smol/smol-vmm" "$smol/smolvm"

mkdir -p "$BOTTLE_TOOLS/bin"
want_wrapper="#!/bin/sh
# Written by scripts/smolvm.sh: the smolvm engine from the smolmachines $SMOLMACHINES_VERSION wheel.
# SMOLVM_LIB_DIR: where the bundled libkrun/libkrunfw are loaded from (dlopen, not the linker path).
# SMOLVM_AGENT_ROOTFS_TAR: the agent rootfs the guest boots, shipped in the wheel.
# SMOLVM_SECCOMP/SMOLVM_LANDLOCK: confine the VMM process, as 'smolvm serve' and the SDK do by default.
export SMOLVM_LIB_DIR=\"\${SMOLVM_LIB_DIR:-$smol}\"
export SMOLVM_AGENT_ROOTFS_TAR=\"\${SMOLVM_AGENT_ROOTFS_TAR:-$smol/agent-rootfs.tar.zst}\"
export SMOLVM_SECCOMP=\"\${SMOLVM_SECCOMP:-enforce}\"
export SMOLVM_LANDLOCK=\"\${SMOLVM_LANDLOCK:-enforce}\"
exec \"$smol/smolvm\" \"\$@\"
"
if [ "$(cat "$wrapper" 2>/dev/null)" != "$want_wrapper" ]; then
  printf '%s' "$want_wrapper" > "$wrapper"
  chmod 755 "$wrapper"
fi

if ! command -v mkfs.ext4 >/dev/null 2>&1 && [ ! -x /sbin/mkfs.ext4 ] && [ ! -x /usr/sbin/mkfs.ext4 ]; then
  echo "smolvm: installing e2fsprogs from Debian (smolvm formats machine disks with mkfs.ext4)" >&2
  apt_install e2fsprogs
fi

if [ ! -e /dev/kvm ]; then
  # The engine is installed (it creates, lists and deletes machines without KVM); none can start.
  echo "smolvm: warning: /dev/kvm is missing, so no machine can start here (enable virtualization, or load kvm_intel/kvm_amd)" >&2
  exit 0
fi
# A /dev/kvm served by PVM alone (kvm_pvm, as in some cloud sandboxes without nested hardware
# virtualization) runs only guest kernels built for PVM; smolvm's (libkrunfw) is not one, and its
# guest never gets past the start (no console output, "no boot progress for 30 seconds").
if [ -d /sys/module/kvm_pvm ] && [ ! -d /sys/module/kvm_intel ] && [ ! -d /sys/module/kvm_amd ]; then
  echo "smolvm: warning: this machine's KVM is PVM (kvm_pvm), which boots only PVM guest kernels; smolvm machines will not start here" >&2
fi
# Run as root, smolvm drops each VM's VMM process to a uid of its own (2000000 and up) and keeps
# only the `kvm` group, so /dev/kvm must be read/write for that group: Debian's udev rule
# (root:kvm 0660), which a machine without udev (a container) lacks.
if [ "$(id -u)" = 0 ]; then
  getent group kvm >/dev/null 2>&1 || { echo "smolvm: adding the kvm group" >&2; groupadd --system kvm; }
  if [ "$(stat -c %G /dev/kvm)" != kvm ] || [ $((0$(stat -c %a /dev/kvm) & 060)) != 48 ]; then
    echo "smolvm: /dev/kvm -> root:kvm, group read/write (the VMM runs as a kvm-group uid)" >&2
    chgrp kvm /dev/kvm
    chmod g+rw /dev/kvm
  fi
elif [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
  user="$(id -un)"
  if getent group kvm >/dev/null 2>&1 && [ "$(stat -c %G /dev/kvm)" = kvm ]; then
    echo "smolvm: adding $user to the kvm group" >&2
    as_root usermod -aG kvm "$user"
  fi
  # The group change counts only in new logins; an ACL gives this user access now.
  command -v setfacl >/dev/null 2>&1 || apt_install acl
  echo "smolvm: granting $user read/write on /dev/kvm" >&2
  as_root setfacl -m "u:$user:rw" /dev/kvm
fi
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "smolvm: /dev/kvm is still not read/write for $(id -un)" >&2; exit 1; }
"$wrapper" --version >/dev/null
