#!/usr/bin/env bash
# The lab: FRR routers, snmpd agents and debootstrap hosts in network namespaces.
# Idempotent. Runs as root in CI with the venv path as $1; the Debian rootfs for
# lab hosts is built once into /var/cache/yunwang/rootfs (outside the repo).
set -euo pipefail
venv=${1:-.venv}
if [ "$(id -u)" -ne 0 ]; then
    if [ "${CI:-}" = true ]; then
        # CI runs every real-component test: a tool it cannot install is a failure.
        echo "20-lab.sh: not root, and under CI=true nothing may be skipped" >&2
        exit 1
    fi
    echo "not root: skipping lab packages (lab tests will skip)" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
need=()
for pkg in frr frr-snmp snmpd snmp debootstrap openssh-client iproute2 iputils-ping procps; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# Debian starts the packaged daemons on install; the lab runs its own per
# namespace and must not share the host's. Stopping them is harmless when absent.
for unit in frr snmpd; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$unit" 2>/dev/null; then
        systemctl stop "$unit" || true
    fi
done
# Build (or reuse) the cached host root filesystem through the lab's own builder,
# so CI and `yunwang lab up` share one implementation.
"$venv/bin/python" -c 'import sys; from lab.rootfs import main; sys.exit(main(["--ensure"]))'
