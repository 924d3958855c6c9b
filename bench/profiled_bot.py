"""The bot under cProfile: `python -m bench.profiled_bot PROFILE_OUT -c CONFIG` runs
`ungechat run -c CONFIG` and writes the profile when it stops (SIGTERM ends it cleanly).
Used by `python -m bench --profile`; the profile slows the bot, so its figures are not
the run's figures, only where the bot's time goes."""

from __future__ import annotations

import cProfile
import sys

from bots.cli import main

if __name__ == "__main__":
    out, *args = sys.argv[1:]
    profile = cProfile.Profile()
    try:
        profile.runcall(main, ["run", *args])
    finally:
        profile.dump_stats(out)
