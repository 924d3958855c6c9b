"""`ungechat check-config FILE`: validate a config file and say what it describes."""

from __future__ import annotations

import sys
from pathlib import Path

from bots.config.load import ConfigError, load_config


def check_config(path: Path) -> int:
    """Exit status 0 when valid; 2 with every mistake named by its key path otherwise."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        count = len(exc.problems)
        print(f"{path}: {count} problem{'s' if count != 1 else ''}:\n{exc}", file=sys.stderr)
        return 2
    print(f"{path}: ok")
    for hs in config.homeservers.values():
        print(f"  homeserver {hs.id}: {hs.server_name} at {hs.url}")
    for m in config.municipalities:
        hours = "always open" if m.opening_hours.always_open else "weekly hours"
        print(
            f"  {m.slug}: {m.name} on {m.homeserver}, {len(m.counsellors)} counsellors, "
            f"{len(m.channels)} channels, {len(m.questions)} questions, {hours}"
        )
    return 0
