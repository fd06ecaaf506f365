"""Reading a live cloud, and nothing else: the only way `verify cloud` reaches the APIs.

`ReadOnlyCloud` keeps the openstacksdk connection private and exposes one
operation, a paginated GET of a collection; there is no method that could
send anything else, so a verification cannot change the cloud whatever the
comparison code does (the tests check the services' own access logs). The
collections are read in parallel, each following Neutron's `*_links`
pagination, and every GET is counted for the report.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

PAGE = 1000  # rows per Neutron page: big pages, few round trips, bounded responses
MAX_PAGES = 1000  # a cloud answering with endless `next` links costs only this many
READERS = 8

Rows = list[dict[str, Any]]

IDENTITY_READS = {
    "projects": ("/projects", "projects"),
    "groups": ("/groups", "groups"),
    "roles": ("/roles", "roles"),
    "users": ("/users", "users"),
    "role_assignments": ("/role_assignments", "role_assignments"),
}
NETWORK_READS = {
    "networks": ("/networks", "networks"),
    "segments": ("/segments", "segments"),
    "subnets": ("/subnets", "subnets"),
    "routers": ("/routers", "routers"),
    "ports": ("/ports", "ports"),  # hosts' ports and the routers' interfaces alike
    "security_groups": ("/security-groups", "security_groups"),
    "security_group_rules": ("/security-group-rules", "security_group_rules"),
    "address_groups": ("/address-groups", "address_groups"),
    "qos_policies": ("/qos/policies", "policies"),
    "rbac_policies": ("/rbac-policies", "rbac_policies"),
    "quotas": ("/quotas", "quotas"),
}


# Cinder's names in a catalog: the current one and the ones older clouds still register.
BLOCK_STORAGE_TYPES = frozenset({"block-storage", "volumev3", "volume", "block-store"})
# Every volume type, private ones included (an admin's list shows public ones only by default).
VOLUME_TYPES = ("/types?is_public=None", "volume_types")


class ReadError(Exception):
    """The cloud refused or failed a read; the message is one line."""


@dataclass
class Live:
    """What one region of the cloud holds, collection by collection."""

    region: str
    network: dict[str, Rows] = field(default_factory=dict)
    default_quota: dict[str, Any] = field(default_factory=dict)
    volume_types: Rows = field(default_factory=list)
    storage_quotas: dict[str, dict[str, Any]] = field(default_factory=dict)  # by project id
    services: frozenset[str] = frozenset()  # service types in this region's catalog


class ReadOnlyCloud:
    """Connections that can only GET, one per region, opened on first use.

    `connect(region)` returns an openstacksdk Connection; it stays private.
    """

    def __init__(self, connect: Callable[[str], Any]) -> None:
        self.__connect = connect
        self.__connections: dict[str, Any] = {}
        self.__first = ""  # the region of the first connection: its token's catalog serves all
        self._lock = threading.Lock()
        self.calls = 0

    def __connection(self, region: str) -> Any:
        with self._lock:
            if region not in self.__connections:
                self.__connections[region] = self.__connect(region)
                self.__first = self.__first or region
            return self.__connections[region]

    def services(self, region: str) -> frozenset[str]:
        """Service types with an endpoint in `region`, from the token's catalog."""
        session = self.__connection(self.__first or region).session
        access = session.auth.get_access(session)
        catalog = access.service_catalog.catalog if access.service_catalog else []
        return frozenset(
            entry["type"]
            for entry in catalog
            if any(ep.get("region_id", ep.get("region")) == region for ep in entry["endpoints"])
        )

    def project_id(self, region: str) -> str:
        """The project the credentials are scoped to."""
        return str(self.__connection(region).current_project_id)

    def _get(self, region: str, service: str, url: str) -> Any:
        response = getattr(self.__connection(region), service).get(url, raise_exc=False)
        with self._lock:
            self.calls += 1
        if response.status_code >= 400:
            raise ReadError(f"GET {url}: HTTP {response.status_code} from the {service} API")
        return response.json()

    def get_all(self, region: str, service: str, path: str, key: str) -> Rows:
        rows: Rows = []
        url: str | None = _limited(path) if service == "network" else path
        for _ in range(MAX_PAGES):
            if url is None:
                return rows
            doc = self._get(region, service, url)
            rows.extend(doc.get(key, []))
            url = _next(doc.get(f"{key}_links", []))
        raise ReadError(f"GET {path}: more than {MAX_PAGES} pages")

    def get_one(self, region: str, service: str, path: str, key: str) -> dict[str, Any]:
        return dict(self._get(region, service, path).get(key, {}))

    def close(self) -> None:
        for connection in self.__connections.values():
            connection.close()


def _limited(path: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}limit={PAGE}"


def _next(links: list[Mapping[str, str]]) -> str | None:
    for link in links:
        if link.get("rel") == "next":
            return link.get("href")
    return None


def read_identity(cloud: ReadOnlyCloud, region: str) -> dict[str, Rows]:
    """Keystone is global: read once, through any region's connection."""
    with ThreadPoolExecutor(READERS) as pool:
        futures = {
            name: pool.submit(cloud.get_all, region, "identity", path, key)
            for name, (path, key) in IDENTITY_READS.items()
        }
        return {name: f.result() for name, f in futures.items()}


def read_region(cloud: ReadOnlyCloud, region: str, project_ids: list[str]) -> Live:
    """Every collection of a region at once: Neutron's, the default network quota, and,
    where the catalog has Cinder, the volume types and the quotas of `project_ids`
    (Cinder lists no quotas: one GET per project)."""
    project = cloud.project_id(region)
    live = Live(region=region, services=cloud.services(region))
    cinder = bool(live.services & BLOCK_STORAGE_TYPES)
    with ThreadPoolExecutor(READERS) as pool:
        futures = {
            name: pool.submit(cloud.get_all, region, "network", path, key)
            for name, (path, key) in NETWORK_READS.items()
        }
        default = pool.submit(
            cloud.get_one, region, "network", f"/quotas/{project}/default", "quota"
        )
        if cinder:
            types = pool.submit(cloud.get_all, region, "block_storage", *VOLUME_TYPES)
            quotas = {
                pid: pool.submit(
                    cloud.get_one, region, "block_storage", f"/os-quota-sets/{pid}", "quota_set"
                )
                for pid in project_ids
            }
        live.network = {name: f.result() for name, f in futures.items()}
        live.default_quota = default.result()
        if cinder:
            live.volume_types = types.result()
            live.storage_quotas = {pid: f.result() for pid, f in quotas.items()}
    return live
