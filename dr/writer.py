"""The drill's application: commits timestamped rows at a steady rate.

Shipped to a host and run there (`python3 - ARGS < writer.py`), with only
the host's Python and psycopg2. It connects with libpq's multi-host list and
`target_session_attrs=read-write`, as a real application pointed at both
sides would: when the primary is cut it keeps reconnecting until the
promoted standby accepts writes. One JSON line per acknowledged commit goes
to stdout (seq, wall-clock time, which server), and the last line sums up.
The password comes on stdin's first line, never on the command line.
"""

import json
import sys
import time

import psycopg2  # type: ignore[import-untyped,import-not-found,unused-ignore]


def main() -> int:
    hosts, database, user, rate, duration, first = sys.argv[1:7]
    password = sys.stdin.readline().rstrip("\n")
    dsn = (
        f"host={hosts} dbname={database} user={user} password={password} "
        "target_session_attrs=read-write connect_timeout=1 sslmode=require"
    )
    interval = 1.0 / float(rate)
    ends = time.time() + float(duration)
    # Each drill numbers its rows on from the last one's: rows an earlier drill
    # left on a standby that stopped streaming are never counted as this one's.
    seq = int(first) - 1
    conn = None
    while time.time() < ends:
        try:
            if conn is None:
                conn = psycopg2.connect(dsn)
            server = conn.info.host
            started = time.time()
            with conn.cursor() as cur:
                cur.execute(
                    # A commit whose ack the cut lost may have reached the standby.
                    "INSERT INTO drill_rows (seq, committed_at) VALUES (%s, %s) "
                    "ON CONFLICT (seq) DO UPDATE SET committed_at = EXCLUDED.committed_at",
                    (seq + 1, started),
                )
            conn.commit()
            seq += 1
            print(json.dumps({"seq": seq, "at": time.time(), "server": server}), flush=True)
        except psycopg2.Error as exc:
            print(json.dumps({"error": str(exc).strip()[:200], "at": time.time()}), flush=True)
            try:
                if conn is not None:
                    conn.close()
            except psycopg2.Error:
                pass
            conn = None
            time.sleep(0.05)
            continue
        time.sleep(max(0.0, started + interval - time.time()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
