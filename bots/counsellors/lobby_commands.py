"""Commands in the lobby (Kø): go on and off duty, put a waiting conversation first
(`!haster`), delete a kept conversation sooner."""

from __future__ import annotations

from bots.conversation.duty import DutyRoster
from bots.conversation.machine import Conversations
from bots.conversation.states import IN_QUEUE, LIVE, State
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
        usage="start | slut [behold | overdrag]",
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
            if await self._still_holding(inv, inv.args[1:2]):
                return
            key = "duty_ended" if await roster.end(kommune, inv.sender) else "duty_not_on"
        else:
            key = "duty_usage"
        count = await roster.count(kommune)
        await reply(inv, counsellor_text(key, inv.lang, who=inv.sender, count=count))

    async def _still_holding(self, inv: Invocation, choice: list[str]) -> bool:
        """Going off duty with conversations still under way: ask what should happen to
        them first (True: asked, nothing done). `behold` keeps them (you stay in them
        until they end); `overdrag` puts you out of them, so each goes back to the queue
        for a colleague, as when a counsellor leaves. A youth is never left with nobody."""
        mine = [
            c
            for c in await self.repo.in_states(LIVE)
            if c.kommune == inv.municipality.slug and inv.sender in (c.counsellors or [])
        ]
        answer = choice[0].lower() if choice else ""
        if not mine or answer in ("behold", "keep"):
            return False
        if answer in ("overdrag", "handover"):
            for conv in mine:
                if conv.room_id:
                    reason = counsellor_text("handed_back_reason", inv.lang)
                    await inv.link.bot.kick(conv.room_id, inv.sender, reason)
            return False
        shorts = ", ".join(c.id[:6] for c in mine)
        await reply(inv, counsellor_text("duty_still_holding", inv.lang, conversations=shorts))
        return True

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
