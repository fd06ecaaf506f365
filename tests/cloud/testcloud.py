"""A real OpenStack on 127.0.0.1 for the cloud tests and the bench (test harness): the processes.

Keystone, and per region (the main cloud and the DR centre) a Neutron and a
Cinder API: the PyPI releases, installed by ci/setup.d/70-cloud.sh into
their own virtualenv (their pinned dependencies would fight the project's),
configured by `services.py`, and run here as their WSGI applications under
gunicorn with one worker each: SQLite allows one writer, and there is no
message bus (`transport_url = fake:/`), so no agents, schedulers, servers or
volumes; the identity, networking and block-storage APIs are the real ones,
validation and database constraints included. Cinder answers for what lives
in its database: volume types and quotas.

After start the catalog names every endpoint in its region, and each
Neutron holds the default security-group rule templates a migration would
have inserted (added through the API, as an operator would).

    with TestCloud.start(tmp_dir) as cloud:
        conn = cloud.connect()          # admin, openstacksdk, main region
        cloud.clouds_yaml(path)         # a clouds.yaml for `yunwang verify cloud --cloud`
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.cloud.services import (
    ADMIN_PASSWORD,
    DR_REGION,
    REGION,
    REGIONS,
    VENV,
    CloudError,
    Service,
    bin_path,
    configure,
    keystone_setup,
    prepare_database,
    wsgi_app,
)

__all__ = ["DR_REGION", "REGION", "REGIONS", "VENV", "CloudError", "TestCloud"]

START_TIMEOUT_S = (
    600.0  # ~40 s idle; five services importing at once on a machine at load 50 took >300 s
)

# Neutron's own defaults for a project's `default` group (what its data
# migration inserts): traffic from members of the group, egress anywhere.
DEFAULT_RULE_TEMPLATES = [
    {"direction": "ingress", "ethertype": eth, "remote_group_id": "PARENT"}
    for eth in ("IPv4", "IPv6")
] + [{"direction": "egress", "ethertype": eth} for eth in ("IPv4", "IPv6")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class TestCloud:
    state: Path
    services: list[Service]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    __test__ = False  # not a pytest test class

    @property
    def auth_url(self) -> str:
        return self.services[0].catalog_url

    def auth(self, project: str = "admin") -> dict[str, Any]:
        return {
            "auth_url": self.auth_url,
            "username": "admin",
            "password": ADMIN_PASSWORD,
            "project_name": project,
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        }

    def connect(self, region: str = REGION) -> Any:
        import openstack

        return openstack.connect(
            auth=self.auth(), region_name=region, load_yaml_config=False, load_envvars=False
        )

    def clouds_yaml(self, path: Path, name: str = "testcloud") -> Path:
        """A clouds.yaml as a city keeps one: the password in it, the file mode 0600,
        both regions listed (openstacksdk's multi-region form; the first is the default)."""
        doc = {"clouds": {name: {"auth": self.auth(), "regions": list(REGIONS)}}}
        path.write_text(yaml.safe_dump(doc))
        path.chmod(0o600)
        return path

    def access_mark(self) -> dict[str, int]:
        """Where each service's access log ends now, for `requests_since`."""
        return {s.name: len(self._access(s.name)) for s in self.services}

    def requests_since(self, mark: dict[str, int]) -> list[str]:
        """Every request the services answered since `mark`, `METHOD PATH STATUS` per line."""
        return [line for s in self.services for line in self._access(s.name)[mark.get(s.name, 0) :]]

    def _access(self, service: str) -> list[str]:
        log = self.state / f"{service}-access.log"
        return log.read_text().splitlines() if log.exists() else []

    def stop(self) -> None:
        for proc in self.processes.values():
            proc.terminate()
        for proc in self.processes.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    @classmethod
    @contextmanager
    def start(cls, state: Path) -> Iterator[TestCloud]:
        state.mkdir(parents=True, exist_ok=True)
        names = ["keystone"] + [f"{k}-{r}" for r in REGIONS for k in ("neutron", "cinder")]
        cloud = cls(state, configure(state, {name: free_port() for name in names}))
        try:
            cloud._start()
            yield cloud
        finally:
            cloud.stop()

    def _start(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        keystone, *regional = self.services
        # Neutron and Cinder need nothing of Keystone until their first
        # request: their databases and their (slow) imports run while
        # Keystone is set up.
        with ThreadPoolExecutor(len(regional)) as pool:
            started = [pool.submit(self._launch, s) for s in regional]
            prepare_database(self.state, keystone)
            keystone_setup(self.state, keystone)
            self._launch(keystone)
            for future in started:
                future.result()  # a failure stops everything started (the caller's finally)
        self._wait(keystone, deadline)
        self._register_catalog(regional)
        for service in regional:
            self._wait(service, deadline)
            if service.type == "network":
                self._default_rule_templates(service.region)

    def _launch(self, service: Service) -> None:
        if service.name != "keystone":
            prepare_database(self.state, service)
        log = (self.state / f"{service.name}-gunicorn.log").open("wb")
        proc = subprocess.Popen(
            [
                bin_path("gunicorn"),
                "--workers=1",
                "--threads=8",  # parallel reads; SQLite writes are serialised by the one process
                f"--bind=127.0.0.1:{service.port}",
                f"--pythonpath={self.state}",
                "--timeout=120",
                f"--access-logfile={self.state}/{service.name}-access.log",
                "--access-logformat=%(m)s %(U)s %(s)s",
                wsgi_app(service),
            ],
            cwd=self.state,
            env={"PATH": f"{VENV}/bin:/usr/bin:/bin", "HOME": str(self.state), **dict(service.env)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes[service.name] = proc  # one key per thread: launches run in parallel

    def _wait(self, service: Service, deadline: float) -> None:
        proc = self.processes[service.name]
        log = self.state / f"{service.name}-gunicorn.log"
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise CloudError(f"{service.name} exited ({proc.returncode}); see {log}")
            try:
                with urllib.request.urlopen(f"{service.url}/", timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # 401 or 300: it answers
            except OSError:
                time.sleep(0.3)
        raise CloudError(f"{service.name} did not answer in {START_TIMEOUT_S:.0f} s; see {log}")

    def _register_catalog(self, regional: list[Service]) -> None:
        conn = self.connect()
        try:
            known = {r.id for r in conn.identity.regions()}
            for region in REGIONS:
                if region not in known:
                    conn.identity.create_region(id=region)
            # Keystone is global, but a client scoped to the DR region (the
            # `openstack` CLI listing quotas there) looks its endpoint up in
            # that region, as in a real multi-region catalog.
            identity = next(iter(conn.identity.services(type="identity")))
            for region in REGIONS[1:]:
                conn.identity.create_endpoint(
                    service_id=identity.id,
                    interface="public",
                    url=self.auth_url,
                    region_id=region,
                )
            names = {"network": "neutron", "block-storage": "cinder"}
            for kind in names:
                service = conn.identity.create_service(type=kind, name=names[kind], is_enabled=True)
                for s in (s for s in regional if s.type == kind):
                    conn.identity.create_endpoint(
                        service_id=service.id,
                        interface="public",
                        url=s.catalog_url,
                        region_id=s.region,
                    )
        finally:
            conn.close()

    def _default_rule_templates(self, region: str) -> None:
        conn = self.connect(region)
        try:
            for template in DEFAULT_RULE_TEMPLATES:
                body = {
                    "default_security_group_rule": {
                        **template,
                        "used_in_default_sg": True,
                        "used_in_non_default_sg": template["direction"] == "egress",
                    }
                }
                response = conn.network.post("/default-security-group-rules", json=body)
                if response.status_code >= 300:
                    raise CloudError(f"default rule template refused: {response.text[:200]}")
        finally:
            conn.close()
