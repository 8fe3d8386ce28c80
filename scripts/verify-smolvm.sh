#!/usr/bin/env bash
# Verifies the smolmachines backend on real smolvm microVMs: installs the engine (scripts/smolvm.sh),
# builds the backend, and runs its integration suites (lifecycle, Target, provisioning and egress,
# the secret canary, isolation, the conformance checks when present, the engine's own verbs) with
# BOT_BOTTLE_SMOLVM_ENGINE=real: no test double, BOT_BOTTLE_SMOLVM unset, the host probed for real.
# Ends with one line "N passed, N failed".
#
# Needs a host where a guest can boot: hardware KVM (kvm_intel or kvm_amd; vmx/svm), i.e. bare metal
# or a cloud VM with nested virtualization, and a docker engine (the bundle is a container). On a
# host where no guest can boot (no /dev/kvm, or a PVM-only /dev/kvm as on the machines this project
# is built on) it prints one line saying why and exits 0 — a host that cannot verify is not a
# failure of the backend. With --require-kvm (or VERIFY_SMOLVM_REQUIRE_KVM=1) it exits 3 instead,
# for a CI job that must run on a KVM host.
#
# Exit codes: 0 all passed (or not run: no guest can boot here); 1 a suite failed; 2 set-up failed
# (engine install, build); 3 not run with --require-kvm.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
require_kvm="${VERIFY_SMOLVM_REQUIRE_KVM:-0}"
[ "${1:-}" = "--require-kvm" ] && require_kvm=1
source "$root/scripts/env.sh" >/dev/null 2>&1 || { echo "verify-smolvm: scripts/env.sh failed (run bash scripts/setup.sh first)" >&2; exit 2; }
log="$(mktemp -t verify-smolvm.XXXXXX)"
trap 'rm -f "$log"' EXIT
pkg="$root/packages/backend-smolmachines"

# The backend's own probe (src/host-probe.ts) decides, so the script and `bottle doctor` agree.
if ! (cd "$root" && pnpm -s turbo run build --filter @bot-bottle/backend-smolmachines... >"$log" 2>&1); then
  cat "$log" >&2
  echo "verify-smolvm: building the backend failed (above)" >&2
  exit 2
fi
verdict="$(cd "$pkg" && node --input-type=module -e "
import { guestSupport, probeHost } from '@bot-bottle/backend-smolmachines';
const s = guestSupport(await probeHost());
console.log([s.canBoot ? 'yes' : 'no', s.verdict, s.detail, s.fix ?? ''].join('\t'));
")" || { echo "verify-smolvm: probing the host failed" >&2; exit 2; }
IFS=$'\t' read -r can_boot kind detail fix <<<"$verdict"
if [ "$can_boot" != yes ]; then
  echo "verify-smolvm: not run: no smolvm guest can boot on this host ($kind: $detail); it needs ${fix%%;*}"
  [ "$require_kvm" = 1 ] && exit 3
  exit 0
fi

if ! bash "$root/scripts/smolvm.sh" >"$log" 2>&1; then
  cat "$log" >&2
  echo "verify-smolvm: installing the engine failed (above)" >&2
  exit 2
fi
source "$root/scripts/env.sh" >/dev/null 2>&1
docker info >/dev/null 2>&1 || { echo "verify-smolvm: the docker engine is not reachable (the bundle runs in it); start it and run again" >&2; exit 2; }

echo "verify-smolvm: $detail; running the smolmachines suites on real smolvm ($(smolvm --version))" >&2
cd "$pkg"
unset BOT_BOTTLE_SMOLVM
BOT_BOTTLE_SMOLVM_ENGINE=real FORCE_COLOR=0 node --import tsx "$root/node_modules/uvu/bin.js" -c false test/integration '\.test\.ts$' 2>&1 | tee "$log"
code="${PIPESTATUS[0]}"
passed="$(sed -n 's/^ *Passed: *\([0-9]*\).*/\1/p' "$log" | tail -n1)"
total="$(sed -n 's/^ *Total: *\([0-9]*\).*/\1/p' "$log" | tail -n1)"
passed="${passed:-0}"
failed=$(( ${total:-0} - passed ))
# A suite that crashed before uvu counted it is a failure too.
[ "$code" != 0 ] && [ "$failed" = 0 ] && failed=1
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
