#!/usr/bin/env bash
# Security area: Debian's Alertmanager (delivery tests), Maven + Java 17 and
# a real Elasticsearch 8.x node fetched once into /var/cache/yunwang/es
# (ci/elasticsearch/pom.xml), and the unprivileged user its JVM runs as.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
    if [ "${CI:-}" = true ]; then
        # CI runs every real-component test: a tool it cannot install is a failure.
        echo "50-security.sh: not root, and under CI=true nothing may be skipped" >&2
        exit 1
    fi
    echo "not root: skipping security setup (alertmanager/elasticsearch tests will skip)" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
need=()
for pkg in prometheus-alertmanager openjdk-17-jre-headless maven curl unzip; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# The Debian package enables a system alertmanager on :9093; tests start their own.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus-alertmanager 2>/dev/null; then
    systemctl stop prometheus-alertmanager || true
    systemctl disable prometheus-alertmanager 2>/dev/null || true
fi
id yunwang-es >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin yunwang-es
cache=${YUNWANG_ES_CACHE:-/var/cache/yunwang/es}
version=$(sed -n 's:.*<elasticsearch.version>\(.*\)</elasticsearch.version>.*:\1:p' "$here/elasticsearch/pom.xml")
if [ ! -x "$cache/elasticsearch-$version/bin/elasticsearch" ]; then
    mkdir -p "$cache"
    mvn -q -B -f "$here/elasticsearch/pom.xml" -Des.cache="$cache" process-resources
fi
chmod o+rx "$cache" "$(dirname "$cache")"
echo "elasticsearch $version ready in $cache"
