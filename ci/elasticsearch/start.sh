#!/usr/bin/env bash
# Start one real Elasticsearch 8.x node on 127.0.0.1 and wait until it is healthy.
#   start.sh [--dir DIR] [--port 9200] [--heap 512m] [--setting KEY=VALUE]...
# --setting adds a node setting to elasticsearch.yml (static ones too, e.g.
# thread_pool.write.queue_size=1 or http.max_content_length=64kb for fault tests).
# DIR (default /tmp/yunwang-es) holds config, data, logs and es.pid; reusing it
# keeps the data (a restart). The distribution is fetched once by pom.xml into
# $YUNWANG_ES_CACHE (default /var/cache/yunwang/es). Elasticsearch refuses to
# run as root, so as root the JVM runs as the unprivileged user yunwang-es.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=/tmp/yunwang-es port=9200 heap=512m
settings=()
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) dir=$2; shift 2 ;;
        --port) port=$2; shift 2 ;;
        --heap) heap=$2; shift 2 ;;
        --setting)
            case "$2" in
                [a-z]*=*) settings+=("$2") ;;
                *) echo "start.sh: --setting $2: expected KEY=VALUE" >&2; exit 2 ;;
            esac
            shift 2 ;;
        *) echo "start.sh: unknown option $1 (expected --dir, --port, --heap, --setting)" >&2; exit 2 ;;
    esac
done
cache=${YUNWANG_ES_CACHE:-/var/cache/yunwang/es}
version=$(sed -n 's:.*<elasticsearch.version>\(.*\)</elasticsearch.version>.*:\1:p' "$here/pom.xml")
home="$cache/elasticsearch-$version"
if [ ! -x "$home/bin/elasticsearch" ]; then
    mkdir -p "$cache"
    mvn -q -B -f "$here/pom.xml" -Des.cache="$cache" process-resources >&2
fi
if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
    echo "start.sh: something already answers on 127.0.0.1:$port" >&2
    exit 1
fi
mkdir -p "$dir/data" "$dir/logs" "$dir/tmp"
rm -rf "$dir/config" && cp -r "$home/config" "$dir/config"
cat > "$dir/config/elasticsearch.yml" <<YML
cluster.name: yunwang
node.name: yunwang-es
network.host: 127.0.0.1
http.port: $port
transport.port: $((port + 100))
discovery.type: single-node
xpack.security.enabled: false
path.data: $dir/data
path.logs: $dir/logs
action.destructive_requires_name: false
YML
for setting in "${settings[@]}"; do
    printf '%s: %s\n' "${setting%%=*}" "${setting#*=}" >> "$dir/config/elasticsearch.yml"
done
run=()
if [ "$(id -u)" -eq 0 ]; then
    id yunwang-es >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin yunwang-es
    chown -R yunwang-es: "$dir"
    chmod o+rx "$cache" "$(dirname "$cache")" 2>/dev/null || true
    run=(setpriv --reuid=yunwang-es --regid="$(id -g yunwang-es)" --init-groups)
fi
# Debian 12's Java 17 when present (8.19 supports 17-24), else whatever `java` is.
if [ -z "${ES_JAVA_HOME:-}" ] && [ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ]; then
    ES_JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64
fi
java_home=${ES_JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}
rm -f "$dir/es.pid"
ES_PATH_CONF="$dir/config" ES_TMPDIR="$dir/tmp" ES_JAVA_HOME="$java_home" \
    ES_JAVA_OPTS="-Xms$heap -Xmx$heap ${ES_EXTRA_JAVA_OPTS:-}" \
    "${run[@]}" "$home/bin/elasticsearch" -d -p "$dir/es.pid" >"$dir/logs/launcher.log" 2>&1 </dev/null
for _ in $(seq 1 240); do
    if curl -s "http://127.0.0.1:$port/_cluster/health?wait_for_status=yellow&timeout=1s" 2>/dev/null | grep -q '"status":"\(green\|yellow\)"'; then
        echo "elasticsearch $version on http://127.0.0.1:$port (pid $(cat "$dir/es.pid"))"
        exit 0
    fi
    sleep 0.5
done
echo "start.sh: elasticsearch did not become healthy; see $dir/logs" >&2
exit 1
