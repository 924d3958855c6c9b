"""A plan as the municipality's IT person reads it: per homeserver, per municipality or
sparring room, one line per change (+ adds, ~ changes, - removes)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml

from bots.config.model import Config
from deploy.federation import federation_config
from provisioning.actions import SIGNS, Plan
from provisioning.registration import access_notes, homeserver_yaml_lines
from provisioning.synapse_settings import fragment_path

NO_CHANGES = "no changes: the homeservers already match the config."


def render(config: Config, plan: Plan) -> str:
    lines: list[str] = []
    titles = {m.slug: f"{m.name} ({m.slug})" for m in config.municipalities}
    titles |= {r.id: f'Sparring room "{r.name}" ({r.id})' for r in config.sparring_rooms}
    titles[""] = "Appservice registration"
    for hs_id, hs in config.homeservers.items():
        lines.append(f"Homeserver {hs_id} ({hs.server_name}, {hs.url})")
        if hs_id in plan.problems:
            lines.append(f"  ! not planned: {plan.problems[hs_id]}")
        actions = [a for a in plan if a.homeserver == hs_id]
        if not actions and hs_id not in plan.problems:
            lines.append("  no changes")
        scopes = list(dict.fromkeys(a.scope for a in actions))
        for scope in scopes:
            lines.append(f"  {titles.get(scope, scope)}")
            for a in actions:
                if a.scope == scope:
                    lines.append(f"    {a.describe()}")
                    lines += [f"        {detail}" for detail in a.details]
        if plan.leftovers.get(hs_id):
            lines.append("  Not in the config any more (left alone; remove them by hand if done)")
            lines += [f"    {note}" for note in plan.leftovers[hs_id]]
    lines.append("")
    if not plan and not plan.problems:
        lines.append(NO_CHANGES)
    else:
        counts = Counter(SIGNS[a.kind] for a in plan)
        lines.append(
            f"{counts['+']} to add, {counts['~']} to change, {counts['-']} to remove"
            + (f"; {len(plan.problems)} homeserver(s) not read" if plan.problems else "")
            + "."
        )
    return "\n".join(lines)


def registration_notes(config: Config) -> str:
    """After apply: where each registration is, and what homeserver.yaml needs."""
    lines = []
    for hs_id, hs in config.homeservers.items():
        path = hs.registration_file
        if path is None:
            lines.append(
                f"[{hs_id}] no registration_file is set under homeservers.{hs_id}.appservice, "
                "so no registration was written."
            )
            continue
        path = Path(path).resolve()
        lines.append(f"[{hs_id}] the appservice registration is {path}.")
        if path.exists():  # not when apply stopped before writing it
            lines += access_notes(path)
        fragment = fragment_path(path)
        lines.append(
            f"The Synapse settings {hs.server_name} needs are in {fragment}: the registration, "
            "no guests, no open registration, the network's federation, short retention, "
            "limits on counsellors' logins. Load them after homeserver.yaml, on the main "
            "process and on every worker, then restart Synapse (docs/deploy.md):"
        )
        lines.append(f"  --config-path homeserver.yaml --config-path {fragment}")
        lines.append(f"Or add at least this to homeserver.yaml of {hs.server_name} by hand:")
        lines.append(homeserver_yaml_lines(path))
    network = config.network_server_names()
    lines.append(
        "Every homeserver of the network federates with these servers and no others; "
        "add to each homeserver.yaml:"
    )
    lines.append(yaml.safe_dump(federation_config(network), sort_keys=False).rstrip())
    return "\n".join(lines)
