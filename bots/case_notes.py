"""`!del RUM tekst`: share a case with the network's counsellors without the person.

The note goes to a sparring room as the bot, saying only which municipality and which
topics it is about: no room, no time, no counsellor, no young person. The text is the
counsellor's own, so it is checked for what most often identifies someone by accident
(a phone number, an e-mail or web address, a Matrix id, a CPR number) and refused with
the reason if it seems to hold one.
"""

from __future__ import annotations

import re

# What identifies a person most often by accident; each with what to tell the counsellor.
IDENTIFYING: list[tuple[re.Pattern[str], dict[str, str]]] = [
    (
        re.compile(r"\b\d{6}-?\d{4}\b"),
        {"da": "et CPR-nummer", "en": "a CPR number"},
    ),
    (
        re.compile(r"(?<!\d)(?:\+45[ -]?)?(?:\d[ -]?){8}(?!\d)"),
        {"da": "et telefonnummer", "en": "a phone number"},
    ),
    (
        re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),
        {"da": "en e-mailadresse", "en": "an e-mail address"},
    ),
    (
        re.compile(r"https?://|www\.|matrix\.to", re.IGNORECASE),
        {"da": "et link", "en": "a link"},
    ),
    (
        re.compile(r"[@!#][\w.=/+-]+:[\w.-]+"),
        {"da": "et Matrix-id", "en": "a Matrix id"},
    ),
]


def identifying(text: str, lang: str = "da") -> list[str]:
    """What in `text` looks like it could identify someone, in words (empty if nothing)."""
    return [what.get(lang, what["da"]) for pattern, what in IDENTIFYING if pattern.search(text)]
