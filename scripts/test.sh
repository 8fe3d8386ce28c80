#!/usr/bin/env bash
# Runs every test: prepares Node, pnpm, the build and a docker engine, then all suites.
# Ends with "N passed, N failed"; exits non-zero on any failure.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
bash "$here/setup.sh"
bash "$here/docker-engine.sh"
source "$here/env.sh"
cd "$BOTTLE_ROOT"
exec node scripts/run-tests.mjs "$@"
