#!/usr/bin/env bash
# Makes a docker engine available: installs Debian's docker.io when no engine is installed,
# starts dockerd when none answers, and waits until `docker info` works. Idempotent.
set -euo pipefail
if docker info >/dev/null 2>&1; then exit 0; fi
if ! command -v dockerd >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then echo "docker-engine: dockerd is missing; run as root or install Docker yourself" >&2; exit 1; fi
  echo "docker-engine: installing docker.io from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq docker.io >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then echo "docker-engine: the engine is not running; start it (e.g. 'sudo systemctl start docker')" >&2; exit 1; fi
  echo "docker-engine: starting dockerd" >&2
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
fi
docker info >/dev/null 2>&1 || { echo "docker-engine: dockerd did not come up; see /var/log/dockerd.log" >&2; exit 1; }
