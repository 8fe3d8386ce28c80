#!/usr/bin/env bash
# Makes this machine ready to build and run bot-bottle: Node >= 22, pnpm, dependencies, build.
# Idempotent and quiet when there is nothing to do.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$BOTTLE_ROOT"

NODE_MAJOR_WANTED=24
PNPM_VERSION="$(node -e 'console.log(require("./package.json").packageManager.split("@")[1])' 2>/dev/null || echo 10.34.8)"

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(node_major)" -lt 22 ]; then
  echo "setup: installing Node $NODE_MAJOR_WANTED into $BOTTLE_TOOLS (found $(node --version 2>/dev/null || echo none))" >&2
  npm install -g --silent --no-fund --no-audit --prefix "$BOTTLE_TOOLS" "node@$NODE_MAJOR_WANTED" >&2
  hash -r
fi
if [ "$(node_major)" -lt 22 ]; then
  echo "setup: Node >= 22 is still not first on PATH ($(command -v node)); fix PATH and re-run" >&2
  exit 1
fi

if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  echo "setup: installing pnpm $PNPM_VERSION into $BOTTLE_TOOLS" >&2
  npm install -g --silent --no-fund --no-audit --prefix "$BOTTLE_TOOLS" "pnpm@$PNPM_VERSION" >&2
  hash -r
fi

# Install only when the lockfile or a manifest changed since the last successful install.
stamp="$BOTTLE_TOOLS/.install-stamp"
want="$(cat pnpm-lock.yaml package.json $(ls -d packages/*/package.json apps/*/package.json examples/*/package.json 2>/dev/null) | sha256sum | cut -c1-16)"
if [ ! -d node_modules ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: pnpm install" >&2
  pnpm install --frozen-lockfile --reporter=silent >&2
  echo "$want" > "$stamp"
fi

pnpm -s turbo run build --output-logs=errors-only >&2
