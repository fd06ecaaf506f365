"""Tenants, their systems and hosts: codes checked, prefixes cut, addresses handed out.

Each tenant gets one prefix per zone it has systems in (slot = the tenant's
position in the file); hosts are numbered from FIRST_HOST inside it.
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Network, IPv6Network

from estate.addressing import Allocation, first_64, nth_host4, nth_host6
from estate.allocator import Planner
from estate.model import Host, System, SystemDr, Tenant, Zone
from estate.schema import EstateSpec, SystemSpec

Path = tuple[str | int, ...]
FIRST_HOST = 10  # .1-.9 stay free for gateways, VRRP and service addresses


class Tenancy:
    def __init__(
        self,
        spec: EstateSpec,
        planner: Planner,
        zone_allocs: dict[str, Allocation],
        report: Callable[[Path, str], None],
    ) -> None:
        self.spec = spec
        self.planner = planner
        self.zone_allocs = zone_allocs
        self.report = report
        self.prefixes: dict[str, tuple[IPv4Network, IPv6Network]] = {}

    def build(self, zones: list[Zone]) -> list[Tenant]:
        kinds = {z.name: z.kind for z in zones}
        tenants: list[Tenant] = []
        codes: set[str] = set()
        hostnames: dict[str, str] = {}
        for i, t in enumerate(self.spec.tenants):
            path: Path = ("tenants", i)
            if t.code in codes:
                self.report((*path, "code"), f"duplicate tenant code {t.code!r}")
                continue
            codes.add(t.code)
            next_host: dict[str, int] = {}
            systems: list[System] = []
            system_codes: set[str] = set()
            for j, s in enumerate(t.systems):
                spath: Path = (*path, "systems", j)
                if s.code in system_codes:
                    self.report(
                        (*spath, "code"), f"duplicate system code {s.code!r} in tenant {t.code!r}"
                    )
                    continue
                system_codes.add(s.code)
                if s.zone not in kinds:
                    self.report((*spath, "zone"), f"no zone {s.zone!r} (zones: {', '.join(kinds)})")
                    continue
                if kinds[s.zone] == "internet":
                    self.report(
                        (*spath, "zone"), "systems live in cloud zones, not in the internet zone"
                    )
                    continue
                if s.dr_class is not None and s.dr_class not in self.spec.dr.classes:
                    self.report((*spath, "dr_class"), f"no DR class {s.dr_class!r} in dr.classes")
                prefix = self._tenant_prefix(t.code, s.zone, i, spath)
                hosts: list[Host] = []
                for k, h in enumerate(s.hosts):
                    names = (
                        [h.name]
                        if h.count == 1
                        else [f"{h.name}-{n}" for n in range(1, h.count + 1)]
                    )
                    for name in names:
                        if name in hostnames:
                            self.report(
                                (*spath, "hosts", k, "name"),
                                f"duplicate host name {name!r} (also in {hostnames[name]})",
                            )
                            continue
                        hostnames[name] = f"{t.code}/{s.code}"
                        if prefix is None:
                            continue
                        n = next_host.get(s.zone, FIRST_HOST)
                        next_host[s.zone] = n + 1
                        try:
                            addr4, addr6 = (
                                nth_host4(prefix[0], n),
                                nth_host6(first_64(prefix[1]), n),
                            )
                        except IndexError:
                            self.report(
                                (*spath, "hosts", k), f"no room for host {name!r} in {prefix[0]}"
                            )
                            continue
                        hosts.append(
                            Host(name, h.role, h.flavor, h.image, h.volume_gb, addr4, addr6)
                        )
                systems.append(
                    System(
                        t.code,
                        s.code,
                        s.name,
                        s.zone,
                        s.mlps_level,
                        s.dr_class,
                        s.ipv6,
                        tuple(hosts),
                        self._dr(s, hosts, spath),
                    )
                )
            tenants.append(Tenant(t.code, t.name, t.quotas, tuple(systems)))
        return tenants

    def _dr(self, s: SystemSpec, hosts: list[Host], path: Path) -> SystemDr:
        if s.dr is None:
            return SystemDr()
        if s.dr_class is None:
            self.report(
                (*path, "dr"), "a system without dr_class has no DR placement; set dr_class"
            )
        if s.dr.standby is not None and s.dr.standby in {h.name for h in hosts}:
            self.report(
                (*path, "dr", "standby"),
                f"{s.dr.standby!r} is one of this system's own hosts; "
                "the standby is a host in the DR centre",
            )
        return SystemDr(s.dr.standby, tuple(s.dr.backup_paths))

    def _tenant_prefix(
        self, tenant: str, zone: str, index: int, path: Path
    ) -> tuple[IPv4Network, IPv6Network] | None:
        key = f"{tenant}/{zone}"
        if key in self.prefixes:
            return self.prefixes[key]
        zone_alloc = self.zone_allocs.get(zone)
        if zone_alloc is None:
            return None
        alloc = self.planner.slot(
            "tenant", key, zone_alloc, self.spec.address_plan.split.tenants, index, path
        )
        if alloc is None:
            return None
        if first_64(alloc.ipv6).prefixlen != 64:
            self.planner.check_lan6(alloc, path)
        self.prefixes[key] = (alloc.ipv4, alloc.ipv6)
        return self.prefixes[key]
