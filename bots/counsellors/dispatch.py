"""What counsellors can tell the bot from Element, as `!` commands: from a counsellor's
message to the command it names, in the place where it works.

Only counsellors listed in the config are heard (after a transfer, counsellors of both
municipalities may be in the room). A young person typing `!luk` is just writing. Every
counsellor message starting with `!` stays among the counsellors: the youth page never
shows it (so `!intern` notes need no handler). The commands themselves are in groups
(conversation_commands, lobby_commands, network_commands); `!hjælp` is generated from
them all.
"""

from __future__ import annotations

import secrets

import structlog

from bots.config.model import Config
from bots.counsellors.invocation import Invocation, reply
from bots.counsellors.registry import CommandRegistry, Where, command, parse
from bots.texts import counsellor_text

log = structlog.get_logger(__name__)


class CounsellorCommands:
    def __init__(self, config: Config, *groups: object) -> None:
        self.config = config
        self.registry = CommandRegistry(self, *groups)

    async def handle(self, inv: Invocation, body: str) -> bool:
        """Run `body` if it is a command from a counsellor; False if it is not one."""
        parsed = parse(body)
        if parsed is None or not self.config.is_counsellor(inv.sender):
            return False
        word, inv.args, inv.rest = parsed
        bound = self.registry.find(word)
        if bound is None:
            await reply(inv, counsellor_text("unknown_command", inv.lang, command=word))
            return True
        here = Where.CONVERSATION if inv.conv is not None else Where.LOBBY
        if bound.spec.where not in (here, Where.ANYWHERE):
            where = counsellor_text(f"where_{bound.spec.where.value}", inv.lang)
            await reply(inv, counsellor_text("not_here", inv.lang, command=word, where=where))
            return True
        try:
            await bound.handler(inv)
        except Exception:
            # The counsellor gets a reference; the log has the detail (never message text).
            reference = secrets.token_hex(3)
            log.exception("command_failed", command=bound.spec.name, reference=reference)
            await reply(inv, counsellor_text("command_failed", inv.lang, reference=reference))
        return True

    @command(
        "hjælp",
        "hjaelp",
        "help",
        where=Where.ANYWHERE,
        da="vis alle kommandoer",
        en="show every command",
    )
    async def help(self, inv: Invocation) -> None:
        text = self.registry.help_text(inv.lang)
        answers = self.config.answers_for(inv.municipality)
        if answers:
            names = ", ".join(answers)
            text += "\n" + counsellor_text("answers_in_help", inv.lang, names=names)
        await reply(inv, text)
