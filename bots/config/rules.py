"""What a config's schema cannot say: references between keys (homeservers,
municipalities, partners, sparring rooms), uniqueness across entries, time ranges,
addresses and server names, and that each municipality is one of the 98 real ones
(unless marked fictional). Called on data the schema has already accepted; every problem
is one line with its key path, as the schema's are (bots/config/checks.py).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable, Iterator
from typing import Any

from bots.config.checks import key_path, shown
from bots.config.hours import Interval
from bots.config.kommuner import accepted_names, by_slug, suggest
from bots.config.model import DANGER_QUESTION, DEFAULT_TOPICS
from bots.config.server_names import check_server_name


def rule_problems(data: dict[str, Any]) -> Iterator[str]:
    """What the schema cannot check: references, uniqueness across entries, time ranges."""
    yield from _municipalities(data)
    homeservers = data["homeservers"]
    for index, proxy in enumerate((data.get("intake") or {}).get("trusted_proxies", [])):
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            yield (
                f"{key_path(['intake', 'trusted_proxies', index])}: {proxy!r} is not an IP "
                "address or a network like '10.0.0.0/24'"
            )
    for index, name in enumerate(data.get("network", [])):
        try:
            check_server_name(name)
        except ValueError as exc:
            yield f"{key_path(['network', index])}: {exc}"
    digest_room = (data.get("digest") or {}).get("room")
    if digest_room is not None and digest_room not in {
        r["id"] for r in data.get("sparring_rooms", [])
    }:
        yield f"digest.room: {digest_room!r} is not the id of one of the sparring_rooms"
    seen_slugs: set[str] = set()
    for i, m in enumerate(data["municipalities"]):
        at = ["municipalities", i]
        if m["slug"] in seen_slugs:
            yield f"{key_path([*at, 'slug'])}: {m['slug']!r} is used by two municipalities"
        seen_slugs.add(m["slug"])
        yield from unknown_homeserver([*at, "homeserver"], m["homeserver"], homeservers)
        yield from _hours_problems(m["opening_hours"], [*at, "opening_hours"])
        slugs = {other["slug"] for other in data["municipalities"]}
        for p_index, partner in enumerate(m.get("partners", [])):
            if partner == m["slug"] or partner not in slugs:
                yield (
                    f"{key_path([*at, 'partners', p_index])}: {partner!r} is not another "
                    "municipality in this config"
                )
        yield from _embed_problems(m.get("embed_origins", []), [*at, "embed_origins"], data)
        for role in ("trainees", "supervisors"):
            for u_index, user in enumerate(m.get(role, [])):
                if user not in m.get("counsellors", []):
                    yield (
                        f"{key_path([*at, role, u_index])}: {user!r} is not one of the "
                        "municipality's counsellors"
                    )
        topics = m.get("topics") or DEFAULT_TOPICS
        for t_index, topic in enumerate(m.get("heavy_topics", [])):
            if topic not in topics:
                yield (
                    f"{key_path([*at, 'heavy_topics', t_index])}: {topic!r} is not one of the "
                    f"municipality's topics ({', '.join(topics)})"
                )
        letters = m.get("letters") or {}
        if letters.get("keep_days_after_read", 7) > letters.get("max_age_days", 30):
            yield (
                f"{key_path([*at, 'letters', 'keep_days_after_read'])}: longer than "
                "max_age_days, which deletes every letter first"
            )
        if letters.get("answer_days", 3) >= letters.get("max_age_days", 30):
            yield (
                f"{key_path([*at, 'letters', 'answer_days'])}: the promised answer time must "
                "be shorter than max_age_days, or a letter could be deleted before its answer"
            )
        question_ids: set[str] = {DANGER_QUESTION.id} if m.get("urgent_question") else set()
        for q_index, question in enumerate(m.get("questions", [])):
            q_at = [*at, "questions", q_index]
            if question["id"] in question_ids:
                yield f"{key_path([*q_at, 'id'])}: {question['id']!r} is used by two questions"
            question_ids.add(question["id"])
            option_ids = [o["id"] for o in question["options"]]
            for o_index, oid in enumerate(option_ids):
                if oid in option_ids[:o_index]:
                    yield f"{key_path([*q_at, 'options', o_index, 'id'])}: {oid!r} is used twice"


def _embed_problems(origins: list[str], at: list[Any], data: dict[str, Any]) -> Iterator[str]:
    """An embedding site must be served with https (a page that travels unencrypted can be
    changed on the way to frame the chat), except in a local test on plain http."""
    if data["public_url"].startswith("http://"):
        return
    for index, origin in enumerate(origins):
        if origin.startswith("http://"):
            yield (
                f"{key_path([*at, index])}: {origin!r} is not https: a page sent without "
                "encryption could be changed on the way to show the chat; use https:// "
                "(http:// is accepted only while public_url is http:// too)"
            )


def unknown_homeserver(at: list[Any], value: str, homeservers: Iterable[str]) -> Iterator[str]:
    """A reference to a homeserver id that the config does not define."""
    if value not in homeservers:
        known = ", ".join(sorted(homeservers))
        yield f"{key_path(at)}: {value!r} is not one of the homeservers ({known})"


def _hours_problems(hours: dict[str, Any], at: list[Any]) -> Iterator[str]:
    if hours.get("always_open") and (hours.get("weekly") or hours.get("exceptions")):
        yield (
            f"{key_path(at)}: {shown(at, hours)} has both always_open: true and hours; "
            "give either always_open: true or weekly hours, not both"
        )
    elif not hours.get("always_open") and "weekly" not in hours:
        example = "monday: ['18:00-21:00']"
        yield (
            f"{key_path(at)}: {shown(at, hours)} has no hours; "
            f"give always_open: true or weekly hours (e.g. {example})"
        )
    ranges = [(["weekly", day], r) for day, r in (hours.get("weekly") or {}).items()]
    ranges += [(["exceptions", day], r) for day, r in (hours.get("exceptions") or {}).items()]
    for where, day_ranges in ranges:
        if where[0] == "exceptions":
            try:
                dt.date.fromisoformat(where[1])
            except ValueError:
                yield f"{key_path([*at, *where])}: {where[1]!r} is not a date"
        for r_index, text in enumerate(day_ranges):
            try:
                Interval.parse(text)
            except ValueError as exc:
                yield f"{key_path([*at, *where, r_index])}: {exc}"


FICTIONAL_HINT = "(a made-up municipality for tests or training needs fictional: true)"


def _municipalities(data: dict[str, Any]) -> Iterator[str]:
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
