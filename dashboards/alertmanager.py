"""The Alertmanager configuration: routes by warning level and county, inhibition by topology.

Routing: every red alert also goes to the city's duty leader (`city-red`,
`continue: true`); then each county's alerts go to that county's receiver,
red and orange ones through a child route that repeats sooner; alerts of no
county (the collector's own health, the city posture) go to `city-duty`.

Inhibition follows the extranet tree: once a county's dual link is
isolated, its townships' and villages' link and device alerts say nothing
new (the county's alert already explains them), nor do the county's own
devices (behind the down uplink); likewise a township isolated silences its
villages and its own devices.
"""

from __future__ import annotations

from typing import Any

from estate import Estate

REPEAT = {"red": "15m", "orange": "30m", "yellow": "4h", "blue": "24h"}


def config(estate: Estate, webhook: str) -> dict[str, Any]:
    """`webhook`: base URL; each receiver posts to WEBHOOK/<receiver name>."""
    counties = [c.id for c in estate.nodes(level="county")]

    def receiver(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "webhook_configs": [{"url": f"{webhook.rstrip('/')}/{name}", "send_resolved": True}],
        }

    county_routes = [
        {
            "receiver": f"county-{county}",
            "matchers": [f'county="{county}"'],
            "routes": [
                {
                    "receiver": f"county-{county}-urgent",
                    "matchers": ['warning_level=~"red|orange"'],
                    "repeat_interval": REPEAT["orange"],
                }
            ],
        }
        for county in counties
    ]
    isolated = 'alertname="YunwangLinkPairIsolated"'
    return {
        "route": {
            "receiver": "city-duty",
            "group_by": ["alertname", "warning_level", "county"],
            "group_wait": "10s",
            "group_interval": "1m",
            "repeat_interval": REPEAT["yellow"],
            "routes": [
                {
                    "receiver": "city-red",
                    "matchers": ['warning_level="red"'],
                    "repeat_interval": REPEAT["red"],
                    "continue": True,
                },
                *county_routes,
                {
                    "receiver": "city-digest",
                    "matchers": ['warning_level="blue"'],
                    "repeat_interval": REPEAT["blue"],
                },
            ],
        },
        "inhibit_rules": [
            {
                "source_matchers": [isolated, 'level="county"'],
                "target_matchers": ['level=~"township|village"'],
                "equal": ["county"],
            },
            {
                "source_matchers": [isolated, 'level="county"'],
                "target_matchers": ['alertname="YunwangDeviceUnreachable"', 'level="county"'],
                "equal": ["county"],
            },
            {
                "source_matchers": [isolated, 'level="township"'],
                "target_matchers": ['level="village"'],
                "equal": ["county", "township"],
            },
            {
                "source_matchers": [isolated, 'level="township"'],
                "target_matchers": ['alertname="YunwangDeviceUnreachable"', 'level="township"'],
                "equal": ["county", "township"],
            },
        ],
        "receivers": [
            receiver(name)
            for name in (
                "city-duty",
                "city-red",
                "city-digest",
                *(f"county-{c}{suffix}" for c in counties for suffix in ("", "-urgent")),
            )
        ],
    }
