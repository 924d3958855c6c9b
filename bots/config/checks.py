"""Checking a config file against its JSON Schema (`schemas/config.schema.yaml`, the
source of truth). Every problem is one line, "key.path: value reason", in plain words,
and secrets are never echoed back. What a schema cannot say is bots/config/rules.py.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from functools import cache
from typing import Any

import jsonschema
import yaml

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


def shown(path: Iterable[Any], value: Any) -> str:
    """The value as found, for a message: shortened when long, never a secret."""
    if any(p in SECRET_KEYS for p in path):
        return "(the value is hidden)"
    if value is None:
        return "(empty)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


# The form each of the schema's patterns asks for, in words: "VALUE should be <words>".
# A pattern missing here is shown as the regular expression (tests/test_config.py checks
# that every pattern in the schema is here).
PATTERN_WORDS = {
    "^[a-z0-9æøå][a-z0-9æøå-]{0,31}$": (
        "a short name in lowercase letters, digits and '-', like headspace or tjenester "
        "(what a counsellor types after !svar)"
    ),
    r"^(sqlite|sqlite\+aiosqlite|postgresql|postgresql\+asyncpg)://": (
        "a database URL starting with sqlite:// or postgresql://, "
        "like sqlite:///ungechat.db or postgresql://ungechat@db/ungechat"
    ),
    r"^https?://[^/\s]+$": (
        "an address with nothing after the host name, like https://chat.halsnaes.dk"
    ),
    r"^https?://\S+$": "an address starting with https:// (or http://), without spaces",
    r"^[a-z0-9][a-z0-9_-]{0,31}$": (
        "a short id: at most 32 lowercase letters a–z, digits, '-' and '_', "
        "starting with a letter or a digit"
    ),
    r"^[0-2][0-9]:[0-5][0-9]-[0-2][0-9]:[0-5][0-9]$": "a time range like '18:00-21:00'",
    r"^[A-Za-z0-9.-]+(:[0-9]+)?$": (
        "a server name like 'halsnaes.dk' or 'matrix.halsnaes.dk:8448'"
    ),
    r"^[a-z0-9]{1,16}$": "1 to 16 lowercase letters a–z and digits",
    r"^[a-z0-9._=/-]+$": "lowercase letters a–z, digits and . _ = / -",
    r"^[a-z0-9]+(-[a-z0-9]+)*$": (
        "lowercase letters a–z and digits, words joined by single '-' "
        "(like 'ringkoebing-skjern'; write æ, ø, å as ae, oe, aa)"
    ),
    r"^#[0-9a-fA-F]{6}$": "a colour written as # and six hex digits, like '#2f5d50'",
    r"^https?://[a-z0-9.-]+(:[0-9]{1,5})?$": (
        "a site's origin: https:// and the host name in lowercase, with no path and "
        "no '/' at the end, like https://www.halsnaes.dk"
    ),
    r"^@[a-z0-9._=/+-]+:[A-Za-z0-9.-]+(:[0-9]+)?$": (
        "a Matrix user id like '@anna:halsnaes.dk' (lowercase before the ':')"
    ),
    r"^[a-zæøå0-9]+(-[a-zæøå0-9]+)*$": (
        "lowercase words joined by single '-', like 'skole' or 'krop-og-sundhed'"
    ),
    r"^[a-z0-9_]{1,32}$": "1 to 32 lowercase letters a–z, digits and '_'",
    r"^[a-z0-9_-]{1,32}$": "1 to 32 lowercase letters a–z, digits, '-' and '_'",
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$": "a date written YYYY-MM-DD, like '2026-12-24'",
}

TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping (key: value lines)",
    "null": "empty",
}


def schema_problems(data: Any) -> list[str]:
    """Every place where `data` breaks the schema, as 'key.path: VALUE reason'."""
    validator = jsonschema.Draft202012Validator(config_schema())
    problems = []
    for error in validator.iter_errors(data):
        problems += _problems(error)
    return sorted(problems)


def _problems(error: jsonschema.ValidationError) -> list[str]:
    """One schema error as lines: the exact key, the value found (or the key, when the key
    itself is wrong or missing), and the rule in words."""
    kinds = _kinds_wanted(error)
    error = _deepest(error)
    path = list(error.absolute_path)
    value = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}
    if kinds is not None:
        return [f"{key_path(path)}: {shown(path, value)} should be {kinds}"]
    if error.validator == "additionalProperties":
        known = list(schema.get("properties", {}))
        return [
            f"{key_path([*path, key])}: unknown key{_did_you_mean(key, known)}"
            for key in sorted(set(value) - set(known))
        ]
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return [f"{key_path([*path, missing])}: is required"]
    if error.validator == "uniqueItems":
        first, again = _repeat(value)
        where = key_path([*path, again])
        return [f"{where}: {shown(path, value[again])} is listed twice (also at [{first}])"]
    if "propertyNames" in error.schema_path:
        # The key itself is wrong; jsonschema reports it at the mapping that holds it.
        return [f"{key_path([*path, value])}: the key {value!r} should be {_form(error)}"]
    message = schema.get("errorMessage") or _plain(error)
    return [f"{key_path(path)}: {shown(path, value)} {message}"]


def _did_you_mean(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f" (the keys here are {', '.join(known)})" if known else ""


def _repeat(items: list[Any]) -> tuple[int, int]:
    """The indexes of the first item that comes again, and where it comes again."""
    for again, item in enumerate(items):
        for first in range(again):
            if items[first] == item:
                return first, again
    return 0, 0


def _does_not_fit(error: jsonschema.ValidationError) -> bool:
    """A branch of oneOf/anyOf that is about another kind of value altogether."""
    return error.validator in ("type", "const") and not error.relative_path


def _kinds_wanted(error: jsonschema.ValidationError) -> str | None:
    """'text or a mapping (…)' when a value fits none of the branches' kinds."""
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return None
    if not all(_does_not_fit(e) for e in error.context):
        return None
    kinds = [
        repr(e.validator_value) if e.validator == "const" else TYPE_WORDS[e.validator_value]
        for e in error.context
        if isinstance(e.validator_value, str)
    ]
    return " or ".join(dict.fromkeys(kinds)) or None


def _deepest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """For 'not valid under any of the given schemas', the error of the closest branch."""
    while error.context:
        # Prefer the branch whose kind fits: a dict given for "string or object" is
        # wrong inside the object, not for being a dict.
        fitting = [e for e in error.context if not _does_not_fit(e)] or error.context
        best = jsonschema.exceptions.best_match(fitting)
        if best is None:
            break
        error = best
    return error


def _form(error: jsonschema.ValidationError) -> str:
    return PATTERN_WORDS.get(error.validator_value) or (
        f"of the form the pattern {error.validator_value} describes"
    )


def _plain(error: jsonschema.ValidationError) -> str:
    """The rule that was broken, in words (the value is put in front by the caller)."""
    rule, value = error.validator_value, error.instance
    match error.validator:
        case "pattern":
            return f"should be {_form(error)}"
        case "type":
            kinds = [rule] if isinstance(rule, str) else rule
            return f"should be {' or '.join(TYPE_WORDS.get(k, k) for k in kinds)}"
        case "enum":
            return f"should be one of {', '.join(map(str, rule))}"
        case "const":
            return f"should be {rule!r}"
        case "minLength":
            return f"is too short: needs at least {_n(rule, 'character')}"
        case "maxLength":
            return f"is too long: at most {_n(rule, 'character')} (it has {len(value)})"
        case "minItems":
            return f"has {_n(len(value), 'item')}: needs at least {_n(rule, 'item')}"
        case "maxItems":
            return f"has {_n(len(value), 'item')}: at most {_n(rule, 'item')} are allowed"
        case "minProperties":
            return f"needs at least {_n(rule, 'entry', 'entries')}"
        case "minimum":
            return f"is too small: at least {rule}"
        case "maximum":
            return f"is too large: at most {rule}"
        case "not":
            return "is not allowed here"
        case _:
            # jsonschema's own words, which begin with the value (already in front).
            return error.message.removeprefix(f"{value!r} ")


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"
