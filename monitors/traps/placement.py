"""Where in the estate a notification belongs, and what it says.

The sender's address names the device (the poller's targets: the address
the device is polled on is the one it sends from, `snmp-server
trap-source`). An interface is named by ifIndex (IF-MIB linkDown/linkUp,
OSPFV3-MIB by its table index), by a local address (OSPF-MIB
ospfIfStateChange) or by the neighbour's address (OSPF-MIB
ospfNbrStateChange); it becomes an estate link the way the poller maps
interfaces (monitors/snmp/mapping.py): the sender's latest poll turns the
ifIndex into a row, and that row must be the one the link's end resolves to.
Ends on the sender itself are tried first, then the other devices of its
node (a stack, or the lab, where one agent answers for a node's devices).

BFD-MIB bfdSessDown/Up name a session, not an interface: they touch every
pair at the sender's node. FRR 8.4's bfdd has no SNMP support, so the lab
never sends them; a vendor device does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from estate import Estate, Link, LinkPair, Node
from monitors.snmp.ber import Oid, oid_to_str
from monitors.snmp.mapping import Translate, find_interface
from monitors.snmp.poller import DevicePoll
from monitors.traps.receiver import Notification

COLD_START = (1, 3, 6, 1, 6, 3, 1, 1, 5, 1)
WARM_START = (1, 3, 6, 1, 6, 3, 1, 1, 5, 2)
LINK_DOWN = (1, 3, 6, 1, 6, 3, 1, 1, 5, 3)
LINK_UP = (1, 3, 6, 1, 6, 3, 1, 1, 5, 4)
OSPF_NBR_STATE_CHANGE = (1, 3, 6, 1, 2, 1, 14, 16, 2, 2)
OSPF_IF_STATE_CHANGE = (1, 3, 6, 1, 2, 1, 14, 16, 2, 16)
OSPFV3_NBR_STATE_CHANGE = (1, 3, 6, 1, 2, 1, 191, 0, 2)
OSPFV3_IF_STATE_CHANGE = (1, 3, 6, 1, 2, 1, 191, 0, 10)
BFD_SESS_UP = (1, 3, 6, 1, 2, 1, 222, 0, 1)
BFD_SESS_DOWN = (1, 3, 6, 1, 2, 1, 222, 0, 2)

IF_INDEX = (1, 3, 6, 1, 2, 1, 2, 2, 1, 1)
IF_OPER_STATUS = (1, 3, 6, 1, 2, 1, 2, 2, 1, 8)
OSPF_NBR_STATE = (1, 3, 6, 1, 2, 1, 14, 10, 1, 6)  # index: neighbour address . 0
OSPF_IF_STATE = (1, 3, 6, 1, 2, 1, 14, 7, 1, 12)  # index: local address . 0
OSPFV3_NBR_STATE = (1, 3, 6, 1, 2, 1, 191, 1, 9, 1, 8)  # index: ifIndex . instance . router id
OSPFV3_IF_STATE = (1, 3, 6, 1, 2, 1, 191, 1, 7, 1, 12)  # index: ifIndex . instance

NBR_STATES = {1: "down", 2: "attempt", 3: "init", 4: "twoWay", 5: "exchangeStart",
              6: "exchange", 7: "loading", 8: "full"}  # fmt: skip
IF_STATES = {1: "down", 2: "loopback", 3: "waiting", 4: "pointToPoint", 5: "designatedRouter",
             6: "backupDesignatedRouter", 7: "otherDesignatedRouter", 8: "standby"}  # fmt: skip

ACTIONS = {
    COLD_START: "cold-start",
    WARM_START: "warm-start",
    LINK_DOWN: "link-down",
    LINK_UP: "link-up",
    OSPF_NBR_STATE_CHANGE: "ospf-neighbour-state-changed",
    OSPF_IF_STATE_CHANGE: "ospf-interface-state-changed",
    OSPFV3_NBR_STATE_CHANGE: "ospfv3-neighbour-state-changed",
    OSPFV3_IF_STATE_CHANGE: "ospfv3-interface-state-changed",
    BFD_SESS_UP: "bfd-session-up",
    BFD_SESS_DOWN: "bfd-session-down",
}


@dataclass(frozen=True)
class Placed:
    """A notification read and placed: what happened, where."""

    action: str  # ACTIONS, or "notification" for anything else
    device: str
    node: Node
    state: str | None = None  # "down", "up", "full", ... when the trap says one
    if_index: int | None = None
    links: list[Link] = field(default_factory=list)
    pairs: list[LinkPair] = field(default_factory=list)

    @property
    def about_links(self) -> bool:
        return self.action not in ("cold-start", "warm-start", "notification")

    @property
    def failing(self) -> bool:
        return self.state == "down"


def _value(notification: Notification, column: Oid) -> tuple[Oid, object] | None:
    """(instance index, value) of the first varbind in `column`."""
    size = len(column)
    for oid, value in notification.varbinds:
        if oid[:size] == column and len(oid) > size:
            return oid[size:], value
    return None


def _address(index: Oid) -> str | None:
    if len(index) < 4 or not all(0 <= part <= 255 for part in index[:4]):
        return None
    return str(IPv4Address(bytes(index[:4])))


class Placer:
    """Places notifications in one estate; `translate` as the poller's."""

    def __init__(
        self, estate: Estate, senders: Mapping[str, str], translate: Translate = str
    ) -> None:
        self.estate = estate
        self.senders = dict(senders)  # address -> device
        self.translate = translate
        nodes = {node.id: node for node in estate.nodes()}
        self._node_of = {d.name: nodes[d.node] for d in estate.devices()}
        self._devices_at: dict[str, list[str]] = {}
        for device in estate.devices():
            self._devices_at.setdefault(device.node, []).append(device.name)
        # Each node's links (an end on one of its devices): a trap searches
        # its sender's handful, not the city's thousands.
        self._links_at: dict[str, list[Link]] = {}
        for link in estate.links():
            for end in (link.child_end, link.parent_end):
                node_id = self._node_of[end.device].id if end.device in self._node_of else None
                if node_id is not None and link not in self._links_at.get(node_id, []):
                    self._links_at.setdefault(node_id, []).append(link)
        self._pairs_of: dict[str, list[LinkPair]] = {}
        for pair in estate.link_pairs():
            for link in (pair.primary, pair.backup):
                self._pairs_of.setdefault(link.id, []).append(pair)

    def place(self, notification: Notification, polls: Mapping[str, DevicePoll]) -> Placed | None:
        """None: the sender is no estate device."""
        device = self.senders.get(notification.source)
        node = self._node_of.get(device) if device else None
        if device is None or node is None:
            return None
        trap = notification.trap_oid
        action = ACTIONS.get(trap, "notification")
        state: str | None = None
        if_index: int | None = None
        links: list[Link] = []
        if trap in (LINK_DOWN, LINK_UP):
            state = "down" if trap == LINK_DOWN else "up"
            found = _value(notification, IF_INDEX) or _value(notification, IF_OPER_STATUS)
            if_index = found[0][0] if found and found[0] else None
            links = self._by_if_index(device, node, if_index, polls)
        elif trap in (OSPFV3_NBR_STATE_CHANGE, OSPFV3_IF_STATE_CHANGE):
            column = OSPFV3_NBR_STATE if trap == OSPFV3_NBR_STATE_CHANGE else OSPFV3_IF_STATE
            found = _value(notification, column)
            if found is not None and found[0]:
                if_index = found[0][0]
                state = _state(trap, found[1])
                links = self._by_if_index(device, node, if_index, polls)
        elif trap == OSPF_NBR_STATE_CHANGE:
            found = _value(notification, OSPF_NBR_STATE)
            if found is not None:
                state = _state(trap, found[1])
                links = self._by_address(node, _address(found[0]), far=True)
        elif trap == OSPF_IF_STATE_CHANGE:
            found = _value(notification, OSPF_IF_STATE)
            if found is not None:
                state = _state(trap, found[1])
                links = self._by_address(node, _address(found[0]), far=False)
        elif trap in (BFD_SESS_UP, BFD_SESS_DOWN):
            state = "up" if trap == BFD_SESS_UP else "down"
            links = list(self._links_at.get(node.id, []))
        pairs = list({p.id: p for link in links for p in self._pairs_of.get(link.id, [])}.values())
        return Placed(action, device, node, state, if_index, links, pairs)

    def _at(self, link: Link, node: Node) -> str | None:
        """Which end ("child"/"parent") of the link is at the node, if any."""
        at = self._devices_at.get(node.id, [])
        if link.child_end.device in at:
            return "child"
        if link.parent_end.device in at:
            return "parent"
        return None

    def _by_if_index(
        self, device: str, node: Node, if_index: int | None, polls: Mapping[str, DevicePoll]
    ) -> list[Link]:
        poll = polls.get(device)
        if if_index is None or poll is None or not poll.interfaces:
            return []
        for own_device_only in (True, False):
            for link in self._links_at.get(node.id, []):
                for end in (link.child_end, link.parent_end):
                    if (end.device == device) != own_device_only:
                        continue
                    if end.device not in self._devices_at.get(node.id, ()):
                        continue
                    addresses = (self.translate(str(end.address4)),
                                 self.translate(str(end.address6)))  # fmt: skip
                    found = find_interface(poll, end.interface, addresses)
                    if found is not None and found[0].index == if_index:
                        return [link]
        return []

    def _by_address(self, node: Node, address: str | None, *, far: bool) -> list[Link]:
        """The link whose end at this node (far=False) or across from it
        (far=True) has this IPv4 address."""
        if address is None:
            return []
        for link in self._links_at.get(node.id, []):
            side = self._at(link, node)
            if side is None:
                continue
            mine, theirs = (
                (link.child_end, link.parent_end) if side == "child"
                else (link.parent_end, link.child_end)
            )  # fmt: skip
            end = theirs if far else mine
            if self.translate(str(end.address4)) == address:
                return [link]
        return []


def _state(trap: Oid, value: object) -> str | None:
    if not isinstance(value, int):
        return None
    states = NBR_STATES if trap in (OSPF_NBR_STATE_CHANGE, OSPFV3_NBR_STATE_CHANGE) else IF_STATES
    return states.get(value, str(value))


def describe(trap: Oid) -> str:
    return ACTIONS.get(trap, oid_to_str(trap) if trap else "no snmpTrapOID")
