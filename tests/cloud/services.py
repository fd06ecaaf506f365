"""The test cloud's services as configured here: their config files and their databases.

Keystone is global; each region has its own Neutron and Cinder (a region is
its own set of endpoints, as the DR centre's is in a real city). Every
service is the PyPI release from the virtualenv ci/setup.d/70-cloud.sh
makes, run as its WSGI application (`testcloud.py` starts the processes).

Pitfalls these settings answer:
- Neutron's alembic migrations do not run on SQLite: its schema is created
  from the models (`get_metadata().create_all`) and stamped at head.
- Cinder's migrations do run on SQLite; with `transport_url = fake:/` and no
  scheduler or volume service it serves what lives in its database only
  (volume types, quotas), which is what the program's Cinder resources are.
- Migrated databases depend only on the installed versions: they are kept
  beside the virtualenv and copied, so only the first start pays for them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

VENV = Path(os.environ.get("YUNWANG_OPENSTACK_VENV", "/var/cache/yunwang/openstack-venv"))
TEMPLATES = VENV.parent / "openstack-templates"
ADMIN_PASSWORD = "yunwang-test-admin"  # a throwaway cloud on loopback, gone after the session
REGION = "puyang-main"  # the estates' main region: the program's resources name it
DR_REGION = "puyang-dr"  # the DR centre's region (sites.dr.region in the examples)
REGIONS = (REGION, DR_REGION)
PHYSICAL_NETWORK = "extranet"
KEYSTONE_USER = ["--keystone-user", "root", "--keystone-group", "root"]

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

# What Neutron and Cinder use to validate tokens (keystonemiddleware).
AUTHTOKEN = """\
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
"""

NEUTRON_CONF = (
    """\
[DEFAULT]
log_file = {state}/{name}.log
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
connection = sqlite:///{state}/{name}.db
[oslo_concurrency]
lock_path = {state}/lock-{name}
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
    + AUTHTOKEN
)

CINDER_CONF = (
    """\
[DEFAULT]
log_file = {state}/{name}.log
state_path = {state}/{name}-state
auth_strategy = keystone
transport_url = fake:/
api_paste_config = {venv}/etc/cinder/api-paste.ini
enabled_backends =
[database]
connection = sqlite:///{state}/{name}.db
[oslo_concurrency]
lock_path = {state}/lock-{name}
[coordination]
backend_url = file://{state}/{name}-state
"""
    + AUTHTOKEN
)

# gunicorn's own argv would be parsed as the service's options: replace it.
WSGI_WRAPPER = """\
import sys

sys.argv = sys.argv[:1] + {argv!r}
from {module} import application  # noqa: E402
"""


class CloudError(Exception):
    """The test cloud did not start; the message names the log to read."""


@dataclass(frozen=True)
class Service:
    """One WSGI application of the cloud: where it listens and how it is configured."""

    name: str  # keystone, neutron-puyang-dr, cinder-puyang-main: its logs and database
    type: str  # its type in the catalog
    region: str
    port: int
    module: str
    argv: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def catalog_url(self) -> str:
        """The endpoint as the catalog lists it (Cinder's names the project)."""
        if self.type == "block-storage":
            return f"{self.url}/v3/$(project_id)s"
        return f"{self.url}/v3" if self.type == "identity" else self.url


def bin_path(name: str) -> str:
    path = VENV / "bin" / name
    if not path.exists():
        raise CloudError(f"{path} missing: run ci/setup.d/70-cloud.sh")
    return str(path)


def configure(state: Path, ports: dict[str, int]) -> list[Service]:
    """Writes every service's config and WSGI module into `state`; keystone first."""
    auth_url = f"http://127.0.0.1:{ports['keystone']}/v3"
    values = {
        "state": state,
        "auth_url": auth_url,
        "password": ADMIN_PASSWORD,
        "physnet": PHYSICAL_NETWORK,
        "venv": VENV,
    }
    keystone_conf = state / "keystone.conf"
    keystone_conf.write_text(KEYSTONE_CONF.format(**values))
    services = [
        Service(
            "keystone",
            "identity",
            REGION,
            ports["keystone"],
            "keystone.wsgi.api",
            env=(("OS_KEYSTONE_CONFIG_FILES", str(keystone_conf)),),
        )
    ]
    for region in REGIONS:
        neutron, cinder = f"neutron-{region}", f"cinder-{region}"
        (state / f"{neutron}.conf").write_text(NEUTRON_CONF.format(name=neutron, **values))
        (state / f"{cinder}.conf").write_text(CINDER_CONF.format(name=cinder, **values))
        for name in (neutron, cinder):
            (state / f"lock-{name}").mkdir(exist_ok=True)
        services += [
            Service(
                neutron,
                "network",
                region,
                ports[neutron],
                "neutron.wsgi.api",
                env=(("OS_NEUTRON_CONFIG_FILES", str(state / f"{neutron}.conf")),),
            ),
            Service(
                cinder,
                "block-storage",
                region,
                ports[cinder],
                "cinder.wsgi.api",
                argv=("--config-file", str(state / f"{cinder}.conf")),
            ),
        ]
    for service in services:
        wrapper = WSGI_WRAPPER.format(argv=list(service.argv), module=service.module)
        (state / f"{_module(service)}.py").write_text(wrapper)
    return services


def wsgi_app(service: Service) -> str:
    return f"{_module(service)}:application"


def _module(service: Service) -> str:
    return "yw_" + service.name.replace("-", "_") + "_wsgi"


def prepare_database(state: Path, service: Service) -> None:
    """The service's database at head: copied from the template, or made and kept as one."""
    kind = service.name.split("-", 1)[0]
    conf = str(state / f"{service.name}.conf")
    builders: dict[str, Callable[[], None]] = {
        "keystone": lambda: _run([bin_path("keystone-manage"), "--config-file", conf, "db_sync"]),
        "neutron": lambda: _neutron_schema(state, service.name, conf),
        "cinder": lambda: _run([bin_path("cinder-manage"), "--config-file", conf, "db", "sync"]),
    }
    target = state / f"{service.name}.db"
    template = TEMPLATES / f"{_venv_stamp()}-{kind}.db"
    if template.exists():
        shutil.copyfile(template, target)
        return
    builders[kind]()
    TEMPLATES.mkdir(parents=True, exist_ok=True)
    partial = template.with_suffix(f".{os.getpid()}.tmp")
    shutil.copyfile(target, partial)
    partial.replace(template)  # atomic: a concurrent run copies a whole file or makes its own


def _neutron_schema(state: Path, name: str, conf: str) -> None:
    script = textwrap.dedent(
        f"""
        import sqlalchemy
        from neutron.db.migration.models import head
        engine = sqlalchemy.create_engine("sqlite:///{state}/{name}.db")
        head.get_metadata().create_all(engine)
        """
    )
    _run([bin_path("python"), "-c", script])
    _run([bin_path("neutron-db-manage"), "--config-file", conf, "stamp", "heads"])


def _venv_stamp() -> str:
    """Changes when the services are reinstalled (new templates are then made)."""
    return str(int((VENV / "pyvenv.cfg").stat().st_mtime))


def _run(args: list[str]) -> None:
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:]
        what = f"{Path(args[0]).name} {args[-1]}"
        raise CloudError(f"{what} failed ({result.returncode}): {' '.join(tail)}")


def keystone_setup(state: Path, keystone: Service) -> None:
    """Key repositories, then bootstrap: it reads the fernet keys, so it waits for both
    (run beside fernet_setup it raced)."""
    manage = [bin_path("keystone-manage"), "--config-file", str(state / "keystone.conf")]
    procs = [
        (
            step,
            subprocess.Popen(
                [*manage, step, *KEYSTONE_USER],
                cwd=state,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            ),
        )
        for step in ("fernet_setup", "credential_setup")
    ]
    for step, proc in procs:
        output, _ = proc.communicate()
        if proc.returncode != 0:
            tail = output.strip().splitlines()[-1:]
            raise CloudError(f"keystone-manage {step} failed ({proc.returncode}): {' '.join(tail)}")
    bootstrap = [
        *manage,
        "bootstrap",
        "--bootstrap-password",
        ADMIN_PASSWORD,
        "--bootstrap-public-url",
        keystone.catalog_url,
        "--bootstrap-region-id",
        REGION,
    ]
    result = subprocess.run(bootstrap, cwd=state, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:]
        raise CloudError(
            f"keystone-manage bootstrap failed ({result.returncode}): {' '.join(tail)}"
        )
