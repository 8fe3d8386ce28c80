#!/bin/sh
# Installs what bench/egress needs besides the workspace: Debian's mitmproxy (mitmdump), squid-openssl
# (squid built with ssl_bump, and security_file_certgen) and openssl.
# The bench runs its own squid (own port, config, cache and logs in its temp dir), so the Debian
# service the package starts is stopped and disabled here: nothing is left listening on 3128.
set -eu
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
certgen=/usr/lib/squid/security_file_certgen
need=""
command -v mitmdump >/dev/null 2>&1 || need="$need mitmproxy"
command -v openssl >/dev/null 2>&1 || need="$need openssl"
# The plain `squid` package has no ssl_bump; only squid-openssl ships security_file_certgen.
[ -x "$certgen" ] || need="$need squid-openssl"
if [ -n "$need" ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need
fi
if [ -x /usr/sbin/squid ]; then
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    $SUDO systemctl disable --now squid >/dev/null 2>&1 || true
  else
    $SUDO invoke-rc.d squid stop >/dev/null 2>&1 || $SUDO service squid stop >/dev/null 2>&1 || true
    $SUDO update-rc.d squid disable >/dev/null 2>&1 || true
  fi
fi
mitmdump --version | head -n 1
/usr/sbin/squid -v | head -n 1
