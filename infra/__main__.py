"""Pulumi entry point (`Pulumi.yaml`: `main: infra/`)."""

import pulumi

from estate import load
from infra.inventory import inventory
from infra.program import build
from infra.settings import CloudSettings

settings = CloudSettings.from_config()
estate = load(settings.estate_file)
city = build(estate, settings)
pulumi.export("inventory", inventory(estate, city.systems))
pulumi.export("projects", {code: t.project.id for code, t in city.tenants.items()})
pulumi.export("extranet_segments", {node: s.network.id for node, s in city.segments.items()})
