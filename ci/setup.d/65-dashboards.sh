#!/usr/bin/env bash
# Dashboards area: Debian's Prometheus (promtool check/test rules, a real
# server scraping `yunwang watch` for the Grafana panel queries), amtool (in
# prometheus-alertmanager) and headless Chromium + chromedriver for the
# browser test of the web view, and a CJK font so its screenshots show Chinese.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
    if [ "${CI:-}" = true ]; then
        # CI runs every real-component test: a tool it cannot install is a failure.
        echo "65-dashboards.sh: not root, and under CI=true nothing may be skipped" >&2
        exit 1
    fi
    echo "not root: skipping dashboards setup (browser and Prometheus tests will fail)" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
need=()
for pkg in prometheus prometheus-alertmanager chromium chromium-driver fonts-wqy-microhei; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${need[@]}"
fi
# The Debian packages start system services on :9090/:9093; tests start their own.
if command -v systemctl >/dev/null 2>&1; then
    for unit in prometheus prometheus-alertmanager; do
        if systemctl is-active --quiet "$unit" 2>/dev/null; then
            systemctl stop "$unit" || true
            systemctl disable "$unit" 2>/dev/null || true
        fi
    done
fi
