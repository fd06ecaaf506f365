"""`shards.shard_of` as a classic BPF program, for the kernel's AF_PACKET fanout.

Live, the N sensor processes' packet sockets join one fanout group
(PACKET_FANOUT_CBPF); the kernel runs this program on every packet and hands
it to socket `result mod N`. The program picks the client the way
`shards.shard_of` does (of two TCP/UDP ports the lower is the service;
DHCP either way and ICMP to process 0) and mixes its address
word the same way (`shards._spread`), so the kernel's split is the Python rule's
(`tests/packets/test_lab.py` compares them on real traffic). It has no
memory: see `monitors.packets.shards` for what that costs.
"""

from __future__ import annotations

import ctypes
import struct
from typing import Final

from .shards import GOLDEN

# Classic BPF (linux/filter.h). Loads use the negative offsets that read
# relative to the network header and the skb's ancillary data, so the
# program is right whether the kernel hands it the frame at the MAC or at
# the network header, and after it has taken a VLAN tag off.
_NET: Final = -0x100000  # SKF_NET_OFF
_PROTOCOL: Final = -0x1000  # SKF_AD_OFF + SKF_AD_PROTOCOL
_OPS: Final = {
    "ld": 0x20, "ldh": 0x28, "ldb": 0x30, "ldh_x": 0x48, "ldb_x": 0x50, "ld_mem": 0x60,
    "ldx_imm": 0x01, "ldx_mem": 0x61, "st": 0x02, "and": 0x54, "mul": 0x24, "rsh": 0x74,
    "xor_x": 0xAC, "tax": 0x07, "ja": 0x05, "jeq": 0x15, "jset": 0x45, "jeq_x": 0x1D,
    "jgt_x": 0x2D, "ret": 0x06, "ret_a": 0x16,
}  # fmt: skip
# The kernel's checker follows straight-line code past a `ret` when it
# checks that scratch memory is written before it is read, so `zero` (reached
# before any store) is the last instruction.
# Scratch memory: M[0] source word, M[1] destination word, M[2] protocol,
# M[3] source port, M[4] destination port. X holds the transport offset.
_SOURCE = """
    ldh PROTOCOL
    jeq 0x0800 v4 v6
v4: ld NET+12
    st 0
    ld NET+16
    st 1
    ldh NET+6
    jset 0x1fff both v4l4
v4l4: ldb NET+0
    and 0x0f
    mul 4
    tax
    ldb NET+9
    jeq 6 ports v4udp
v4udp: jeq 17 ports zero
v6: jeq 0x86dd v6h zero
v6h: ld NET+8
    tax
    ld NET+12
    xor_x
    tax
    ld NET+16
    xor_x
    tax
    ld NET+20
    xor_x
    st 0
    ld NET+24
    tax
    ld NET+28
    xor_x
    tax
    ld NET+32
    xor_x
    tax
    ld NET+36
    xor_x
    st 1
    ldx_imm 40
    ldb NET+6
    jeq 6 ports v6udp
v6udp: jeq 17 ports zero
ports: st 2
    ldh_x NET
    st 3
    ldh_x NET+2
    st 4
    ld_mem 2
    jeq 17 udp compare
udp: ld_mem 3
    jeq 67 zero dhcp6
dhcp6: jeq 547 zero todport
todport: ld_mem 4
    jeq 67 zero todhcp6
todhcp6: jeq 547 zero compare
compare: ldx_mem 4
    ld_mem 3
    jgt_x src equal
equal: jeq_x both dst
both: ld_mem 0
    ldx_mem 1
    xor_x
    ja hash
src: ld_mem 0
    ja hash
dst: ld_mem 1
hash: tax
    rsh 16
    xor_x
    mul GOLDEN
    rsh 16
    ret_a
zero: ret 0
"""

Insn = tuple[int, int, int, int]


def fanout_program() -> list[Insn]:
    """`shard_of` as a classic BPF program (before the kernel's modulo)."""
    lines: list[list[str]] = []
    labels: dict[str, int] = {}
    for line in _SOURCE.strip().splitlines():
        name, _, rest = line.strip().rpartition(": ") if ": " in line else ("", "", line.strip())
        if name:
            labels[name] = len(lines)
        lines.append(rest.split())
    constants = {"NET": _NET, "PROTOCOL": _PROTOCOL, "GOLDEN": GOLDEN}
    program: list[Insn] = []
    for index, (mnemonic, *args) in enumerate(lines):
        code = _OPS[mnemonic]
        if mnemonic == "ja":
            program.append((code, 0, 0, labels[args[0]] - index - 1))
            continue
        k = _number(args[0], constants) if args and args[0] not in labels else 0
        jumps = [a for a in args if a in labels]
        jt, jf = (labels[j] - index - 1 for j in jumps) if jumps else (0, 0)
        program.append((code, jt, jf, k))
    return program


def _number(text: str, constants: dict[str, int]) -> int:
    base, _, offset = text.partition("+")
    value = constants[base] if base in constants else int(base, 0)
    return value + (int(offset, 0) if offset else 0)


def sock_fprog(program: list[Insn]) -> tuple[ctypes.Array[ctypes.c_char], bytes]:
    """(the instructions' buffer, a `struct sock_fprog` pointing at it).

    The buffer must stay alive until the setsockopt call has copied it."""
    raw = b"".join(struct.pack("HBBI", c, jt, jf, k & 0xFFFFFFFF) for c, jt, jf, k in program)
    buffer = ctypes.create_string_buffer(raw, len(raw))
    return buffer, struct.pack("HL", len(program), ctypes.addressof(buffer))
