"""The one SNMP credential resolver every room uses (poller, simulator, lab)."""

from __future__ import annotations

import os

import pytest

from estate.schema import SnmpCredential
from estate.secrets import SecretMissing, resolve_snmp

V3 = SnmpCredential.model_validate(
    {
        "user": "nms",
        "auth_protocol": "sha256",
        "auth_key": {"env": "YW_TEST_AUTH"},
        "priv_protocol": "aes256",
        "priv_key": {"env": "YW_TEST_PRIV"},
    }
)
DEMO = {"YW_TEST_AUTH": "demo-auth-key", "YW_TEST_PRIV": "demo-priv-key"}


def test_set_variables_win_over_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YW_TEST_AUTH", "operator-auth-key")
    monkeypatch.delenv("YW_TEST_PRIV", raising=False)
    keys = resolve_snmp(V3, DEMO)
    assert (keys.version, keys.user, keys.auth_protocol, keys.priv_protocol) == (
        3,
        "nms",
        "sha256",
        "aes256",
    )
    assert (keys.auth_key, keys.priv_key) == ("operator-auth-key", "demo-priv-key")
    assert "operator-auth-key" not in repr(keys) and "demo-priv-key" not in repr(keys)


def test_defaults_never_reach_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("YW_TEST_AUTH", raising=False)
    monkeypatch.delenv("YW_TEST_PRIV", raising=False)
    assert resolve_snmp(V3, DEMO).auth_key == "demo-auth-key"
    assert "YW_TEST_AUTH" not in os.environ


def test_a_missing_key_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YW_TEST_AUTH", "operator-auth-key")
    monkeypatch.delenv("YW_TEST_PRIV", raising=False)
    with pytest.raises(
        SecretMissing, match=r"^priv_key: environment variable YW_TEST_PRIV is not set$"
    ):
        resolve_snmp(V3)


def test_v2c_reads_its_community(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YW_TEST_COMMUNITY", "lab-community")
    v2c = SnmpCredential.model_validate({"version": 2, "community": {"env": "YW_TEST_COMMUNITY"}})
    keys = resolve_snmp(v2c)
    assert (keys.version, keys.community, keys.user) == (2, "lab-community", None)
