"""A CA made for one DR pair, and a certificate per host, with openssl.

Self-signed per setup run: replication only needs both sides to trust each
other (the standby verifies the primary with sslmode=verify-ca), and a CA
that lives only as long as the run cannot be reused elsewhere.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path


def _openssl(*args: str) -> None:
    done = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]}: {done.stderr.strip()[-200:]}")


def make_ca(directory: Path, hosts: Iterable[str], days: int = 30) -> Path:
    """Write ca.crt and <host>.crt/.key for each host into `directory`."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", str(ca_key), "-out", str(ca_crt), "-days", str(days),
        "-subj", "/CN=yunwang DR pair CA",
    )  # fmt: skip
    for host in hosts:
        key, csr, crt = (directory / f"{host}.{ext}" for ext in ("key", "csr", "crt"))
        _openssl(
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={host}",
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key),
            "-CAcreateserial", "-out", str(crt), "-days", str(days),
        )  # fmt: skip
        csr.unlink()
    ca_key.unlink()  # nothing is signed after this run
    return directory
