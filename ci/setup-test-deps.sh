#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine: every script in
# ci/setup.d runs in order with the virtualenv path as $1. Each script is
# idempotent and owned by one area (lab, snmp, packets, elasticsearch...).
set -euo pipefail
venv=${1:-.venv}
here=$(cd "$(dirname "$0")" && pwd)
for script in "$here"/setup.d/*.sh; do
    [ -e "$script" ] || continue
    echo "== $(basename "$script")"
    bash "$script" "$venv"
done
