#!/usr/bin/env bash
# The offline path to a base image: when no registry is reachable, build one that stands in for
# node:24-bookworm-slim from Debian's own mirror with debootstrap, plus Node from the npm registry's
# node-linux-<arch> package, plus a `node` user (uid 1000, home /home/node) as the official image has.
# Prints the image reference on stdout. The tag is a hash of this script and the Node version, so an
# unchanged base is never rebuilt. `bottle image build` runs it when no registry is reachable; it needs
# root, debootstrap, npm, a Debian mirror and the npm registry (it installs nothing on the host).
set -euo pipefail
NODE_VERSION="${BOTTLE_BASE_NODE_VERSION:-24}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
arch="$(uname -m)"; case "$arch" in x86_64) narch=x64;; aarch64) narch=arm64;; *) echo "unsupported arch $arch" >&2; exit 1;; esac
# An exact version (BOTTLE_BASE_NODE_VERSION=24.22.3) is taken as it is; a major is resolved on the registry.
if [[ "$NODE_VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then full="$NODE_VERSION"; else
full="$(npm view "node-linux-$narch@$NODE_VERSION" version --json 2>/dev/null | node -e '
  let v = JSON.parse(require("fs").readFileSync(0, "utf8")); if (!Array.isArray(v)) v = [v];
  const k = (s) => s.split(".").map(Number); v.sort((a, b) => { const x = k(a), y = k(b); return x[0] - y[0] || x[1] - y[1] || x[2] - y[2]; });
  console.log(v.at(-1) ?? "")')"
fi
[ -n "$full" ] || { echo "debian-base-image: cannot resolve node-linux-$narch@$NODE_VERSION on the npm registry" >&2; exit 1; }
tag="$( (cat "${BASH_SOURCE[0]}"; echo "$full $MIRROR ${BOTTLE_BASE_NPM_VERSION:-11}") | sha256sum | cut -c1-12)"
ref="bot-bottle-base:bookworm-node$full-$tag"
if docker image inspect "$ref" >/dev/null 2>&1; then echo "$ref"; exit 0; fi
# Exit 3: what the host lacks (the caller says how to get it).
[ "$(id -u)" = 0 ] || { echo "debian-base-image: needs root (debootstrap and chroot)" >&2; exit 3; }
command -v debootstrap >/dev/null || { echo "debian-base-image: needs debootstrap" >&2; exit 3; }
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
echo "debian-base-image: debootstrap bookworm (minbase)" >&2
debootstrap --variant=minbase --include=ca-certificates bookworm "$work/root" "$MIRROR" >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
cat > "$work/root/etc/apt/sources.list" <<SRC
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SRC
echo "debian-base-image: node $full from the npm registry" >&2
(cd "$work" && npm pack --silent "node-linux-$narch@$full" >/dev/null)
mkdir -p "$work/node" && tar -xzf "$work"/node-linux-*.tgz -C "$work/node"
cp "$work/node/package/bin/node" "$work/root/usr/local/bin/node"
# npm too, as the official node image has it (agent images install Claude Code with it).
(cd "$work" && npm pack --silent "npm@${BOTTLE_BASE_NPM_VERSION:-11}" >/dev/null)
mkdir -p "$work/root/usr/local/lib/node_modules/npm" && tar -xzf "$work"/npm-*.tgz -C "$work/root/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/root/usr/local/bin/npx"
chroot "$work/root" sh -c 'groupadd -g 1000 node && useradd -u 1000 -g node -s /bin/bash -m -d /home/node node && apt-get clean && rm -rf /var/lib/apt/lists/*'
tar -C "$work/root" -c . | docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -c 'CMD ["node"]' - "$ref" >/dev/null
echo "$ref"
