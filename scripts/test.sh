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
source "$here/image-env.sh"
cd "$BOTTLE_ROOT"
echo "test: images (base $BOT_BOTTLE_BASE_IMAGE)" >&2
node apps/cli/bin/run.js image build >&2
exec node scripts/run-tests.mjs "$@"
