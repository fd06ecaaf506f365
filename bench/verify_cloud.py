"""Bench: `yunwang verify cloud` against the `openstack` CLI listing the same objects.

    .venv/bin/python bench/verify_cloud.py [--estate examples/puyang.yaml] [--synthetic 0] [--repeat 3]

Starts the real test cloud (tests/cloud/testcloud.py: Keystone, and Neutron
and Cinder in each of the two regions), deploys the estate into it as
planned (tests/cloud/translate.py, Neutron's big kinds in bulk POSTs; the
full Puyang estate by default), then
times, for the estate and, with --synthetic N, again after adding a load of
Neutron objects (bulk-created networks, subnets and security-group rules):

- `verify`: the product path, `yunwang verify cloud ESTATE --cloud FILE --json`
  as a command (interpreter start, planning, reads, comparison, store);
- `verify reads`: `infra.verify.verify` alone, in-process, with the plan made
  beforehand (the reads and the comparison);
- `openstack CLI`: python-openstackclient (the cloud's venv) listing the same
  collections, one command per collection and region, as an operator would
  script it (`quota list --volume` reads every project's Cinder quota).

API calls are counted from the services' own access logs (tokens included).
Medians of --repeat runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from estate import load  # noqa: E402
from infra.planning import plan_estates  # noqa: E402
from infra.verify import ReadOnlyCloud, verify  # noqa: E402
from tests.cloud.testcloud import REGIONS, VENV, TestCloud  # noqa: E402
from tests.cloud.translate import Translator  # noqa: E402

# The collections `verify cloud` reads, as `openstack` commands: Keystone's once,
# the regional ones in each region.
CLI_IDENTITY = [
    "project list",
    "group list",
    "role list",
    "user list",
    "role assignment list",
]
CLI_REGIONAL = [
    "network list",
    "network segment list",
    "subnet list",
    "router list",
    "port list",
    "security group list",
    "security group rule list",
    "address group list",
    "network qos policy list",
    "network rbac list",
    "quota list --network",
    "volume type list --long",
    "quota list --volume",
]
BULK = 200  # objects per bulk POST
DRIFTS_OUT: Path | None = None  # --drifts FILE


def synthetic(conn: Any, count: int) -> int:
    """`count` extra Neutron objects: 1/4 networks, 1/4 subnets, 1/2 group rules.

    They go into a project of their own with room for them: the admin
    project's quota is the program's (`admin-network-quota`), sized for the estate.
    """
    project = conn.identity.create_project(name="bench-synthetic", domain_id="default").id
    room = {"network": count, "subnet": count, "security_group_rule": count + 10}
    conn.network.put(f"/quotas/{project}", json={"quota": room}).raise_for_status()
    made = 0
    nets = count // 4
    ids: list[str] = []
    for start in range(0, nets, BULK):
        body: dict[str, list[dict[str, Any]]] = {
            "networks": [
                {"name": f"bench-{i}", "project_id": project}
                for i in range(start, min(nets, start + BULK))
            ]
        }
        ids += [n["id"] for n in conn.network.post("/networks", json=body).json()["networks"]]
    made += len(ids)
    for start in range(0, len(ids), BULK):
        body = {
            "subnets": [
                {
                    "network_id": nid,
                    "ip_version": 4,
                    "cidr": f"198.18.{i % 256}.0/24",
                    "name": f"bench-{i}",
                    "project_id": project,
                }
                for i, nid in enumerate(ids[start : start + BULK], start)
            ]
        }
        made += len(conn.network.post("/subnets", json=body).json()["subnets"])
    group = conn.network.post(
        "/security-groups", json={"security_group": {"name": "bench", "project_id": project}}
    )
    gid = group.json()["security_group"]["id"]
    rules = count - made
    for start in range(0, rules, BULK):
        body = {
            "security_group_rules": [
                {
                    "security_group_id": gid,
                    "direction": "ingress",
                    "ethertype": "IPv4",
                    "protocol": "tcp",
                    "port_range_min": 1000 + i,
                    "port_range_max": 1000 + i,
                    "remote_ip_prefix": "198.18.0.0/15",
                    "project_id": project,
                }
                for i in range(start, min(rules, start + BULK))
            ]
        }
        made += len(
            conn.network.post("/security-group-rules", json=body).json()["security_group_rules"]
        )
    return made


def timed(cloud: TestCloud, run: Any) -> tuple[float, int]:
    mark = cloud.access_mark()
    started = time.perf_counter()
    run()
    return time.perf_counter() - started, len(cloud.requests_since(mark))


def bench(
    cloud: TestCloud, clouds_yaml: Path, estate_file: Path, plan: Any, repeat: int
) -> dict[str, tuple[float, int]]:
    estate = load(estate_file)
    env = {**os.environ, "YUNWANG_HOME": tempfile.mkdtemp(prefix="yw-bench-")}

    def command() -> None:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "yunwang",
                "verify",
                "cloud",
                str(estate_file),
                "--cloud",
                str(clouds_yaml),
                "--json",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if not done.stdout.strip():  # exit 1 is drift (a report) or a one-line failure
            raise SystemExit(
                f"verify cloud failed ({done.returncode}): {done.stderr.strip()[-300:]}"
            )
        doc = json.loads(done.stdout)
        print(
            f"verify cloud: {sum(doc['checked'].values())} declared objects compared, "
            f"{len(doc['drifts'])} drifts, {doc['api_calls']} GETs",
            file=sys.stderr,
        )
        if DRIFTS_OUT is not None:  # every drift in full, to explain it after the run
            DRIFTS_OUT.write_text(json.dumps(doc["drifts"], indent=1, ensure_ascii=False))
        kinds = Counter(f"{d['finding']} {d['kind']}" for d in doc["drifts"])
        for kind, count in sorted(kinds.items()):
            print(f"  {count} {kind}", file=sys.stderr)

    def reads() -> None:
        def connect(region: str) -> Any:
            import openstack

            return openstack.connect(
                auth=cloud.auth(), region_name=region, load_yaml_config=False, load_envvars=False
            )

        reader = ReadOnlyCloud(connect)
        verify(estate, reader, plan)
        reader.close()

    def cli() -> None:
        cli_env = {**os.environ, "OS_CLOUD": "testcloud", "OS_CLIENT_CONFIG_FILE": str(clouds_yaml)}
        lines = [(REGIONS[0], line) for line in CLI_IDENTITY]
        lines += [(region, line) for region in REGIONS for line in CLI_REGIONAL]
        for region, line in lines:
            done = subprocess.run(
                [
                    str(VENV / "bin" / "openstack"),
                    "--os-region-name",
                    region,
                    *line.split(),
                    "-f",
                    "value",
                ],
                env=cli_env,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:  # the peer's failure is reported, the timing kept
                why = (done.stderr.strip().splitlines() or ["?"])[-1]
                print(f"openstack {line} ({region}) failed: {why}", file=sys.stderr)

    results: dict[str, tuple[float, int]] = {}
    for name, run in (("verify", command), ("verify reads", reads), ("openstack CLI", cli)):
        runs = [timed(cloud, run) for _ in range(repeat)]
        results[name] = (
            statistics.median(r[0] for r in runs),
            int(statistics.median(r[1] for r in runs)),
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--estate", type=Path, default=ROOT / "examples" / "puyang.yaml")
    parser.add_argument("--synthetic", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--drifts", type=Path, help="write verify's drifts as JSON here")
    args = parser.parse_args()
    global DRIFTS_OUT
    DRIFTS_OUT = args.drifts
    estate_file = args.estate.resolve()
    plan = plan_estates([load(estate_file)], workers=1)[0]
    with (
        tempfile.TemporaryDirectory(prefix="yw-cloud-bench-") as tmp,
        TestCloud.start(Path(tmp) / "cloud") as cloud,
    ):
        conn = cloud.connect()
        conn.identity.create_user(name="yunwang-deployer", domain_id="default", password="unused")
        started = time.perf_counter()
        outcome = Translator(cloud.connect, plan, REGIONS, bulk=True).run()
        for defect in outcome.defects:  # each becomes a drift the run below reports
            print(f"defect: {defect}", file=sys.stderr)
        print(
            f"deployed {len(outcome.created)} objects of {estate_file.name} "
            f"in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
        clouds_yaml = cloud.clouds_yaml(Path(tmp) / "clouds.yaml")
        label = estate_file.stem
        runs = bench(cloud, clouds_yaml, estate_file, plan, args.repeat)
        rows = [(label, len(outcome.created), runs)]
        if args.synthetic:
            added = synthetic(conn, args.synthetic)
            runs = bench(cloud, clouds_yaml, estate_file, plan, args.repeat)
            rows.append((f"{label} + {added} synthetic", len(outcome.created) + added, runs))
        conn.close()
    print("| objects in the cloud | path | median s | API requests | vs openstack CLI |")
    print("|---|---|---:|---:|---:|")
    for label, objects, results in rows:
        peer = results["openstack CLI"][0]
        for name, (seconds, calls) in results.items():
            print(
                f"| {label} ({objects}) | {name} | {seconds:.2f} | {calls} | {seconds / peer:.2f}x |"
            )


if __name__ == "__main__":
    main()
