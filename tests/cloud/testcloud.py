"""A real Keystone + Neutron on 127.0.0.1 for the cloud tests and the bench (test harness).

Both are the PyPI releases, installed by ci/setup.d/70-cloud.sh into their
own virtualenv (their pinned dependencies would fight the project's), and run
as their WSGI applications under gunicorn with one worker each: SQLite allows
one writer, and there is no message bus (`transport_url = fake:/`), so no
agents, no servers, no volumes; the identity and networking APIs are the real
ones, validation and database constraints included.

Neutron's alembic migrations do not run on SQLite, so its schema is created
from the models (`get_metadata().create_all`) and stamped at head; the
default security-group rule templates that a migration would insert are then
added through the API, as an operator would.

    with TestCloud.start(tmp_dir) as cloud:
        conn = cloud.connect()          # admin, openstacksdk
        cloud.clouds_yaml()             # a clouds.yaml for `yunwang verify cloud --cloud`
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

VENV = Path(os.environ.get("YUNWANG_OPENSTACK_VENV", "/var/cache/yunwang/openstack-venv"))
ADMIN_PASSWORD = "yunwang-test-admin"  # a throwaway cloud on loopback, gone after the session
REGION = "puyang-main"  # the small estate's main region: the program's resources name it
PHYSICAL_NETWORK = "extranet"
START_TIMEOUT_S = 300.0  # a cold start on an idle machine is ~40 s; CI machines are busy
TEMPLATES = VENV.parent / "openstack-templates"
SERVICES = ("keystone", "neutron")
KEYSTONE_USER = ["--keystone-user", "root", "--keystone-group", "root"]

# Neutron's own defaults for a project's `default` group (what its data
# migration inserts): traffic from members of the group, egress anywhere.
DEFAULT_RULE_TEMPLATES = [
    {"direction": "ingress", "ethertype": eth, "remote_group_id": "PARENT"}
    for eth in ("IPv4", "IPv6")
] + [{"direction": "egress", "ethertype": eth} for eth in ("IPv4", "IPv6")]

KEYSTONE_CONF = """\
[DEFAULT]
log_file = {state}/keystone.log
[database]
connection = sqlite:///{state}/keystone.db
[token]
provider = fernet
[fernet_tokens]
key_repository = {state}/fernet-keys
[credential]
key_repository = {state}/credential-keys
[identity]
password_hash_algorithm = bcrypt
# The minimum: a test cloud's passwords protect nothing, and each login pays it.
password_hash_rounds = 4
[cache]
enabled = true
backend = dogpile.cache.memory
"""

NEUTRON_CONF = """\
[DEFAULT]
log_file = {state}/neutron.log
core_plugin = ml2
service_plugins = router,qos,segments
auth_strategy = keystone
transport_url = fake:/
allow_overlapping_ips = true
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
api_workers = 0
api_paste_config = {venv}/etc/neutron/api-paste.ini
rpc_workers = 0
[database]
connection = sqlite:///{state}/neutron.db
[oslo_concurrency]
lock_path = {state}/lock
[keystone_authtoken]
www_authenticate_uri = {auth_url}
auth_url = {auth_url}
auth_type = password
username = admin
password = {password}
project_name = admin
user_domain_name = Default
project_domain_name = Default
interface = public
memcached_servers =
[ml2]
type_drivers = flat,vlan,vxlan
tenant_network_types = vxlan
mechanism_drivers = openvswitch
extension_drivers = port_security,qos
[ml2_type_vlan]
network_vlan_ranges = {physnet}:1:4094
[ml2_type_vxlan]
vni_ranges = 1:100000
[securitygroup]
enable_security_group = true
[quotas]
quota_network = 1000
quota_subnet = 1000
quota_port = 5000
quota_router = 1000
quota_security_group = 1000
quota_security_group_rule = 10000
"""

WSGI_WRAPPER = """\
# gunicorn's argv would be parsed as the service's own options: clear it first.
import sys

sys.argv = sys.argv[:1]
from {module} import application  # noqa: E402
"""


class CloudError(Exception):
    """The test cloud did not start; the message names the log to read."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class TestCloud:
    state: Path
    keystone_url: str
    neutron_url: str
    processes: list[subprocess.Popen[bytes]]

    __test__ = False  # not a pytest test class

    @property
    def auth_url(self) -> str:
        return f"{self.keystone_url}/v3"

    def auth(self, project: str = "admin") -> dict[str, Any]:
        return {
            "auth_url": self.auth_url,
            "username": "admin",
            "password": ADMIN_PASSWORD,
            "project_name": project,
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        }

    def connect(self) -> Any:
        import openstack

        return openstack.connect(
            auth=self.auth(),
            region_name=REGION,
            load_yaml_config=False,
            load_envvars=False,
        )

    def clouds_yaml(self, path: Path, name: str = "testcloud") -> Path:
        """A clouds.yaml as a city keeps one: the password in it, the file mode 0600."""
        doc = {"clouds": {name: {"auth": self.auth(), "region_name": REGION}}}
        path.write_text(yaml.safe_dump(doc))
        path.chmod(0o600)
        return path

    def access_mark(self) -> dict[str, int]:
        """Where each service's access log ends now, for `requests_since`."""
        return {service: len(self._access(service)) for service in SERVICES}

    def requests_since(self, mark: dict[str, int]) -> list[str]:
        """Every request both services answered since `mark`, `METHOD PATH STATUS` per line."""
        return [line for s in SERVICES for line in self._access(s)[mark.get(s, 0) :]]

    def _access(self, service: str) -> list[str]:
        log = self.state / f"{service}-access.log"
        return log.read_text().splitlines() if log.exists() else []

    def stop(self) -> None:
        for proc in self.processes:
            proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    @classmethod
    @contextmanager
    def start(cls, state: Path) -> Iterator[TestCloud]:
        cloud = _start(state)
        try:
            yield cloud
        finally:
            cloud.stop()


def _bin(name: str) -> str:
    path = VENV / "bin" / name
    if not path.exists():
        raise CloudError(f"{path} missing: run ci/setup.d/70-cloud.sh")
    return str(path)


def _run(args: list[str], state: Path, what: str) -> None:
    result = subprocess.run(args, cwd=state, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:]
        raise CloudError(f"{what} failed ({result.returncode}): {' '.join(tail)}")


def _gunicorn(state: Path, service: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = (state / f"{service}-gunicorn.log").open("wb")
    return subprocess.Popen(
        [
            _bin("gunicorn"),
            "--workers=1",
            "--threads=8",  # parallel reads; SQLite writes are serialised by the one process
            f"--bind=127.0.0.1:{port}",
            f"--pythonpath={state}",
            "--timeout=120",
            f"--access-logfile={state}/{service}-access.log",
            "--access-logformat=%(m)s %(U)s %(s)s",
            f"yw_{service}_wsgi:application",
        ],
        cwd=state,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path, deadline: float) -> None:
    import urllib.error
    import urllib.request

    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CloudError(f"{url} exited ({proc.returncode}); see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # 401 or 300: it answers
        except OSError:
            time.sleep(0.3)
    raise CloudError(f"{url} did not answer in {START_TIMEOUT_S:.0f} s; see {log}")


def _start(state: Path) -> TestCloud:
    deadline = time.monotonic() + START_TIMEOUT_S
    state.mkdir(parents=True, exist_ok=True)
    (state / "lock").mkdir(exist_ok=True)
    kport, nport = free_port(), free_port()
    keystone_url = f"http://127.0.0.1:{kport}"
    neutron_url = f"http://127.0.0.1:{nport}"
    values = {
        "state": state,
        "auth_url": f"{keystone_url}/v3",
        "password": ADMIN_PASSWORD,
        "physnet": PHYSICAL_NETWORK,
        "venv": VENV,
    }
    (state / "keystone.conf").write_text(KEYSTONE_CONF.format(**values))
    (state / "neutron.conf").write_text(NEUTRON_CONF.format(**values))
    (state / "yw_keystone_wsgi.py").write_text(WSGI_WRAPPER.format(module="keystone.wsgi.api"))
    (state / "yw_neutron_wsgi.py").write_text(WSGI_WRAPPER.format(module="neutron.wsgi.api"))
    env = {
        "PATH": f"{VENV}/bin:/usr/bin:/bin",
        "HOME": str(state),
        "OS_KEYSTONE_CONFIG_FILES": str(state / "keystone.conf"),
        "OS_NEUTRON_CONFIG_FILES": str(state / "neutron.conf"),
    }
    kconf = ["--config-file", str(state / "keystone.conf")]
    manage = _bin("keystone-manage")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        # Neutron needs nothing of Keystone until its first request: its
        # database and its (slow) import run while Keystone is set up.
        with ThreadPoolExecutor(1) as pool:
            neutron = pool.submit(_neutron_up, state, nport, env)
            # Whatever fails below, a Neutron that did start is stopped with the rest.
            neutron.add_done_callback(lambda f: f.exception() or processes.append(f.result()))
            _cached(state, "keystone.db", [manage, *kconf, "db_sync"])
            # The two key repositories are independent; bootstrap reads the
            # fernet keys, so it waits for both (run beside them it raced).
            _run_all(
                state,
                [
                    [manage, *kconf, "fernet_setup", *KEYSTONE_USER],
                    [manage, *kconf, "credential_setup", *KEYSTONE_USER],
                ],
            )
            _run_all(
                state,
                [
                    [
                        manage,
                        *kconf,
                        "bootstrap",
                        "--bootstrap-password",
                        ADMIN_PASSWORD,
                        "--bootstrap-public-url",
                        f"{keystone_url}/v3",
                        "--bootstrap-region-id",
                        REGION,
                    ],
                ],
            )
            keystone = _gunicorn(state, "keystone", kport, env)
            processes.append(keystone)
            neutron_proc = neutron.result()
        cloud = TestCloud(state, keystone_url, neutron_url, processes)
        _wait(f"{keystone_url}/v3", keystone, state / "keystone-gunicorn.log", deadline)
        _register_network(cloud)
        _wait(f"{neutron_url}/", neutron_proc, state / "neutron-gunicorn.log", deadline)
        _default_rule_templates(cloud)
        return cloud
    except BaseException:
        TestCloud(state, keystone_url, neutron_url, processes).stop()
        raise


def _neutron_up(state: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    script = textwrap.dedent(
        f"""
        import sqlalchemy
        from neutron.db.migration.models import head
        engine = sqlalchemy.create_engine("sqlite:///{state}/neutron.db")
        head.get_metadata().create_all(engine)
        """
    )
    neutron_conf = str(state / "neutron.conf")
    _cached(
        state,
        "neutron.db",
        [_bin("python"), "-c", script],
        [_bin("neutron-db-manage"), "--config-file", neutron_conf, "stamp", "heads"],
    )
    return _gunicorn(state, "neutron", port, env)


def _cached(state: Path, db: str, *commands: list[str]) -> None:
    """A fresh database from the template made by the first run, else made and kept.

    Migrating Keystone and building Neutron's schema take most of a cold
    start; the result depends only on the installed versions, so it is kept
    beside the virtualenv (per venv stamp) and copied.
    """
    template = TEMPLATES / f"{_venv_stamp()}-{db}"
    if template.exists():
        shutil.copyfile(template, state / db)
        return
    for command in commands:
        _run(command, state, f"{Path(command[0]).name} {command[-1]}")
    TEMPLATES.mkdir(parents=True, exist_ok=True)
    partial = template.with_suffix(f".{os.getpid()}.tmp")
    shutil.copyfile(state / db, partial)
    partial.replace(template)  # atomic: a concurrent run copies a whole file or makes its own


def _venv_stamp() -> str:
    """Changes when the services are reinstalled (a new template is then made)."""
    return str(int((VENV / "pyvenv.cfg").stat().st_mtime))


def _finish(proc: subprocess.Popen[str], what: str) -> None:
    output, _ = proc.communicate()
    if proc.returncode != 0:
        tail = output.strip().splitlines()[-1:]
        raise CloudError(f"{what} failed ({proc.returncode}): {' '.join(tail)}")


def _run_all(state: Path, commands: list[list[str]]) -> None:
    procs = [
        subprocess.Popen(c, cwd=state, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for c in commands
    ]
    for command, proc in zip(commands, procs, strict=True):
        _finish(proc, f"keystone-manage {command[3]}")


def _register_network(cloud: TestCloud) -> None:
    conn = cloud.connect()
    service = conn.identity.create_service(type="network", name="neutron", is_enabled=True)
    conn.identity.create_endpoint(
        service_id=service.id, interface="public", url=cloud.neutron_url, region_id=REGION
    )
    conn.close()


def _default_rule_templates(cloud: TestCloud) -> None:
    conn = cloud.connect()
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
    conn.close()


def remove_state(state: Path) -> None:
    shutil.rmtree(state, ignore_errors=True)
