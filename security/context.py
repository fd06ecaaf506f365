"""Fill in an event's estate context (`yunwang.*`) from the estate model.

Producers know what they saw (a device name, a link id, an address); rules
and the posture score need where that sits (county, level, tenant, zone).
`EstateContext.enrich` adds what is missing and never overwrites what the
producer set.
"""

from __future__ import annotations

from typing import Any

from estate import Estate
from security.events import Context, Event
from security.evolve import evolve


class EstateContext:
    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        self._nodes = {n.id: n for n in estate.nodes()}
        self._device_node = {d.name: d.node for d in estate.devices()}
        self._link_node = {link.id: link.child for link in estate.links()}
        self._hosts: dict[str, tuple[str, str, str, str, int]] = {}
        for system in estate.systems():
            for host in system.hosts:
                entry = (host.name, system.tenant, system.code, system.zone, system.mlps_level)
                self._hosts[host.name] = entry
                self._hosts[str(host.address4)] = entry
                self._hosts[str(host.address6)] = entry

    def enrich(self, event: Event) -> Event:
        given = event.context.to_ecs()
        ctx: dict[str, Any] = dict(given)
        node_id = (
            ctx.get("node")
            or (self._device_node.get(ctx["device"]) if "device" in ctx else None)
            or (self._link_node.get(ctx["link"]) if "link" in ctx else None)
            or (ctx["pair"] if ctx.get("pair") in self._nodes else None)
        )
        node = self._nodes.get(node_id) if node_id else None
        if node is not None:
            ctx.setdefault("node", node.id)
            ctx.setdefault("level", node.level)
            county = node.id if node.level == "county" else node.county
            if county:
                ctx.setdefault("county", county)
            if node.township:
                ctx.setdefault("township", node.township)
        labels = dict(event.labels)
        host = self._host_of(event)
        if host is not None:
            name, tenant, system, zone, mlps = host
            ctx.setdefault("host", name)
            ctx.setdefault("tenant", tenant)
            ctx.setdefault("system", system)
            ctx.setdefault("zone", zone)
            labels.setdefault("mlps_level", str(mlps))
        for key, endpoint in (
            ("source_zone", event.source),
            ("destination_zone", event.destination),
        ):
            if endpoint is not None and endpoint.ip and key not in labels:
                found = self.estate.zone_of(endpoint.ip)
                if found:
                    labels[key] = found
        if "zone" not in ctx and "destination_zone" in labels:
            ctx["zone"] = labels["destination_zone"]
        new_labels = tuple(sorted(labels.items()))
        if ctx == given and new_labels == tuple(sorted(event.labels)):
            return event
        # ctx holds every field the event's context set (given) and what it adds.
        return evolve(event, context=Context(**ctx), labels=new_labels)

    def _host_of(self, event: Event) -> tuple[str, str, str, str, int] | None:
        for endpoint in (event.observer, event.destination):
            if endpoint is None:
                continue
            for key in (endpoint.name, endpoint.ip):
                if key and key in self._hosts:
                    return self._hosts[key]
        return None
