# Sourced by the test and demo scripts: chooses the base image and the extra build CAs for this
# machine unless the user already chose (BOT_BOTTLE_BASE_IMAGE, BOT_BOTTLE_BUILD_CA_CERTS).
# - base: node:24-bookworm-slim when the engine has it or can pull it; otherwise one built from
#   Debian with debootstrap (machines without a reachable container registry).
# - CAs: the host's extra CA certificates (/usr/local/share/ca-certificates), which is how a host
#   behind an intercepting proxy trusts it; builds need the same trust.
if [ -z "${BOT_BOTTLE_BASE_IMAGE:-}" ]; then
  if docker image inspect node:24-bookworm-slim >/dev/null 2>&1 || timeout 60 docker pull -q node:24-bookworm-slim >/dev/null 2>&1; then
    export BOT_BOTTLE_BASE_IMAGE=node:24-bookworm-slim
  else
    BOT_BOTTLE_BASE_IMAGE="$(bash "$(dirname "${BASH_SOURCE[0]}")/debian-base-image.sh")" || return 1
    export BOT_BOTTLE_BASE_IMAGE
  fi
fi
if [ -z "${BOT_BOTTLE_BUILD_CA_CERTS+set}" ]; then
  BOT_BOTTLE_BUILD_CA_CERTS="$(ls /usr/local/share/ca-certificates/*.crt 2>/dev/null | paste -sd: -)"
  export BOT_BOTTLE_BUILD_CA_CERTS
fi
