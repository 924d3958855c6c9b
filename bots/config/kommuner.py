"""The 98 Danish municipalities (kommuner), from the data file beside this module.

A config names a municipality by its slug; this is how a slug or a name is checked
against the real list, and how a typo gets a suggestion instead of a silent new space.
"""

from __future__ import annotations

import csv
import difflib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_FILE = Path(__file__).with_name("kommuner.csv")
_ASCII = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", " ": "-"})


@dataclass(frozen=True)
class Kommune:
    code: str  # the official three-digit kommunekode, e.g. "260"
    name: str  # short name, e.g. "Halsnæs"
    official_name: str  # e.g. "Halsnæs Kommune", "Københavns Kommune"
    slug: str  # e.g. "halsnaes"
    region: str


def slugify(name: str) -> str:
    """'Ringkøbing-Skjern' → 'ringkoebing-skjern' (æ→ae, ø→oe, å→aa, spaces → '-')."""
    text = name.strip().lower().removesuffix(" kommune").translate(_ASCII)
    return "-".join(part for part in text.split("-") if part)


@cache
def all_kommuner() -> tuple[Kommune, ...]:
    with DATA_FILE.open(encoding="utf-8", newline="") as f:
        lines = (line for line in f if not line.startswith("#"))
        return tuple(Kommune(**row) for row in csv.DictReader(lines))


@cache
def _by_slug() -> dict[str, Kommune]:
    return {k.slug: k for k in all_kommuner()}


def by_slug(slug: str) -> Kommune | None:
    return _by_slug().get(slug)


def accepted_names(kommune: Kommune) -> set[str]:
    """How a config may name it: 'Halsnæs Kommune' (official) or just 'Halsnæs'."""
    return {kommune.official_name, kommune.name}


def suggest(text: str) -> Kommune | None:
    """The municipality a mistyped slug or name most likely means, if any is close."""
    guess = slugify(text)
    exact = by_slug(guess)
    if exact is not None:
        return exact
    # Writing ø as o (or æ as a, å as a) is the commonest slip: compare the plain forms.
    plain = {_plain(k.slug): k for k in all_kommuner()}
    if _plain(guess) in plain:
        return plain[_plain(guess)]
    match = difflib.get_close_matches(guess, list(_by_slug()), n=1, cutoff=0.75)
    return by_slug(match[0]) if match else None


def _plain(slug: str) -> str:
    return slug.replace("oe", "o").replace("ae", "a").replace("aa", "a")
