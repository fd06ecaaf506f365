#!/usr/bin/env bash
# Stop the node start.sh started in DIR (by its pid file, never by name).
#   stop.sh [--dir DIR] [--keep-data]
set -euo pipefail
dir=/tmp/yunwang-es keep=0
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) dir=$2; shift 2 ;;
        --keep-data) keep=1; shift ;;
        *) echo "stop.sh: unknown option $1 (expected --dir, --keep-data)" >&2; exit 2 ;;
    esac
done
if [ -s "$dir/es.pid" ]; then
    pid=$(cat "$dir/es.pid")
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    fi
    rm -f "$dir/es.pid"
fi
[ "$keep" -eq 1 ] || rm -rf "$dir"
