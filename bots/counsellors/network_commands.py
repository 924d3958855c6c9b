"""Commands that reach beyond the municipality: hand a conversation to another
municipality's counsellors, share a case with the network without the person. The rules
are the transfer's and the case notes' (bots/conversation/transfer.py,
bots/sparring/case_notes.py); these commands only ask and answer."""

from __future__ import annotations

from bots.config.model import Config
from bots.conversation.states import TRANSFERABLE
from bots.conversation.transfer import Transfers
from bots.counsellors.invocation import Invocation, reply
from bots.counsellors.registry import Where, command
from bots.db.models import utcnow
from bots.sparring.case_notes import CaseNotes
from bots.texts import counsellor_text


class NetworkCommands:
    def __init__(self, config: Config, transfers: Transfers, case_notes: CaseNotes) -> None:
        self.config = config
        self.transfers = transfers
        self.case_notes = case_notes

    @command(
        "overfør",
        "overfoer",
        "transfer",
        where=Where.CONVERSATION,
        usage="KOMMUNE",
        da="giv samtalen videre til en anden kommunes rådgivere",
        en="hand the conversation to another municipality's counsellors",
    )
    async def transfer(self, inv: Invocation) -> None:
        assert inv.conv is not None
        others = [m for m in self.config.municipalities if m.slug != inv.conv.kommune]
        choices = ", ".join(m.slug for m in others) or "–"
        if not inv.args:
            example = others[0].slug if others else "kommune"
            await reply(
                inv,
                counsellor_text("transfer_usage", inv.lang, example=example, choices=choices),
            )
            return
        target = next((m for m in others if m.slug == inv.args[0].lower()), None)
        if target is None:
            await reply(
                inv,
                counsellor_text("transfer_unknown", inv.lang, slug=inv.args[0], choices=choices),
            )
            return
        if inv.conv.state not in TRANSFERABLE:
            return
        refusal = await self.transfers.refusal(target, utcnow(), inv.lang)
        if refusal is not None:
            key, values = refusal
            await reply(inv, counsellor_text(key, inv.lang, **values))
            return
        await reply(inv, counsellor_text("transfer_started", inv.lang, target=target.name))
        await self.transfers.start(inv.conv, target)

    @command(
        "del",
        "share",
        where=Where.CONVERSATION,
        usage="RUM tekst",
        da="del en sag anonymt i et sparringsrum (kun kommune og emner følger med)",
        en="share a case anonymously in a sparring room (only municipality and topics go)",
    )
    async def share(self, inv: Invocation) -> None:
        assert inv.conv is not None
        room_word, _, text = inv.rest.partition(" ")
        key, values = await self.case_notes.share(
            inv.sender, room_word, text.strip(), inv.conv, inv.lang, f"del-{inv.event_id}"
        )
        await reply(inv, counsellor_text(key, inv.lang, **values))
