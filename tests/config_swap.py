"""The running bot's config changed for one test, as a reloaded config would be.

The bot's parts hold the one frozen `Config` object they were given; a test that needs
another opening time or proxy swaps fields of that object for its duration, here and
nowhere else, and puts them back after.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

from bots.config.model import Config


@contextlib.contextmanager
def reconfigured(config: Config, **fields: Any) -> Iterator[Config]:
    before = {name: getattr(config, name) for name in fields}
    for name, value in fields.items():
        object.__setattr__(config, name, value)  # frozen: see the module's docstring
    try:
        yield config
    finally:
        for name, value in before.items():
            object.__setattr__(config, name, value)


def municipality_changed(config: Config, slug: str, **changes: Any) -> Any:
    """`reconfigured` with one municipality's fields changed."""
    municipalities = tuple(
        dataclasses.replace(m, **changes) if m.slug == slug else m for m in config.municipalities
    )
    return reconfigured(config, municipalities=municipalities)
