#!/usr/bin/env bash
# Packet sensors: tshark is the benchmark peer (bench/packets_bench.py) and
# tcpdump is handy for looking at a namespace while a lab test runs. scapy
# comes from pyproject. Idempotent; needs root for apt (CI runs as root).
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
    if [ "${CI:-}" = true ]; then
        # CI runs every real-component test: a tool it cannot install is a failure.
        echo "40-packets.sh: not root, and under CI=true nothing may be skipped" >&2
        exit 1
    fi
    echo "not root: skipping apt installs for packets (lab tests will skip)" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
venv=${1:-.venv}
need=()
# gcc and Python's headers: `make compile` builds the sensor's per-frame
# modules with mypyc (monitors/packets/compiled.py).
for pkg in tshark tcpdump gcc; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
include=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
[ -f "$include/Python.h" ] || need+=(python3-dev)
if [ ${#need[@]} -gt 0 ]; then
    # tshark's postinst asks whether non-root users may capture: answer no.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
