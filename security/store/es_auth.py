"""Credentials for Elasticsearch, by reference only: from the store URL's query.

    http://es:9200/?namespace=city&api_key_env=YW_ES_KEY
    https://es:9200/?user=hl-tap&password_file=/etc/yunwang/es-pass&ca_file=/etc/yunwang/ca.pem

A secret is never written in the URL itself (it ends up in audit records,
process lists and shell histories): only the name of a variable or a file
holding it. docs/fleet.md lists the least privileges a producer needs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from security.store import StoreError

SECRET_PARAMS = ("api_key", "password")
MAX_SECRET = 4096


def _secret(params: dict[str, str], name: str) -> str | None:
    if name in params:
        raise StoreError(
            f"store url: {name}: give {name}_env=VARIABLE or {name}_file=PATH, never the secret"
        )
    env, file = params.get(f"{name}_env"), params.get(f"{name}_file")
    if env is not None:
        value = os.environ.get(env)
        if not value:
            raise StoreError(f"store url: {name}_env: variable {env} is not set")
        return value[:MAX_SECRET]
    if file is not None:
        try:
            value = Path(file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise StoreError(f"store url: {name}_file: {file}: {exc.strerror}") from None
        if not value:
            raise StoreError(f"store url: {name}_file: {file} is empty")
        return value[:MAX_SECRET]
    return None


def client_options(params: dict[str, str]) -> dict[str, Any]:
    """Keyword arguments for `Elasticsearch(...)`: api_key or basic_auth, and ca_certs."""
    options: dict[str, Any] = {}
    api_key = _secret(params, "api_key")
    password = _secret(params, "password")
    user = params.get("user")
    if api_key is not None and (user or password):
        raise StoreError("store url: expected an API key or a user and password, not both")
    if api_key is not None:
        options["api_key"] = api_key
    elif user or password:
        if not (user and password):
            raise StoreError("store url: user: expected both user= and password_env/_file=")
        options["basic_auth"] = (user, password)
    ca = params.get("ca_file")
    if ca is not None:
        if not Path(ca).is_file():
            raise StoreError(f"store url: ca_file: {ca}: no such file")
        options["ca_certs"] = ca
    return options
