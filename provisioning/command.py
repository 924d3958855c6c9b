"""`ungechat provision plan|apply`: read the homeservers, show the plan, and carry it out."""

from __future__ import annotations

import sys
from typing import TextIO

from bots.config.model import Config
from bots.matrix.errors import MatrixError
from bots.matrix.links import HomeserverLink
from provisioning.apply import NotApplied, apply
from provisioning.plan import plan
from provisioning.report import registration_notes, render


async def provision(config: Config, action: str, out: TextIO | None = None) -> int:
    """0 when done (or nothing to do), 1 when a homeserver could not be read or a step
    failed. The config has been validated before this is called."""
    out = out or sys.stdout
    links = {
        hs_id: HomeserverLink.connect(hs_id, hs.url, hs.registration(), hs.admin_token)
        for hs_id, hs in config.homeservers.items()
    }
    try:
        the_plan = await plan(config, links)
        print(render(config, the_plan), file=out)
        if action == "plan":
            return 1 if the_plan.problems else 0
        done: list[object] = []
        try:
            await apply(config, links, the_plan, done=done.append)
        except NotApplied:
            print(f"\nApplied {len(done)} of {len(the_plan)} steps.", file=out)
            print(registration_notes(config), file=out)
            print("Fix what is named above, then run `ungechat provision apply` again.", file=out)
            return 1
        except (MatrixError, OSError) as exc:
            failed = the_plan.actions[len(done)]
            print(f"\nStopped at step {len(done) + 1} of {len(the_plan)}:", file=out)
            print(f"  {failed.describe()}\n  {type(exc).__name__}: {exc}", file=out)
            print("What was done stays done; run `ungechat provision apply` again.", file=out)
            return 1
        if the_plan:
            print(f"\nApplied all {len(the_plan)} steps.", file=out)
        print(registration_notes(config), file=out)
        return 0
    finally:
        for link in links.values():
            await link.close()
