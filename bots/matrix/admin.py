"""The Synapse Admin API, used only where the client-server API cannot do the job:
deleting (purging) a room, deleting the media uploaded in it, and erasing an account.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from bots.matrix.errors import MatrixError, NotFound
from bots.matrix.gateway import ADMIN, MatrixGateway, path

log = structlog.get_logger(__name__)


class RoomPurgeFailed(RuntimeError):
    pass


class SynapseAdmin:
    def __init__(self, gateway: MatrixGateway) -> None:
        self._gw = gateway

    async def close(self) -> None:
        await self._gw.close()

    async def delete_room_media(self, room_id: str) -> int:
        """Delete the local media uploaded in a room (a room purge leaves it behind).

        Must run before the room is purged: Synapse finds the media through the events.
        """
        try:
            listing = await self._gw.request(
                "GET", path(["v1", "room", room_id, "media"], base=ADMIN)
            )
        except NotFound:
            return 0
        deleted = 0
        for mxc in listing.get("local", []):
            server_name, media_id = mxc.removeprefix("mxc://").split("/", 1)
            try:
                await self._gw.request(
                    "DELETE", path(["v1", "media", server_name, media_id], base=ADMIN)
                )
                deleted += 1
            except NotFound:
                pass
        return deleted

    async def purge_room(self, room_id: str, *, timeout: float = 120, attempts: int = 4) -> None:
        """Delete the room and purge all its events from the database; wait until done.

        A purge can fail for a passing reason inside Synapse (while a background update
        still lists the room, element-hq/synapse#19822, the purge breaks a foreign key);
        it is started again a few times before giving up to the next maintenance pass.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        for attempt in range(1, attempts + 1):
            try:
                await self._purge_once(room_id, deadline)
                return
            except RoomPurgeFailed:
                if attempt == attempts or loop.time() > deadline:
                    raise
                log.warning("room_purge_retry", attempt=attempt)
                await asyncio.sleep(attempt)

    async def _purge_once(self, room_id: str, deadline: float) -> None:
        delete_id = await self._delete_under_way(room_id)
        if delete_id is None:
            try:
                started = await self._gw.request(
                    "DELETE",
                    path(["v2", "rooms", room_id], base=ADMIN),
                    {"purge": True, "block": False, "force_purge": True},
                )
                delete_id = started["delete_id"]
            except NotFound:
                return  # already gone
            except MatrixError as exc:
                # "Purge already in progress": one started meanwhile, or left by a crash
                # of Synapse, which resumes it (within a minute of its restart).
                delete_id = (
                    await self._delete_under_way(room_id) if exc.http_status == 400 else None
                )
                if delete_id is None:
                    raise
        status_path = path(["v2", "rooms", "delete_status", delete_id], base=ADMIN)
        loop = asyncio.get_running_loop()
        while True:
            status = await self._gw.request("GET", status_path)
            if status.get("status") == "complete":
                return
            if status.get("status") == "failed":  # the reason is in Synapse's log only
                raise RoomPurgeFailed(f"purge of {room_id} failed")
            if loop.time() > deadline:
                raise RoomPurgeFailed(f"purge of {room_id} not done in time")
            await asyncio.sleep(0.2)

    async def _delete_under_way(self, room_id: str) -> str | None:
        """The id of a deletion of this room that Synapse is still carrying out, if any
        (one started by an earlier attempt of ours whose answer was lost, too)."""
        try:
            listing = await self._gw.request(
                "GET", path(["v2", "rooms", room_id, "delete_status"], base=ADMIN)
            )
        except NotFound:
            return None
        for task in listing.get("results") or []:
            if isinstance(task, dict) and task.get("status") in ("scheduled", "active"):
                delete_id = task.get("delete_id")
                if isinstance(delete_id, str):
                    return delete_id
        return None

    async def deactivate_user(self, user_id: str) -> None:
        """Deactivate without erasing: its messages stay readable to the room's members."""
        with contextlib.suppress(NotFound):
            await self._gw.request(
                "POST", path(["v1", "deactivate", user_id], base=ADMIN), {"erase": False}
            )

    async def erase_user(self, user_id: str) -> None:
        """Deactivate the account and erase its profile; its access tokens stop working."""
        with contextlib.suppress(NotFound):
            await self._gw.request(
                "POST", path(["v1", "deactivate", user_id], base=ADMIN), {"erase": True}
            )
