#!/usr/bin/env bash
# The main job: a real bottle from examples/bottle.json. Prepares Node, pnpm, the build, a docker
# engine and the images, then runs the agent's bottle. `demo.sh claude` runs the agent itself; other
# arguments run as a command in the bottle (`bash scripts/demo.sh -- bash`); without, a short tour
# that needs no API key and sends nothing off this machine: who the agent is, its Claude Code, its
# CA, and a refused request.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/setup.sh"
bash "$here/docker-engine.sh"
# debootstrap, in case no registry is reachable and bottle makes its base from Debian.
bash "$here/test-deps.sh" base
source "$here/env.sh"
cd "$BOTTLE_ROOT"
# Chooses the base and build CAs (or takes the recorded choice), records it and builds what is
# missing: a later `bottle run` in any shell uses these images.
node apps/cli/bin/run.js image build >&2
# The example's route injects $ANTHROPIC_API_KEY at the gateway; the bottle only ever holds a placeholder.
# Without a key of your own, a stand-in lets the bottle start (the tour calls no API).
export ANTHROPIC_API_KEY="${ANTHROPIC_API_KEY:-not-a-real-key-demo-only}"
# `demo.sh claude`: the agent itself, as `bottle run` starts it (with the prompt the provisioners set).
if [ "${1:-}" = "claude" ] && [ "$#" -eq 1 ]; then
  exec node apps/cli/bin/run.js run demo --manifest examples/bottle.json
fi
[ "${1:-}" = "--" ] && shift
if [ "$#" -gt 0 ]; then
  exec node apps/cli/bin/run.js run demo --manifest examples/bottle.json -- "$@"
fi
exec node apps/cli/bin/run.js run demo --manifest examples/bottle.json -- sh -c '
  echo "agent:      $(id -un) in $(pwd)"
  echo "claude:     $(claude --version)"
  echo "network:    $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | paste -sd, -) (loopback only; the bundle is the way out)"
  echo "key here:   ANTHROPIC_API_KEY=$ANTHROPIC_API_KEY"
  echo "egress CA:  $(openssl x509 -noout -subject -in "$NODE_EXTRA_CA_CERTS" 2>/dev/null || head -1 "$NODE_EXTRA_CA_CERTS")"
  echo "git:        $(git config --global user.name) <$(git config --global user.email)>"
  echo "supervise:  $(claude mcp list 2>/dev/null | grep -o "supervise: .*" || echo "not registered")"
  echo "a request to a host no route allows (refused at CONNECT, no certificate made for it):"
  curl -sS https://example.invalid/ 2>&1 | sed "s/^/  /" | head -2
  echo "the same as plain http, with the reason and how to allow it:"
  curl -sS http://example.invalid/ | sed "s/^/  /" | head -8
'
