"""One homeserver as the bot sees it: its registration, the bot's gateway and the Admin API."""

from __future__ import annotations

from dataclasses import dataclass

from bots.matrix.admin import SynapseAdmin
from bots.matrix.errors import NotFound
from bots.matrix.gateway import MatrixGateway
from provisioning.registration import Registration


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
