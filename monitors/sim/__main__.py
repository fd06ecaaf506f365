"""Serve an estate's devices until interrupted, and say how to reach them.

python -m monitors.sim examples/small.yaml [--scenario demo] [--levels county,township]
"""

from __future__ import annotations

import argparse
import signal
import sys

from estate import EstateError, load
from monitors.sim.errors import SimError
from monitors.sim.runner import SimulatedEstate
from monitors.sim.scenarios import DEFAULT_FLAP_PERIOD_S


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m monitors.sim", description=__doc__)
    parser.add_argument("estate")
    parser.add_argument("--scenario", default="demo")
    parser.add_argument("--levels", default="city,county,township,village")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--flap-period", type=float, default=DEFAULT_FLAP_PERIOD_S)
    args = parser.parse_args(argv)
    try:
        estate = load(args.estate)
        sim = SimulatedEstate(
            estate,
            args.scenario,
            levels=[lv.strip() for lv in args.levels.split(",") if lv.strip()],
            port=args.port,
            flap_period_s=args.flap_period,
        )
        with sim:
            cred = sim.credential
            print(
                f"snmpsim pid {sim.pid} on {sim.host}:{sim.port}, started in {sim.startup_s:.1f}s"
            )
            print(f"scenario {sim.scenario.name}: failover {list(sim.scenario.failover)}, "
                  f"flapping {list(sim.scenario.flapping)}, silent {list(sim.scenario.silent)}")  # fmt: skip
            print(
                f"SNMPv3 user {cred.user} ({cred.auth_protocol}/{cred.priv_protocol}); context = device name"
            )
            for name in sim.demo_keys:
                print(f"{name} was unset: using a demo key for the simulated devices")
            for device, target in sim.targets().items():
                print(f"  {device:24} {target.host}:{target.port} context {target.context}")
            print("Ctrl-C to stop")
            try:
                while True:
                    signal.pause()
            except KeyboardInterrupt:
                pass
    except (EstateError, SimError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)  # stop the simulator on kill too
    raise SystemExit(main(sys.argv[1:]))
