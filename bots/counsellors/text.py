"""What a counsellor's message means, read the same way by the command parser and by the
youth page's projection: is it a command or note (`!…`), which never reaches the young
person?

Both read the text through `normalise`, so a message can't be a note to one and an
ordinary message to the other. Detection fails closed: a text that starts with anything
invisible (format characters, zero-width and other default-ignorable code points, spaces
of any kind, combining marks with nothing to combine with) or with a character that looks
like an exclamation mark (fullwidth `！`, `ǃ`, `❗`, …) counts as a command.
"""

from __future__ import annotations

import unicodedata

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): shown as nothing.
# Most are category Cf, but not all (U+115F HANGUL CHOSEONG FILLER is a letter).
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
# Categories that show nothing at the start of a message: controls, format characters,
# separators (every kind of space), marks with no base, unassigned and private use.
_INVISIBLE_AT_START = {"Cc", "Cf", "Cn", "Co", "Zs", "Zl", "Zp", "Mn", "Me", "Mc"}
# Blank-looking symbols that are neither spaces nor format characters.
_BLANK_SYMBOLS = {"\u2800", "\u3000", "\u115f", "\u1160", "\u3164", "\uffa0"}
# Characters read as "!" (after NFKC, which already folds ！ ﹗ ︕ into "!"), from
# Unicode's confusables.txt and the emoji that render as an exclamation mark.
COMMAND_MARKS = frozenset("!ǃⵑ❗❕ꜝ¡ꜞꜟ")


def _ignorable(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _DEFAULT_IGNORABLE)


def _invisible(ch: str) -> bool:
    return _ignorable(ch) or ch in _BLANK_SYMBOLS or unicodedata.category(ch) in _INVISIBLE_AT_START


def normalise(text: str) -> str:
    """NFKC, without default-ignorable code points anywhere, and without anything
    invisible at the start."""
    folded = unicodedata.normalize("NFKC", "".join(ch for ch in text if not _ignorable(ch)))
    start = 0
    while start < len(folded) and _invisible(folded[start]):
        start += 1
    return folded[start:]


def is_command(text: str) -> bool:
    """A command or a note for the counsellors: never shown to the young person."""
    visible = normalise(text)
    return bool(visible) and visible[0] in COMMAND_MARKS


def command_text(text: str) -> str | None:
    """What follows the command mark ('luk ensomhed' for '\u200b！luk ensomhed'), or None
    if the text is not a command."""
    visible = normalise(text)
    if not visible or visible[0] not in COMMAND_MARKS:
        return None
    return visible[1:]
