"""How the bot's parts are put together, in one place: each part is given the few things
it uses, and nothing holds the whole. The service (bots/service.py) assembles one bot per
process; tests assemble a second one on the same database to play a restarted process.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.appservice.catch_up import CatchUp
from bots.appservice.handled import HandledEvents
from bots.appservice.router import EventRouter
from bots.config.model import Config
from bots.conversation.coaching import CoachingRooms
from bots.conversation.duty import DutyRoster
from bots.conversation.lobby import Lobby
from bots.conversation.machine import Conversations
from bots.conversation.maintenance import Maintenance
from bots.conversation.steps import Steps
from bots.conversation.store import ConversationRepo
from bots.conversation.transfer import Transfers
from bots.conversation.urgency import Urgency
from bots.conversation.voice import RoomVoice
from bots.counsellors.answer_commands import AnswerCommands
from bots.counsellors.care import Care
from bots.counsellors.conversation_commands import ConversationCommands
from bots.counsellors.dispatch import CounsellorCommands
from bots.counsellors.lobby_commands import LobbyCommands
from bots.counsellors.network_commands import NetworkCommands
from bots.letters.clock import LetterClock
from bots.letters.letterbox import Letterbox
from bots.letters.machine import Letters
from bots.letters.store import LetterRepo
from bots.matrix.links import HomeserverLink, Homeservers
from bots.signals import Signals
from bots.sparring.case_notes import CaseNotes
from bots.sparring.digest import Digests
from bots.tasks import BackgroundTasks

log = structlog.get_logger(__name__)


@dataclass
class Bot:
    config: Config
    sessions: async_sessionmaker[AsyncSession]
    homeservers: Homeservers
    repo: ConversationRepo
    duty: DutyRoster
    lobby: Lobby
    voice: RoomVoice
    steps: Steps
    conversations: Conversations
    transfers: Transfers
    maintenance: Maintenance
    letters: Letters
    letter_clock: LetterClock
    digests: Digests
    case_notes: CaseNotes
    urgency: Urgency
    commands: CounsellorCommands
    handled: HandledEvents
    router: EventRouter
    catch_up: CatchUp
    signals: Signals
    tasks: BackgroundTasks

    async def on_its_own(self, now: dt.datetime | None = None, *, stale_only: bool = True) -> None:
        """One pass of what the bot does by itself: read what the homeservers did not push
        (first, so a lost `!luk` is acted on), resume and keep the conversations' clock,
        post a digest that is due, forget old event ids. A part that fails (a homeserver
        or the database away) is tried again on the next pass; the others go on."""
        parts: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("catch_up", self.catch_up.run),
            ("maintenance", lambda: self.maintenance.run(now, stale_only=stale_only)),
            ("letters", lambda: self.letter_clock.run(now)),
            ("digest", lambda: self.digests.post_due(now)),
            ("handled_events", self.handled.forget_older_than),
        ]
        for name, part in parts:
            try:
                await part()
            except Exception:
                log.exception(f"{name}_failed")


def assemble(
    config: Config,
    sessions: async_sessionmaker[AsyncSession],
    links: Mapping[str, HomeserverLink],
    signals: Signals,
    tasks: BackgroundTasks,
) -> Bot:
    homeservers = Homeservers(links)
    repo = ConversationRepo(sessions)
    duty = DutyRoster(sessions)
    lobby = Lobby(homeservers)
    voice = RoomVoice(homeservers)
    coaching = CoachingRooms(homeservers)
    steps = Steps(config, sessions, repo, homeservers, voice, lobby, duty, signals, tasks, coaching)
    conversations = Conversations(
        config, sessions, repo, homeservers, voice, lobby, duty, steps, signals, tasks
    )
    transfers = Transfers(config, repo, homeservers, voice, lobby, duty, signals, tasks)
    maintenance = Maintenance(
        config, sessions, repo, conversations, transfers, steps, duty, lobby, voice, homeservers
    )
    case_notes = CaseNotes(config, homeservers)
    urgency = Urgency(config, repo, lobby, voice, duty)
    commands = CounsellorCommands(
        config,
        ConversationCommands(config, repo, conversations, duty, homeservers, Care(homeservers)),
        AnswerCommands(config, voice),
        LobbyCommands(repo, conversations, duty, urgency),
        NetworkCommands(config, transfers, case_notes),
    )
    handled = HandledEvents(sessions)
    letter_repo, letterbox = LetterRepo(sessions), Letterbox(homeservers)
    letters = Letters(config, letter_repo, homeservers, letterbox, duty, tasks)
    router = EventRouter(config, repo, conversations, commands, homeservers, handled, letters)
    return Bot(
        config=config,
        sessions=sessions,
        homeservers=homeservers,
        repo=repo,
        duty=duty,
        lobby=lobby,
        voice=voice,
        steps=steps,
        conversations=conversations,
        transfers=transfers,
        maintenance=maintenance,
        letters=letters,
        letter_clock=LetterClock(config, letter_repo, letters, letterbox, duty),
        digests=Digests(config, sessions, homeservers),
        case_notes=case_notes,
        urgency=urgency,
        commands=commands,
        handled=handled,
        router=router,
        catch_up=CatchUp(config, sessions, repo, homeservers, router),
        signals=signals,
        tasks=tasks,
    )
