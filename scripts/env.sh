# Sourced by the other scripts: puts the project's Node (>= 22) and pnpm first on PATH.
# The tools folder lives beside the repo checkout so a clean clone reuses nothing by accident
# and a re-run reuses everything.
BOTTLE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BOTTLE_TOOLS="${BOTTLE_TOOLS:-$BOTTLE_ROOT/.tools}"
export PATH="$BOTTLE_TOOLS/bin:$PATH"
export npm_config_update_notifier=false
# A host whose HTTPS passes an intercepting proxy trusts extra CAs; Node needs them named.
if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi
