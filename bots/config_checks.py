"""Checking a config file: against the JSON Schema (`schemas/config.schema.yaml`, the
source of truth), then against the rules a schema cannot express (references between
keys, time ranges, the network's server names). Every problem is one line,
"key.path: value reason", and secrets are never echoed back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any

import jsonschema
import yaml

from bots.hours import Interval
from deploy.federation import check_server_name
from schemas import SCHEMA_DIR

SECRET_KEYS = {"admin_token", "as_token", "hs_token"}


@cache
def config_schema() -> dict[str, Any]:
    return yaml.safe_load((SCHEMA_DIR / "config.schema.yaml").read_text(encoding="utf-8"))


def key_path(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _shown(path: Iterable[Any], value: Any) -> str:
    if any(p in SECRET_KEYS for p in path):
        return "(the value is hidden)"
    text = repr(value) if not isinstance(value, dict | list) else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "…"


def schema_problems(data: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(config_schema())
    problems = []
    for error in validator.iter_errors(data):
        error = _deepest(error)
        path = list(error.absolute_path)
        if error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            for key in extra:
                problems.append(f"{key_path([*path, key])}: unknown key (is it misspelt?)")
            continue
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else error.message
            problems.append(f"{key_path([*path, missing])}: is required")
            continue
        message = error.schema.get("errorMessage") if isinstance(error.schema, dict) else None
        if message is None:
            message = _plain(error)
        problems.append(f"{key_path(path)}: {_shown(path, error.instance)} {message}")
    return sorted(problems)


def _deepest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """For 'not valid under any of the given schemas', the error of the closest branch."""
    while error.context:
        # Prefer the branch whose type fits: a dict given for "string or object" is
        # wrong inside the object, not for being a dict.
        fitting = [e for e in error.context if e.validator != "type"] or error.context
        best = jsonschema.exceptions.best_match(fitting)
        if best is None:
            break
        error = best
    return error


def _plain(error: jsonschema.ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    match error.validator:
        case "pattern":
            expected = schema.get("description") or error.validator_value
            return f"does not have the expected form ({expected})"
        case "type":
            return f"should be of type {error.validator_value}"
        case "enum":
            return f"should be one of {', '.join(map(str, error.validator_value))}"
        case "minLength":
            return f"is too short (at least {error.validator_value} characters)"
        case "uniqueItems":
            return "has the same entry twice"
        case _:
            return error.message.split(" ", 1)[1] if " is " in error.message else error.message


def rule_problems(data: dict[str, Any]) -> Iterator[str]:
    """What the schema cannot check: references, uniqueness across entries, time ranges."""
    from provisioning.config_rules import provisioning_problems

    yield from provisioning_problems(data)
    homeservers = data["homeservers"]
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
        question_ids: set[str] = set()
        for q_index, question in enumerate(m.get("questions", [])):
            q_at = [*at, "questions", q_index]
            if question["id"] in question_ids:
                yield f"{key_path([*q_at, 'id'])}: {question['id']!r} is used by two questions"
            question_ids.add(question["id"])
            option_ids = [o["id"] for o in question["options"]]
            for o_index, oid in enumerate(option_ids):
                if oid in option_ids[:o_index]:
                    yield f"{key_path([*q_at, 'options', o_index, 'id'])}: {oid!r} is used twice"


def unknown_homeserver(at: list[Any], value: str, homeservers: Iterable[str]) -> Iterator[str]:
    """A reference to a homeserver id that the config does not define."""
    if value not in homeservers:
        known = ", ".join(sorted(homeservers))
        yield f"{key_path(at)}: {value!r} is not one of the homeservers ({known})"


def _hours_problems(hours: dict[str, Any], at: list[Any]) -> Iterator[str]:
    if hours.get("always_open") and (hours.get("weekly") or hours.get("exceptions")):
        yield f"{key_path(at)}: give either always_open: true or weekly hours, not both"
    elif not hours.get("always_open") and "weekly" not in hours:
        example = "monday: ['18:00-21:00']"
        yield f"{key_path(at)}: give always_open: true or weekly hours (e.g. {example})"
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
