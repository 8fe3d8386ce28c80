#!/usr/bin/env bash
# Runs every test: prepares Node, pnpm, the build, a docker engine and the images, then all suites.
# Ends with "N passed, N failed"; exits non-zero on any failure.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/setup.sh"
bash "$here/docker-engine.sh"
bash "$here/test-deps.sh"
# The smolvm engine: the smolmachines backend's suites drive the real one.
bash "$here/smolvm.sh"
source "$here/env.sh"
cd "$BOTTLE_ROOT"
# The images every docker-backed suite uses: the base and build CAs are bottle's own choice (flags,
# BOT_BOTTLE_* variables, else the one recorded in the user config, else detected and recorded), so
# the suites and a later `bottle run` use the same images.
node apps/cli/bin/run.js image build >&2
exec node scripts/run-tests.mjs "$@"
