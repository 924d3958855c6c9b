"""Commands in a conversation room: close it with topics, add topics, keep it after the
end for a duty to notify, call colleagues to help, write a note for the other
counsellors."""

from __future__ import annotations

import datetime as dt
import html

import structlog

from bots.config.model import Config
from bots.conversation.duty import DutyRoster
from bots.conversation.lobby import matrix_to, mention_pills
from bots.conversation.machine import Conversations
from bots.conversation.states import OPEN, EndedBy
from bots.conversation.store import ConversationRepo
from bots.counsellors.care import Care, is_heavy
from bots.counsellors.invocation import Invocation, danish_day, reply
from bots.counsellors.registry import Where, command
from bots.db.models import utcnow
from bots.matrix.errors import MatrixError
from bots.matrix.links import Homeservers
from bots.texts import counsellor_text

log = structlog.get_logger(__name__)


class ConversationCommands:
    def __init__(
        self,
        config: Config,
        repo: ConversationRepo,
        conversations: Conversations,
        duty: DutyRoster,
        homeservers: Homeservers,
        care: Care,
    ) -> None:
        self.config = config
        self.repo = repo
        self.conversations = conversations
        self.duty = duty
        self.homeservers = homeservers
        self.care = care

    def _topics(self, inv: Invocation) -> tuple[list[str], list[str]]:
        allowed = inv.municipality.topics
        chosen = [t.lower().strip(",.") for t in inv.args]
        return [t for t in chosen if t in allowed], [t for t in chosen if t not in allowed]

    async def _refuse_topics(self, inv: Invocation, unknown: list[str]) -> None:
        await reply(
            inv,
            counsellor_text(
                "topics_unknown",
                inv.lang,
                unknown=", ".join(unknown),
                topics=", ".join(inv.municipality.topics),
            ),
        )

    @command(
        "luk",
        "close",
        where=Where.CONVERSATION,
        usage="[emne …]",
        da="afslut samtalen (med emner); den slettes, medmindre den er bevaret",
        en="end the conversation (with topics); it is deleted unless kept",
    )
    async def close(self, inv: Invocation) -> None:
        assert inv.conv is not None
        known, unknown = self._topics(inv)
        if unknown:
            await self._refuse_topics(inv, unknown)
            return
        if inv.conv.hold_days:
            until = danish_day(utcnow() + dt.timedelta(days=inv.conv.hold_days))
            await reply(
                inv,
                counsellor_text("closing_held", inv.lang, until=until, short=inv.conv.id[:6]),
            )
        else:
            await reply(inv, counsellor_text("closing", inv.lang))
        closed = await self.conversations.close(inv.conv.id, EndedBy.COUNSELLOR, topics=known)
        topics = [*(inv.conv.topics or []), *known]
        if closed and is_heavy(inv.municipality, inv.conv, topics):
            try:
                await self.care.after(inv.municipality, inv.conv, inv.sender)
            except MatrixError as exc:  # a kind word lost is no reason to fail the close
                log.warning("care_not_sent", conversation=inv.conv.id, error=exc.errcode)

    @command(
        "emne",
        "topic",
        where=Where.CONVERSATION,
        usage="emne …",
        da="tilføj emner, inden samtalen lukkes",
        en="add topics before closing",
    )
    async def topic(self, inv: Invocation) -> None:
        assert inv.conv is not None
        known, unknown = self._topics(inv)
        if unknown:
            await self._refuse_topics(inv, unknown)
            return
        if not known:
            listed = ", ".join(inv.municipality.topics)
            await reply(inv, counsellor_text("topics_usage", inv.lang, topics=listed))
            return
        tagged = list(dict.fromkeys([*(inv.conv.topics or []), *known]))
        await self.repo.set(inv.conv.id, topics=tagged)
        await reply(inv, counsellor_text("topics_added", inv.lang, topics=", ".join(tagged)))

    @command(
        "akut",
        "urgent",
        where=Where.CONVERSATION,
        da="kald kollegerne på vagt til hjælp i personalerummet, nu",
        en="call the colleagues on duty for help, in the staff room, now",
    )
    async def urgent(self, inv: Invocation) -> None:
        m = inv.municipality
        link = self.homeservers.of(m)
        rooms = await self.homeservers.rooms(m)
        on_duty = [u for u in await self.duty.on_duty(m.slug) if u != inv.sender]
        users = on_duty or [u for u in m.counsellors if u != inv.sender]
        plain, rich = mention_pills(users)
        url = matrix_to(inv.room_id, [link.registration.server_name])
        anchor = f'<a href="{url}">{url}</a>'
        content = {
            "msgtype": "m.text",
            "body": counsellor_text(
                "akut_alert", inv.lang, mentions=plain, who=inv.sender, link=url
            ),
            "format": "org.matrix.custom.html",
            "formatted_body": counsellor_text(
                "akut_alert", inv.lang, mentions=rich, who=html.escape(inv.sender), link=anchor
            ),
            "m.mentions": {"user_ids": users},
        }
        await link.bot.send(rooms.staff_id, "m.room.message", content, f"akut-{inv.event_id}")
        if inv.conv is not None:
            await self.repo.set(inv.conv.id, akut_at=utcnow())
        await reply(inv, counsellor_text("akut_sent", inv.lang))

    @command(
        "bevar",
        "keep",
        where=Where.CONVERSATION,
        usage="[dage]",
        da="bevar samtalen efter den slutter (underretning); standard er sletning",
        en="keep the conversation after it ends (duty to notify); deletion is the default",
    )
    async def keep(self, inv: Invocation) -> None:
        assert inv.conv is not None
        most = inv.municipality.timeouts.max_hold.days
        if (inv.args and not inv.args[0].isdigit()) or inv.conv.state not in OPEN:
            await reply(inv, counsellor_text("hold_usage", inv.lang, max=most))
            return
        days = int(inv.args[0]) if inv.args else most
        if days == 0:  # `!bevar 0`: changed one's mind; deletion at the end again
            await self.repo.set(inv.conv.id, hold_days=None)
            await reply(inv, counsellor_text("hold_cancelled", inv.lang))
            return
        lines = []
        if days > most:
            lines.append(counsellor_text("hold_capped", inv.lang, max=most))
            days = most
        await self.repo.set(inv.conv.id, hold_days=days)
        # Counted from the end, which has not come yet: "if it ended now".
        until = danish_day(utcnow() + dt.timedelta(days=days))
        lines.append(
            counsellor_text("hold_set", inv.lang, days=days, until=until, short=inv.conv.id[:6])
        )
        await reply(inv, "\n".join(lines))

    @command(
        "intern",
        "note",
        where=Where.CONVERSATION,
        usage="tekst",
        da="en note til de andre rådgivere i rummet; den unge ser den aldrig",
        en="a note for the other counsellors in the room; never shown to the young person",
    )
    async def note(self, inv: Invocation) -> None:
        """Nothing to do: being a `!` message keeps it from the youth page."""
