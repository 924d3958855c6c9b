"""The homeservers as the bot sees them: for each, its registration, the bot's gateway
and the Admin API; and where a municipality's rooms are, found by their aliases."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from bots.config.model import Municipality
from bots.config.namespaces import Registration
from bots.matrix.admin import SynapseAdmin
from bots.matrix.errors import NotFound
from bots.matrix.gateway import MatrixGateway

WATCH_SECONDS = 5.0


@dataclass
class HomeserverLink:
    id: str
    url: str
    registration: Registration
    bot: MatrixGateway
    admin: SynapseAdmin

    @classmethod
    def connect(
        cls, hs_id: str, url: str, registration: Registration, admin_token: str
    ) -> HomeserverLink:
        return cls(
            id=hs_id,
            url=url,
            registration=registration,
            bot=MatrixGateway(url, registration.as_token, registration.bot_user_id),
            admin=SynapseAdmin(MatrixGateway(url, admin_token)),
        )

    async def close(self) -> None:
        await self.bot.close()
        await self.admin.close()


@dataclass(frozen=True)
class MunicipalityRooms:
    space_id: str
    lobby_id: str  # "Kø": the queue of conversations
    staff_id: str  # the counsellors' own room, where `!akut` calls for help

    def all_ids(self) -> tuple[str, str, str]:
        return self.space_id, self.lobby_id, self.staff_id


class NotProvisioned(RuntimeError):
    """A municipality's rooms or a sparring room do not exist yet: run `ungechat provision
    apply`."""


class Directory:
    """Finds a municipality's rooms by their stable aliases (set by provisioning)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], MunicipalityRooms] = {}
        self._sparring: dict[tuple[str, str], str] = {}

    async def rooms(self, link: HomeserverLink, slug: str) -> MunicipalityRooms:
        key = (link.id, slug)
        if key not in self._cache:
            reg = link.registration
            try:
                space = await link.bot.resolve_alias(reg.alias(reg.space_alias_localpart(slug)))
                lobby = await link.bot.resolve_alias(reg.alias(reg.lobby_alias_localpart(slug)))
                staff = await link.bot.resolve_alias(reg.alias(reg.staff_alias_localpart(slug)))
            except NotFound as exc:
                raise NotProvisioned(f"municipality {slug!r} is not provisioned") from exc
            self._cache[key] = MunicipalityRooms(space, lobby, staff)
        return self._cache[key]

    async def sparring_room(self, link: HomeserverLink, host: HomeserverLink, room: str) -> str:
        """A sparring room's id (config `sparring_rooms[].id`), as seen from `link`; the
        alias is on the room's own homeserver `host` (over federation when it is another)."""
        key = (link.id, f"sparring:{host.id}:{room}")
        if key not in self._sparring:
            reg = host.registration
            try:
                alias = reg.alias(reg.sparring_alias_localpart(room))
                self._sparring[key] = await link.bot.resolve_alias(alias)
            except NotFound as exc:
                raise NotProvisioned(f"sparring room {room!r} is not provisioned") from exc
        return self._sparring[key]


class Homeservers:
    """Every homeserver the bot works on, by id, and the directory of their rooms."""

    def __init__(self, links: Mapping[str, HomeserverLink]) -> None:
        self.links = dict(links)
        self.directory = Directory()
        # Whether each answered when last asked (`watch` keeps it fresh), so a health
        # check can say so at once, without a request to every homeserver of its own.
        self.answering: dict[str, bool] = dict.fromkeys(self.links, True)

    async def watch(self, every: float = WATCH_SECONDS) -> None:
        """Ask every homeserver whether it answers, every `every` seconds, for ever."""
        while True:
            answers = await asyncio.gather(*(lk.bot.reachable() for lk in self.links.values()))
            self.answering = dict(zip(self.links, answers, strict=True))
            await asyncio.sleep(every)

    def __iter__(self) -> Iterator[HomeserverLink]:
        return iter(self.links.values())

    def get(self, homeserver: str) -> HomeserverLink:
        return self.links[homeserver]

    def of(self, m: Municipality) -> HomeserverLink:
        """The municipality's own homeserver (its space, lobby and counsellors)."""
        return self.links[m.homeserver]

    async def rooms(self, m: Municipality) -> MunicipalityRooms:
        return await self.directory.rooms(self.of(m), m.slug)

    def is_ours(self, user_id: str) -> bool:
        """The bot itself or a youth account, on any of our homeservers."""
        return any(link.registration.owns_user(user_id) for link in self.links.values())
