"""The lab: a slice of the estate rehearsed in network namespaces.

Real routers (FRR, OSPFv2+v3 with BFD), dual veth links, snmpd agents and
Debian hosts with sshd, built from the estate model. See docs/lab.md.
"""

from lab.addressing import AddressMap, lab_address
from lab.errors import LabError
from lab.lab import Lab
from lab.placement import Slice

__all__ = ["AddressMap", "Lab", "LabError", "Slice", "lab_address"]
