"""Where `verify cloud` gets its credentials: a clouds.yaml or OS_* variables, never argv.

`--cloud NAME` picks a cloud from the usual clouds.yaml locations,
`--cloud PATH` reads that file (its only cloud, or the one $OS_CLOUD names),
and without either the OS_* environment variables are used, as the
`openstack` CLI does. Whatever is chosen, the result is a function from a
region to an openstacksdk Connection, handed to `ReadOnlyCloud`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.verify.reader import ReadError


class CredentialError(Exception):
    """No usable credentials; the message is one line saying what to provide."""


def connector(cloud: str | None) -> Callable[[str], Any]:
    from openstack import connection
    from openstack import exceptions as sdk_errors
    from openstack.config import OpenStackConfig

    name: str | None
    try:
        if cloud and (cloud.endswith((".yaml", ".yml")) or os.sep in cloud):
            path = Path(cloud)
            if not path.is_file():
                raise CredentialError(f"--cloud {cloud}: no such clouds.yaml")
            config = OpenStackConfig(config_files=[str(path)], load_envvars=False)
            name = _only_cloud(config, path)
        elif cloud:
            config = OpenStackConfig(load_envvars=False)
            name = cloud
            if name not in config.get_cloud_names():
                raise CredentialError(
                    f"--cloud {cloud}: no such cloud in clouds.yaml "
                    f"(have: {', '.join(config.get_cloud_names()) or 'none'})"
                )
        else:
            if not os.environ.get("OS_AUTH_URL") and not os.environ.get("OS_CLOUD"):
                raise CredentialError(
                    "no credentials: pass --cloud NAME or --cloud PATH/clouds.yaml, "
                    "or set the OS_* variables (OS_AUTH_URL, OS_USERNAME, ...)"
                )
            config = OpenStackConfig(load_yaml_config=bool(os.environ.get("OS_CLOUD")))
            name = os.environ.get("OS_CLOUD")
        config.get_one(cloud=name)  # fail now, in one line, on an incomplete entry
    except sdk_errors.ConfigException as exc:
        raise CredentialError(f"--cloud {cloud or '(environment)'}: {exc}") from exc

    def connect(region: str) -> Any:
        try:
            return connection.Connection(config=config.get_one(cloud=name, region_name=region))
        except sdk_errors.ConfigException as exc:
            # Typically a clouds.yaml pinned to the main region (`region_name:`) while the
            # estate also has a DR region: openstacksdk's multi-region form is `regions:`.
            raise ReadError(
                f"--cloud {cloud or '(environment)'}: region {region} of the estate: {exc} "
                "(list every region of the estate under `regions:` in clouds.yaml)"
            ) from exc

    return connect


def _only_cloud(config: Any, path: Path) -> str:
    names: list[str] = list(config.get_cloud_names())
    chosen = os.environ.get("OS_CLOUD")
    if chosen:
        if chosen not in names:
            raise CredentialError(f"{path}: clouds: no cloud named {chosen} ($OS_CLOUD)")
        return chosen
    if len(names) != 1:
        raise CredentialError(
            f"{path}: clouds: expected one cloud or $OS_CLOUD naming one, found {', '.join(names) or 'none'}"
        )
    return names[0]
