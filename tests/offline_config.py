"""A config for tests that need no homeserver: one always-open, made-up municipality,
`testby`, with the channels facebook and plakat, on a homeserver nobody answers at."""

from __future__ import annotations

from typing import Any


def offline_municipality(**fields: Any) -> dict[str, Any]:
    """The made-up `testby`, with `fields` replacing its keys (e.g. opening_hours)."""
    return {
        "slug": "testby",
        "name": "Testby Kommune",
        "fictional": True,
        "homeserver": "hs",
        "opening_hours": {"always_open": True},
        "channels": ["facebook", "plakat"],
        **fields,
    }


def offline_config_data(**top: Any) -> dict[str, Any]:
    return {
        "public_url": "https://chat.example.dk",
        "homeservers": {
            "hs": {
                "server_name": "example.dk",
                "url": "http://127.0.0.1:9",
                "admin_token": "test-admin-token-000000000001",
                "appservice": {
                    "url": "http://127.0.0.1:9",
                    "as_token": "test-as-token-0000000000000002",
                    "hs_token": "test-hs-token-0000000000000003",
                },
            }
        },
        "municipalities": [offline_municipality()],
        **top,
    }
