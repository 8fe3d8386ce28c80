#!/bin/sh
# Installs what bench/egress needs besides the workspace: Debian's mitmproxy (mitmdump) and openssl.
set -eu
need=""
command -v mitmdump >/dev/null 2>&1 || need="$need mitmproxy"
command -v openssl >/dev/null 2>&1 || need="$need openssl"
if [ -n "$need" ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need
fi
mitmdump --version | head -n 1
