"""Counsellors' commands as a small registry: each is a method marked with `@command`,
naming the command, its English aliases, where it works and its help text. `!hjælp` is
generated from the registry, so the list can't drift from what the bot does.

A registry belongs to one handler object (no class-level or module-level state), so two
bots can live in one process.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bots.counsellors.text import command_text
from bots.texts import counsellor_text


class Where(enum.Enum):
    CONVERSATION = "conversation"
    LOBBY = "lobby"
    ANYWHERE = "anywhere"


@dataclass(frozen=True)
class Spec:
    name: str
    aliases: tuple[str, ...]
    where: Where
    usage: str
    help: dict[str, str]  # language → one line


Handler = Callable[..., Awaitable[None]]
SPEC_ATTRIBUTE = "_ungechat_command"


def command(
    name: str, *aliases: str, where: Where, usage: str = "", da: str, en: str
) -> Callable[[Handler], Handler]:
    """Mark a handler method as the command `!name` (and `!alias`)."""

    def mark(handler: Handler) -> Handler:
        setattr(handler, SPEC_ATTRIBUTE, Spec(name, aliases, where, usage, {"da": da, "en": en}))
        return handler

    return mark


@dataclass(frozen=True)
class Bound:
    spec: Spec
    handler: Handler


class CommandRegistry:
    def __init__(self, *owners: Any) -> None:
        """Collect the marked methods of each of `owners` (a group of commands), bound
        to it."""
        self.commands: list[Bound] = []
        self._by_word: dict[str, Bound] = {}
        for owner in owners:
            for attribute in dir(type(owner)):
                spec = getattr(getattr(type(owner), attribute), SPEC_ATTRIBUTE, None)
                if not isinstance(spec, Spec):
                    continue
                bound = Bound(spec, getattr(owner, attribute))
                self.commands.append(bound)
                for word in (spec.name, *spec.aliases):
                    if word in self._by_word:
                        raise ValueError(f"two commands answer to !{word}")
                    self._by_word[word] = bound
        order = [Where.CONVERSATION, Where.LOBBY, Where.ANYWHERE]
        self.commands.sort(key=lambda b: (order.index(b.spec.where), b.spec.name))

    def find(self, word: str) -> Bound | None:
        return self._by_word.get(word.lower())

    def help_text(self, lang: str) -> str:
        """Every command, in the order a shift uses them (SHIFT_ORDER)."""
        lines = [counsellor_text("help_title", lang)]
        order = {name: i for i, name in enumerate(SHIFT_ORDER)}
        for bound in sorted(self.commands, key=lambda b: order.get(b.spec.name, len(order))):
            spec = bound.spec
            names = " / ".join(f"!{n}" for n in (spec.name, *spec.aliases))
            usage = f" {spec.usage}" if spec.usage else ""
            place = ""
            if spec.where == Where.LOBBY:
                place = f" ({counsellor_text('where_lobby', lang)})"
            text = spec.help.get(lang) or spec.help["da"]
            lines.append(f"• {names}{usage} – {text}{place}")
        return "\n".join(lines)


# `!hjælp` and docs/counsellors.md list the commands as a shift meets them: on duty, in
# a conversation (answer, note, topics, help, hand on, keep), its end, off duty, and after.
SHIFT_ORDER = (
    "vagt",
    "haster",
    "svar",
    "intern",
    "emne",
    "akut",
    "overfør",
    "del",
    "bevar",
    "luk",
    "slet",
    "hjælp",
)


def parse(body: str) -> tuple[str, list[str], str] | None:
    """'!luk ensomhed familie' → ('luk', ['ensomhed', 'familie'], 'ensomhed familie').

    Every counsellor message that starts with '!' (after anything invisible, and any
    character that looks like '!') is a command, known or not, and is never shown to the
    young person: both read it through `bots.counsellors.text` (see bots/intake/projection.py)."""
    text = command_text(body)
    if text is None:
        return None
    head, _, rest = text.strip().partition(" ")
    if not head:
        return None
    return head.lower(), rest.split(), rest.strip()
