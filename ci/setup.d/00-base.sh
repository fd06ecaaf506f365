#!/usr/bin/env bash
# Base tools every area uses. apt needs root; CI runs as root.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
    if [ "${CI:-}" = true ]; then
        # CI runs every real-component test: a tool it cannot install is a failure.
        echo "00-base.sh: not root, and under CI=true nothing may be skipped" >&2
        exit 1
    fi
    echo "not root: skipping apt installs (lab tests will skip)" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
need=()
for pkg in iproute2 iputils-ping procps; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
