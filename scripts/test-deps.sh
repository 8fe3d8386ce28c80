#!/usr/bin/env bash
# Debian packages some tests use as real peers: openssh-server (an SSH git upstream on loopback).
# Installs only what is missing; quiet when nothing is to do.
set -euo pipefail
missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v openssl >/dev/null || missing+=(openssl)
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then echo "test-deps: install ${missing[*]} (needs root)" >&2; exit 1; fi
echo "test-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
