#!/usr/bin/env bash
# Dual-link rollouts: the dual_links role applies FRR configuration with
# frr-reload.py, which Debian ships in frr-pythontools (not in frr). Idempotent.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
    if [ "${CI:-}" = true ]; then
        echo "22-rollout.sh: not root, and under CI=true nothing may be skipped" >&2
        exit 1
    fi
    echo "not root: skipping frr-pythontools (rollout lab tests will skip)" >&2
    exit 0
fi
if ! dpkg -s frr-pythontools >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends frr-pythontools
fi
