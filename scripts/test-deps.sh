#!/usr/bin/env bash
# Debian packages some tests use as real peers (openssh-server: an SSH git upstream on loopback), and
# debootstrap, which `bottle image build` needs to make its base from Debian when no registry is
# reachable (bottle itself installs nothing on the host). `test-deps.sh base` installs only the latter.
# Installs only what is missing; quiet when nothing is to do.
set -euo pipefail
missing=()
if [ "${1:-}" != base ]; then
  [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
  command -v openssl >/dev/null || missing+=(openssl)
fi
command -v debootstrap >/dev/null || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then echo "test-deps: install ${missing[*]} (needs root)" >&2; exit 1; fi
echo "test-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
