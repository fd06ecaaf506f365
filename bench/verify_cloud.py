"""Bench: `yunwang verify cloud` against the `openstack` CLI listing the same objects.

    .venv/bin/python bench/verify_cloud.py [--synthetic 3000] [--repeat 3]

Starts the real test cloud (tests/cloud/testcloud.py), deploys
examples/small.yaml into it as planned (tests/cloud/translate.py), then
times, for the small estate and again after adding a synthetic load of
Neutron objects (bulk-created networks, subnets and security-group rules):

- `verify`: the product path, `yunwang verify cloud ESTATE --cloud FILE --json`
  as a command (interpreter start, planning, reads, comparison, store);
- `verify reads`: `infra.verify.verify` alone, in-process, with the plan made
  beforehand (the reads and the comparison);
- `openstack CLI`: python-openstackclient (the cloud's venv) listing the same
  collections, one command per collection, as an operator would script it.

API calls are counted from the services' own access logs (tokens included).
Medians of --repeat runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from estate import load  # noqa: E402
from infra.planning import plan_estates  # noqa: E402
from infra.verify import ReadOnlyCloud, verify  # noqa: E402
from tests.cloud.testcloud import REGION, VENV, TestCloud  # noqa: E402
from tests.cloud.translate import Translator  # noqa: E402

# The collections `verify cloud` reads, as `openstack` commands.
CLI_LISTS = [
    "project list",
    "group list",
    "role list",
    "user list",
    "role assignment list",
    "network list",
    "network segment list",
    "subnet list",
    "router list",
    "port list --device-owner network:router_interface",
    "security group list",
    "security group rule list",
    "address group list",
    "network qos policy list",
    "network rbac list",
    "quota list --network",
]
BULK = 200  # objects per bulk POST


def synthetic(conn: Any, count: int) -> int:
    """`count` extra Neutron objects: 1/4 networks, 1/4 subnets, 1/2 group rules."""
    made = 0
    nets = count // 4
    ids: list[str] = []
    for start in range(0, nets, BULK):
        body = {"networks": [{"name": f"bench-{i}"} for i in range(start, min(nets, start + BULK))]}
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
                }
                for i, nid in enumerate(ids[start : start + BULK], start)
            ]
        }
        made += len(conn.network.post("/subnets", json=body).json()["subnets"])
    group = conn.network.post("/security-groups", json={"security_group": {"name": "bench"}})
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
    cloud: TestCloud, clouds_yaml: Path, plan: Any, repeat: int
) -> dict[str, tuple[float, int]]:
    estate = load(ROOT / "examples" / "small.yaml")
    env = {**os.environ, "YUNWANG_HOME": tempfile.mkdtemp(prefix="yw-bench-")}

    def command() -> None:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "yunwang",
                "verify",
                "cloud",
                "examples/small.yaml",
                "--cloud",
                str(clouds_yaml),
                "--json",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            check=False,
        )

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
        for line in CLI_LISTS:
            subprocess.run(
                [str(VENV / "bin" / "openstack"), *line.split(), "-f", "value"],
                env=cli_env,
                capture_output=True,
                check=True,
            )

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
    parser.add_argument("--synthetic", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    plan = plan_estates([load(ROOT / "examples" / "small.yaml")], workers=1)[0]
    with (
        tempfile.TemporaryDirectory(prefix="yw-cloud-bench-") as tmp,
        TestCloud.start(Path(tmp) / "cloud") as cloud,
    ):
        conn = cloud.connect()
        conn.identity.create_user(name="yunwang-deployer", domain_id="default", password="unused")
        outcome = Translator(conn, plan, REGION).run()
        clouds_yaml = cloud.clouds_yaml(Path(tmp) / "clouds.yaml")
        rows = [
            ("small estate", len(outcome.created), bench(cloud, clouds_yaml, plan, args.repeat))
        ]
        added = synthetic(conn, args.synthetic)
        rows.append(
            (
                f"small + {added} synthetic",
                len(outcome.created) + added,
                bench(cloud, clouds_yaml, plan, args.repeat),
            )
        )
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
