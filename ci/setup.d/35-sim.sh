#!/usr/bin/env bash
# Simulated devices (monitors/sim): snmpsim and its recordings in the venv,
# net-snmp's command-line tools for the tests that walk the simulator.
# Idempotent; the simulator itself needs no root and no system package.
set -euo pipefail
venv=${1:-.venv}

if [ "$(id -u)" -eq 0 ]; then
    if ! dpkg -s snmp >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends snmp
    fi
else
    if [ "${CI:-}" = true ]; then
        # CI runs every real-component test: a tool it cannot install is a failure.
        echo "35-sim.sh: not root, and under CI=true nothing may be skipped" >&2
        exit 1
    fi
    command -v snmpbulkwalk >/dev/null || echo "not root: install net-snmp's tools (apt-get install snmp) for tests/sim" >&2
fi

# Declared in pyproject.toml too; repeated so a venv made before they were added catches up.
"$venv/bin/pip" install -q "snmpsim>=1.1,<2" "snmpsim-data>=1.0,<2" "cryptography>=43"
