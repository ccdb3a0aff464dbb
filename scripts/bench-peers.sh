#!/usr/bin/env bash
# bench-peers.sh — installs the benchmark peers (bench/run.ts): Debian's etcd-server (3.4) and
# redis-server (7.0). Needs root (apt-get); does nothing for a peer already installed.
# The packages' own services are stopped and disabled again where a service manager runs them:
# the benchmark starts its own instances on loopback with data in a temp dir.
set -euo pipefail

need=()
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ ${#need[@]} -eq 0 ]; then
  echo "bench peers already installed: $(command -v etcd) $(command -v redis-server)"
  exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else echo "bench-peers: need root (or sudo) to install ${need[*]}" >&2; exit 1; fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# policy-rc.d 101 keeps the packages' init scripts from starting daemons during install.
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod +x "$policy"
  made_policy=1
fi
trap 'if [ -n "$made_policy" ]; then $SUDO rm -f "$policy"; fi' EXIT
$SUDO apt-get install -y --no-install-recommends "${need[@]}"

if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  for s in etcd redis-server; do $SUDO systemctl disable --now "$s" >/dev/null 2>&1 || true; done
fi
echo "bench peers: etcd $(etcd --version 2>/dev/null | head -1 || echo missing); $(redis-server --version 2>/dev/null || echo redis missing)"
