"""The pickup code: the only key to a letter, shown to the young person once.

Six words drawn from a fixed list of 2,048 short Danish words (words.txt beside this
module: common words of four to six letters, none of them one letter from another, none
that reads badly), so 66 bits: guessing one letter's code among a million letters takes
longer than the universe has existed, and the wrong guesses are rate limited besides.
Written as words, a code survives being copied by hand, read aloud or typed on another
phone: what is typed is read case-insensitively, with any spaces, dashes or punctuation
between the words.

Only a slow hash of the code is stored (scrypt, so a copy of the database cannot be
searched for codes either), with a fixed salt, so a code finds its letter by its hash.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from functools import cache
from pathlib import Path

WORDS_IN_A_CODE = 6
_WORDS_FILE = Path(__file__).with_name("words.txt")
# Fixed, so the same code always has the same hash; it keeps the hashes of this
# service apart from any other's.
_SALT = b"ungechat:letter-pickup-code:v1"
_SPLIT = re.compile(r"[^a-zæøå]+")
# Typed without Danish letters on a foreign keyboard.
_ASCII = {"aa": "å", "ae": "æ", "oe": "ø"}


@cache
def words() -> tuple[str, ...]:
    listed = tuple(_WORDS_FILE.read_text(encoding="utf-8").split())
    assert len(listed) == 2048 and len(set(listed)) == 2048, "words.txt must hold 2048 words"
    return listed


@cache
def _known() -> frozenset[str]:
    return frozenset(words())


def new_code() -> str:
    """A fresh code: six words joined by dashes, e.g. 'kaffe-bølge-linje-stor-mango-vise'."""
    return "-".join(secrets.choice(words()) for _ in range(WORDS_IN_A_CODE))


def normalise(typed: str) -> str | None:
    """The code as stored from what someone typed, or None if it cannot be a code
    (the wrong number of words, or a word not on the list). Says nothing more."""
    if len(typed) > 200:
        return None
    parts = [p for p in _SPLIT.split(typed.lower()) if p]
    known = _known()
    found = []
    for part in parts:
        if part not in known:
            for ascii_form, letter in _ASCII.items():
                part = part.replace(ascii_form, letter)
        found.append(part)
    if len(found) != WORDS_IN_A_CODE or not all(p in known for p in found):
        return None
    return "-".join(found)


def hash_code(code: str) -> str:
    """scrypt of the normalised code: about 20 ms and 16 MB per try."""
    return hashlib.scrypt(code.encode(), salt=_SALT, n=2**14, r=8, p=1, dklen=32).hex()
