"""A placed notification as an ECS event (`event.dataset: yunwang.traps`)."""

from __future__ import annotations

from monitors.snmp.ber import oid_to_str
from monitors.traps.placement import Placed, describe
from monitors.traps.receiver import Notification
from security.events import SEVERITY_INFO, SEVERITY_LOW, Context, Endpoint, Event

DATASET = "yunwang.traps"


def trap_event(notification: Notification, placed: Placed) -> Event:
    link = placed.links[0] if placed.links else None
    pair = placed.pairs[0] if placed.pairs else None
    where = f" on {link.id}" if link else ""
    state = f" -> {placed.state}" if placed.state else ""
    if placed.if_index is not None and link is None:
        where = f" on ifIndex {placed.if_index} (no estate link)"
    restart = placed.action in ("cold-start", "warm-start")
    return Event(
        timestamp=notification.at,
        dataset=DATASET,
        action=placed.action,
        message=f"{placed.device}: {describe(notification.trap_oid)}{where}{state}",
        kind="alert" if placed.failing or restart else "event",
        category=("network",),
        type=("change",) if placed.state or restart else ("info",),
        severity=SEVERITY_LOW if placed.failing or restart else SEVERITY_INFO,
        source=Endpoint(ip=notification.source, port=notification.port, name=placed.device),
        transport="udp",
        context=Context(
            node=placed.node.id,
            device=placed.device,
            link=link.id if link else None,
            pair=pair.id if pair else None,
            county=placed.node.county,
            township=placed.node.township,
            level=placed.node.level,
            state=placed.state,
        ),
        labels=(
            ("trap_oid", oid_to_str(notification.trap_oid) if notification.trap_oid else ""),
            ("snmp_version", notification.version),
            ("confirmed", "true" if notification.confirmed else "false"),
        ),
    )
