"""What counsellors can tell the bot from Element, as `!` commands.

Only counsellors listed in the config are heard (after a transfer, counsellors of both
municipalities may be in the room). A young person typing `!luk` is just writing.
Every counsellor message starting with `!` stays among the counsellors: the youth page
never shows it (so `!intern` notes need no handler).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import secrets
from dataclasses import dataclass

import structlog

from bots.case_notes import identifying, post_case_note
from bots.commands import CommandRegistry, Where, command, parse
from bots.config import Municipality
from bots.db.models import Conversation, EndedBy, State
from bots.db.repo import utcnow
from bots.hours import COPENHAGEN, describe_next_opening
from bots.lifecycle import OPEN_STATES, Conversations
from bots.lobby import matrix_to, mention_pills
from bots.matrix.links import HomeserverLink
from bots.texts import counsellor_text
from bots.transfer import TRANSFERABLE, start_transfer

log = structlog.get_logger(__name__)


def danish_day(moment: dt.datetime) -> str:
    return moment.astimezone(COPENHAGEN).strftime("%d.%m.%Y")


@dataclass
class Invocation:
    sender: str
    args: list[str]
    rest: str
    event_id: str
    room_id: str
    municipality: Municipality
    link: HomeserverLink  # the homeserver the reply goes through
    conv: Conversation | None = None

    @property
    def lang(self) -> str:
        return self.municipality.counsellor_language


class CounsellorCommands:
    def __init__(self, convs: Conversations) -> None:
        self.convs = convs
        self.registry = CommandRegistry(self)

    # -- dispatch ----------------------------------------------------------------------

    async def handle(self, inv: Invocation, body: str) -> bool:
        """Run `body` if it is a command from a counsellor; False if it is not one."""
        parsed = parse(body)
        if parsed is None or not self.convs.is_counsellor(inv.sender):
            return False
        word, inv.args, inv.rest = parsed
        bound = self.registry.find(word)
        if bound is None:
            await self.reply(inv, counsellor_text("unknown_command", inv.lang, command=word))
            return True
        here = Where.CONVERSATION if inv.conv is not None else Where.LOBBY
        if bound.spec.where not in (here, Where.ANYWHERE):
            where = counsellor_text(f"where_{bound.spec.where.value}", inv.lang)
            await self.reply(inv, counsellor_text("not_here", inv.lang, command=word, where=where))
            return True
        try:
            await bound.handler(inv)
        except Exception:
            # The counsellor gets a reference; the log has the detail (never message text).
            reference = secrets.token_hex(3)
            log.exception("command_failed", command=bound.spec.name, reference=reference)
            await self.reply(inv, counsellor_text("command_failed", inv.lang, reference=reference))
        return True

    async def reply(self, inv: Invocation, text: str) -> None:
        """Answer the command. A command may answer more than once (say, "transferring"
        and then "something went wrong"); each answer has its own transaction id, the
        same on a retry of the same answer."""
        content = {
            "msgtype": "m.notice",
            "body": text,
            "m.relates_to": {"m.in_reply_to": {"event_id": inv.event_id}},
        }
        txn = f"re-{inv.event_id}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"
        await inv.link.bot.send(inv.room_id, "m.room.message", content, txn)

    # -- in a conversation -------------------------------------------------------------

    def _topics(self, inv: Invocation) -> tuple[list[str], list[str]]:
        allowed = inv.municipality.topics
        chosen = [t.lower().strip(",.") for t in inv.args]
        return [t for t in chosen if t in allowed], [t for t in chosen if t not in allowed]

    async def _refuse_topics(self, inv: Invocation, unknown: list[str]) -> None:
        await self.reply(
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
            await self.reply(
                inv,
                counsellor_text("closing_held", inv.lang, until=until, short=inv.conv.id[:6]),
            )
        else:
            await self.reply(inv, counsellor_text("closing", inv.lang))
        await self.convs.close(inv.conv.id, EndedBy.COUNSELLOR, topics=known)

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
            await self.reply(inv, counsellor_text("topics_usage", inv.lang, topics=listed))
            return
        tagged = list(dict.fromkeys([*(inv.conv.topics or []), *known]))
        await self.convs.repo.set(inv.conv.id, topics=tagged)
        await self.reply(inv, counsellor_text("topics_added", inv.lang, topics=", ".join(tagged)))

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
        others = [m for m in self.convs.config.municipalities if m.slug != inv.conv.kommune]
        choices = ", ".join(m.slug for m in others) or "–"
        if not inv.args:
            example = others[0].slug if others else "kommune"
            await self.reply(
                inv,
                counsellor_text("transfer_usage", inv.lang, example=example, choices=choices),
            )
            return
        target = next((m for m in others if m.slug == inv.args[0].lower()), None)
        if target is None:
            await self.reply(
                inv,
                counsellor_text("transfer_unknown", inv.lang, slug=inv.args[0], choices=choices),
            )
            return
        if inv.conv.state not in TRANSFERABLE:
            return
        if not await self.convs.links[target.homeserver].bot.reachable():
            await self.reply(
                inv, counsellor_text("transfer_unreachable", inv.lang, target=target.name)
            )
            return
        # Handing a youth to a chat that is closed, or has nobody to answer, would only
        # end in "we did not manage to answer you": it stays here instead.
        now = utcnow()
        if not target.opening_hours.is_open(now):
            opens = target.opening_hours.next_opening(now)
            when = describe_next_opening(now, opens, inv.lang) if opens else "–"
            await self.reply(
                inv, counsellor_text("transfer_closed", inv.lang, target=target.name, when=when)
            )
            return
        if await self.convs.duty.count(target.slug) == 0:
            await self.reply(
                inv, counsellor_text("transfer_nobody_on_duty", inv.lang, target=target.name)
            )
            return
        await self.reply(inv, counsellor_text("transfer_started", inv.lang, target=target.name))
        await start_transfer(self.convs, inv.conv, target)

    @command(
        "akut",
        "urgent",
        where=Where.CONVERSATION,
        da="kald kollegerne på vagt til hjælp i personalerummet, nu",
        en="call the colleagues on duty for help, in the staff room, now",
    )
    async def urgent(self, inv: Invocation) -> None:
        m = inv.municipality
        link = self.convs.links[m.homeserver]
        rooms = await self.convs.directory.rooms(link, m.slug)
        on_duty = [u for u in await self.convs.duty.on_duty(m.slug) if u != inv.sender]
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
        await self.reply(inv, counsellor_text("akut_sent", inv.lang))

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
        if (inv.args and not inv.args[0].isdigit()) or inv.conv.state not in OPEN_STATES:
            await self.reply(inv, counsellor_text("hold_usage", inv.lang, max=most))
            return
        days = int(inv.args[0]) if inv.args else most
        if days == 0:  # `!bevar 0`: changed one's mind; deletion at the end again
            await self.convs.repo.set(inv.conv.id, hold_days=None)
            await self.reply(inv, counsellor_text("hold_cancelled", inv.lang))
            return
        lines = []
        if days > most:
            lines.append(counsellor_text("hold_capped", inv.lang, max=most))
            days = most
        await self.convs.repo.set(inv.conv.id, hold_days=days)
        # Counted from the end, which has not come yet: "if it ended now".
        until = danish_day(utcnow() + dt.timedelta(days=days))
        lines.append(
            counsellor_text("hold_set", inv.lang, days=days, until=until, short=inv.conv.id[:6])
        )
        await self.reply(inv, "\n".join(lines))

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
            c
            for c in await self.convs.repo.in_states([State.HELD])
            if c.kommune == inv.municipality.slug
        ]
        wanted = inv.args[0].lower() if inv.args else ""
        match = [c for c in held if wanted and c.id.startswith(wanted)]
        if len(match) != 1:
            listed = ", ".join(c.id[:6] for c in held) or "–"
            await self.reply(inv, counsellor_text("delete_usage", inv.lang, held=listed))
            return
        await self.reply(inv, counsellor_text("deleting", inv.lang, short=match[0].id[:6]))
        await self.convs.release_hold(match[0].id)

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
        mine = [r for r in self.convs.config.sparring_rooms if inv.sender in r.members]
        rooms = ", ".join(r.id for r in mine) or "–"
        text = inv.rest.partition(" ")[2].strip()
        if not inv.args or not text:
            example = mine[0].id if mine else "netvaerk"
            await self.reply(
                inv, counsellor_text("case_note_usage", inv.lang, example=example, rooms=rooms)
            )
            return
        room = next((r for r in mine if r.id == inv.args[0].lower()), None)
        if room is None:
            await self.reply(
                inv,
                counsellor_text("case_note_not_member", inv.lang, room=inv.args[0], rooms=rooms),
            )
            return
        found = identifying(text, inv.lang)
        if found:
            what = ", ".join(found)
            await self.reply(inv, counsellor_text("case_note_identifying", inv.lang, what=what))
            return
        # The municipality the youth is talking to now, and its topics so far.
        m = self.convs.municipality(inv.conv.kommune)
        topics = inv.conv.topics or []
        topics_text = (
            counsellor_text("case_note_topics", inv.lang, topics=", ".join(topics))
            if topics
            else ""
        )
        body = counsellor_text(
            "case_note",
            inv.lang,
            kommune=m.name.removesuffix(" Kommune"),
            topics=topics_text,
            text=text,
        )
        content = {"msgtype": "m.text", "body": body}
        await post_case_note(self.convs, room, inv.sender, content, f"del-{inv.event_id}")
        await self.reply(inv, counsellor_text("case_note_shared", inv.lang, room=room.name))

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

    @command(
        "hjælp",
        "hjaelp",
        "help",
        where=Where.ANYWHERE,
        da="vis alle kommandoer",
        en="show every command",
    )
    async def help(self, inv: Invocation) -> None:
        await self.reply(inv, self.registry.help_text(inv.lang))

    # -- in the lobby ------------------------------------------------------------------

    @command(
        "vagt",
        "duty",
        where=Where.LOBBY,
        usage="start | slut",
        da="gå på eller af vagt; den unge ser kun, hvor mange der er på vagt",
        en="go on or off duty; young people only see how many are on duty",
    )
    async def duty(self, inv: Invocation) -> None:
        roster = self.convs.duty
        kommune = inv.municipality.slug
        action = inv.args[0].lower() if inv.args else ""
        if action in ("start", "on", "til"):
            key = "duty_started" if await roster.start(kommune, inv.sender) else "duty_already"
        elif action in ("slut", "stop", "end", "off", "fra"):
            key = "duty_ended" if await roster.end(kommune, inv.sender) else "duty_not_on"
        else:
            key = "duty_usage"
        count = await roster.count(kommune)
        await self.reply(inv, counsellor_text(key, inv.lang, who=inv.sender, count=count))
