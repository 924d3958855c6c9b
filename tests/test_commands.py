"""The command registry: parsing, one handler per word, and !hjælp and the counsellors'
guide (docs/counsellors.md) naming every command the bot answers to."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.counsellors.answer_commands import AnswerCommands
from bots.counsellors.conversation_commands import ConversationCommands
from bots.counsellors.dispatch import CounsellorCommands
from bots.counsellors.lobby_commands import LobbyCommands
from bots.counsellors.network_commands import NetworkCommands
from bots.counsellors.registry import CommandRegistry, Where, command, parse

GUIDE = Path(__file__).parent.parent / "docs" / "counsellors.md"


def registry() -> CommandRegistry:
    """The real registry, without a running bot behind it (only the specs are read)."""
    # The registry reads the groups' classes; the commands are not run here.
    groups = (
        CounsellorCommands,
        ConversationCommands,
        AnswerCommands,
        LobbyCommands,
        NetworkCommands,
    )
    return CommandRegistry(*(group.__new__(group) for group in groups))


@pytest.mark.parametrize(
    ("body", "parsed"),
    [
        ("!luk ensomhed familie", ("luk", ["ensomhed", "familie"], "ensomhed familie")),
        ("!LUK", ("luk", [], "")),
        ("!vagt  start ", ("vagt", ["start"], "start")),
        ("!", None),
        (
            "  !intern husk at spørge til skolen",
            ("intern", ["husk", "at", "spørge", "til", "skolen"], "husk at spørge til skolen"),
        ),
        ("hej !luk", None),
        ("luk", None),
    ],
)
def test_parse(body: str, parsed: tuple | None) -> None:
    assert parse(body) == parsed


def test_every_word_finds_one_command_in_either_language() -> None:
    reg = registry()
    assert reg.find("luk") is reg.find("close") is reg.find("LUK")
    assert reg.find("overfør") is reg.find("transfer")
    assert reg.find("vagt").spec.where == Where.LOBBY
    assert reg.find("hjælp").spec.where == Where.ANYWHERE
    assert reg.find("fly") is None


def test_two_commands_cannot_share_a_word() -> None:
    class Clash:
        @command("luk", where=Where.CONVERSATION, da="a", en="a")
        async def one(self, inv: object) -> None: ...

        @command("close", "luk", where=Where.CONVERSATION, da="b", en="b")
        async def two(self, inv: object) -> None: ...

    with pytest.raises(ValueError, match="!luk"):
        CommandRegistry(Clash())


def test_help_and_the_guide_name_every_command() -> None:
    reg = registry()
    guide = GUIDE.read_text(encoding="utf-8")
    help_da, help_en = reg.help_text("da"), reg.help_text("en")
    for bound in reg.commands:
        for word in (bound.spec.name, *bound.spec.aliases):
            assert f"!{word}" in help_da and f"!{word}" in help_en
            assert f"!{word}" in guide, f"docs/counsellors.md does not mention !{word}"


def test_help_lists_every_command_in_the_order_a_shift_uses_them() -> None:
    text = registry().help_text("da")
    order = [line.split()[1].split("/")[0] for line in text.splitlines()[1:]]
    assert order[0] == "!vagt" and order[-1] == "!hjælp"
    assert order.index("!svar") < order.index("!luk") < order.index("!slet")
    assert sorted(order) == sorted(f"!{b.spec.name}" for b in registry().commands)
