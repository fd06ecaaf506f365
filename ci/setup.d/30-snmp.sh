#!/usr/bin/env bash
# SNMP area: net-snmp agent and tools, Go snmp_exporter (the performance peer),
# snmpsim + its recordings in the venv, and the recordings the tests use
# decompressed into a cache outside the repo (indexing large ones takes minutes).
set -euo pipefail
venv=${1:-.venv}
cache=${YUNWANG_SNMP_CACHE:-/var/cache/yunwang/snmpsim}

if [ "$(id -u)" -eq 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    need=()
    for pkg in snmpd snmp prometheus-snmp-exporter; do
        dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
    done
    if [ ${#need[@]} -gt 0 ]; then
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${need[@]}"
    fi
    # Debian starts both daemons on install; the tests start their own.
    for unit in snmpd prometheus-snmp-exporter; do
        systemctl disable --now "$unit" >/dev/null 2>&1 || true
    done
else
    if [ "${CI:-}" = true ]; then
        # CI runs every real-component test: a tool it cannot install is a failure.
        echo "30-snmp.sh: not root, and under CI=true nothing may be skipped" >&2
        exit 1
    fi
    echo "not root: skipping apt installs for snmp" >&2
fi

"$venv/bin/pip" install -q "snmpsim>=1.1,<2" "snmpsim-data>=1.0,<2"

# The recordings the vendor-profile tests serve (paths inside snmpsim-data).
data=$("$venv/bin/python" -c 'import snmpsim_data, os; print(os.path.dirname(snmpsim_data.__file__))')
mkdir -p "$cache"
"$venv/bin/python" -m monitors.snmp.recordings install "$data" "$cache"
