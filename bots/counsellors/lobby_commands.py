"""Commands in the lobby (Kø): go on and off duty, put a waiting conversation first
(`!haster`), delete a kept conversation sooner."""

from __future__ import annotations

from bots.conversation.duty import DutyRoster
from bots.conversation.machine import Conversations
from bots.conversation.states import IN_QUEUE, State
from bots.conversation.store import ConversationRepo
from bots.conversation.urgency import Urgency
from bots.counsellors.invocation import Invocation, reply
from bots.counsellors.registry import Where, command
from bots.texts import counsellor_text


class LobbyCommands:
    def __init__(
        self,
        repo: ConversationRepo,
        conversations: Conversations,
        duty: DutyRoster,
        urgency: Urgency,
    ) -> None:
        self.repo = repo
        self.conversations = conversations
        self.roster = duty
        self.urgency = urgency

    @command(
        "haster",
        "urgent-first",
        where=Where.LOBBY,
        usage="ID",
        da="en ventende samtale haster: først i køen, dem på vagt får besked",
        en="a waiting conversation is urgent: first in the queue, those on duty are told",
    )
    async def urgent_first(self, inv: Invocation) -> None:
        waiting = [
            c for c in await self.repo.in_states(IN_QUEUE) if c.kommune == inv.municipality.slug
        ]
        wanted = inv.args[0].lower() if inv.args else ""
        match = [c for c in waiting if wanted and c.id.startswith(wanted)]
        if len(match) != 1:
            listed = ", ".join(c.id[:6] for c in waiting) or "–"
            await reply(inv, counsellor_text("urgent_usage", inv.lang, waiting=listed))
            return
        await self.urgency.mark(match[0].id)
        await reply(inv, counsellor_text("urgent_marked", inv.lang, short=match[0].id[:6]))

    @command(
        "vagt",
        "duty",
        where=Where.LOBBY,
        usage="start | slut",
        da="gå på eller af vagt; den unge ser kun, hvor mange der er på vagt",
        en="go on or off duty; young people only see how many are on duty",
    )
    async def duty(self, inv: Invocation) -> None:
        roster = self.roster
        kommune = inv.municipality.slug
        action = inv.args[0].lower() if inv.args else ""
        if action in ("start", "on", "til"):
            key = "duty_started" if await roster.start(kommune, inv.sender) else "duty_already"
        elif action in ("slut", "stop", "end", "off", "fra"):
            key = "duty_ended" if await roster.end(kommune, inv.sender) else "duty_not_on"
        else:
            key = "duty_usage"
        count = await roster.count(kommune)
        await reply(inv, counsellor_text(key, inv.lang, who=inv.sender, count=count))

    @command(
        "slet",
        "delete",
        where=Where.LOBBY,
        usage="ID",
        da="slet en bevaret samtale nu (id'et står i Kø)",
        en="delete a kept conversation now (the id is shown in Kø)",
    )
    async def delete(self, inv: Invocation) -> None:
        held = [
            c for c in await self.repo.in_states([State.HELD]) if c.kommune == inv.municipality.slug
        ]
        wanted = inv.args[0].lower() if inv.args else ""
        match = [c for c in held if wanted and c.id.startswith(wanted)]
        if len(match) != 1:
            listed = ", ".join(c.id[:6] for c in held) or "–"
            await reply(inv, counsellor_text("delete_usage", inv.lang, held=listed))
            return
        await reply(inv, counsellor_text("deleting", inv.lang, short=match[0].id[:6]))
        await self.conversations.release_hold(match[0].id)
