"""Pulumi entry point (`Pulumi.yaml`: `main: infra/`)."""

import pulumi

from estate import EstateError, load
from infra.inventory import inventory
from infra.program import build
from infra.settings import CloudSettings

settings = CloudSettings.from_config()
try:
    estate = load(settings.estate_file)
    city = build(estate, settings)
except EstateError as exc:
    # RunError: the engine shows the message, not a Python traceback.
    raise pulumi.RunError("\n".join(str(p) for p in exc.problems)) from None
except ValueError as exc:
    raise pulumi.RunError(str(exc)) from None

pulumi.export("inventory", inventory(estate, city.systems))
pulumi.export("projects", {code: t.project.id for code, t in city.tenants.items()})
pulumi.export("extranet_segments", {node: s.network.id for node, s in city.segments.items()})
