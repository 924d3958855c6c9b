"""Config rules about what provisioning creates, beyond what the schema can say: each
municipality is one of the 98 real ones (unless marked fictional), and sparring rooms
refer to homeservers and municipalities that exist. Called from `bots.config`, on data
the schema has already accepted, with the same key paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bots.config_checks import key_path, unknown_homeserver
from provisioning.kommuner import accepted_names, by_slug, suggest

FICTIONAL_HINT = "(a made-up municipality for tests or training needs fictional: true)"


def provisioning_problems(data: dict[str, Any]) -> Iterator[str]:
    for i, m in enumerate(data["municipalities"]):
        if not m.get("fictional"):
            yield from _official(m, ["municipalities", i])
    yield from _sparring(data)


def _official(m: dict[str, Any], at: list[Any]) -> Iterator[str]:
    kommune = by_slug(m["slug"])
    if kommune is None:
        guess = suggest(m["slug"]) or suggest(m["name"])
        hint = f"; did you mean {guess.slug!r} ({guess.official_name})?" if guess else ""
        yield (
            f"{key_path([*at, 'slug'])}: {m['slug']!r} is not one of the 98 Danish "
            f"municipalities{hint} {FICTIONAL_HINT}"
        )
    elif m["name"] not in accepted_names(kommune):
        yield (
            f"{key_path([*at, 'name'])}: {m['name']!r} is not the name of {m['slug']!r}; "
            f"did you mean {kommune.official_name!r}?"
        )


def _sparring(data: dict[str, Any]) -> Iterator[str]:
    homeservers = data["homeservers"]
    slugs = [m["slug"] for m in data["municipalities"]]
    seen: set[str] = set()
    for i, room in enumerate(data.get("sparring_rooms", [])):
        at = ["sparring_rooms", i]
        if room["id"] in seen:
            yield f"{key_path([*at, 'id'])}: {room['id']!r} is used by two sparring rooms"
        seen.add(room["id"])
        yield from unknown_homeserver([*at, "homeserver"], room["homeserver"], homeservers)
        chosen = room.get("municipalities", [])
        if chosen != "all":
            for j, slug in enumerate(chosen):
                if slug not in slugs:
                    yield (
                        f"{key_path([*at, 'municipalities', j])}: {slug!r} is not a "
                        f"municipality in this config ({', '.join(slugs)})"
                    )
        if not chosen and not room.get("counsellors"):
            yield (
                f"{key_path(at)}: the sparring room {room['id']!r} has no members; give "
                'municipalities (slugs, or "all") or counsellors'
            )
