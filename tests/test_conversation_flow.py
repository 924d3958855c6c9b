"""One real conversation, end to end: a youth through the intake API, a counsellor as a
Matrix client on a real Synapse, and real deletion afterwards."""

from __future__ import annotations

import asyncio
import io
import secrets
from pathlib import Path

import aiohttp
import pytest
from nio import UploadResponse
from sqlalchemy import select

from bots.conversation.states import State
from bots.db.models import Conversation, ConversationStats
from tests.db_scan import files_containing, tables_containing
from tests.matrix_helpers import Youth
from tests.stack_fixture import Stack
from tests.waiting import wait_for_state

pytestmark = pytest.mark.synapse


async def test_conversation_end_to_end_leaves_nothing_behind(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    youth = await Youth(stack.intake, http).start("testby", "plakat", {"heard_from": "facebook"})
    youth.listen()
    await youth.wait_for(lambda e: e == {"type": "status", "status": "waiting"})
    canary = f"kanariefugl-{secrets.token_hex(8)}"
    assert await youth.send(f"Hej. Jeg har det svært derhjemme. {canary}") == 202

    # The counsellor finds the new conversation as a child of the municipality's space,
    # and a notice about it in the lobby, then joins it without an invite.
    conv = await stack.bot.repo.get(youth.conversation)
    assert conv is not None and conv.room_id
    room_id = conv.room_id
    counsellor = stack.counsellors[0]
    assert room_id in await counsellor.space_children(stack.rooms["testby"].space_id)
    lobby_notices = await counsellor.sync_until(
        lambda: [t for t in counsellor.texts_in(stack.rooms["testby"].lobby_id) if room_id in t]
    )
    assert "plakat" in lobby_notices[0]
    await counsellor.join(room_id)

    # The youth is told a counsellor joined — never who.
    joined = await youth.wait_for(lambda e: e.get("from") == "system")
    assert joined["body"].startswith("En rådgiver er kommet ind")
    await youth.wait_for(lambda e: e == {"type": "status", "status": "active"})

    # Both directions.
    await counsellor.sync_until(lambda: any(canary in t for t in counsellor.texts_in(room_id)))
    await counsellor.say(room_id, "Hej, godt du skriver. Vil du fortælle lidt mere?")
    reply = await youth.wait_for(lambda e: e.get("from") == "counsellor")
    assert reply["body"] == "Hej, godt du skriver. Vil du fortælle lidt mere?"
    assert await youth.send("Ja, det vil jeg gerne.") == 202
    await counsellor.sync_until(lambda: "Ja, det vil jeg gerne." in counsellor.texts_in(room_id))
    await youth.wait_for(lambda e: e.get("body") == "Ja, det vil jeg gerne.")
    assert youth.messages("youth") == [
        f"Hej. Jeg har det svært derhjemme. {canary}",
        "Ja, det vil jeg gerne.",
    ]

    # A file a counsellor uploads in the room is deleted with it.
    upload, _ = await counsellor.client.upload(
        io.BytesIO(b"\x89PNG fake image bytes " + canary.encode()),
        "image/png",
        "billede.png",
        filesize=40,
    )
    assert isinstance(upload, UploadResponse), upload
    await counsellor.client.room_send(
        room_id,
        "m.room.message",
        {"msgtype": "m.image", "body": "billede.png", "url": upload.content_uri},
    )
    await youth.wait_for(lambda e: e.get("body", "").startswith("Rådgiveren sendte en fil"))

    # Nothing the youth received names a counsellor.
    for event in youth.received:
        for value in map(str, event.values()):
            assert counsellor.user_id not in value and "@" not in value

    await counsellor.say(room_id, "!luk ensomhed familie")
    await youth.wait_for(lambda e: e == {"type": "status", "status": "closed"})
    await wait_for_state(stack.bot.repo, youth.conversation, State.PURGED)
    await youth.stop_listening()

    # The room is gone from the homeserver, with its media, and the youth account is erased.
    status, _ = await stack.admin("GET", f"/_synapse/admin/v1/rooms/{room_id}")
    assert status == 404
    media_id = upload.content_uri.removeprefix("mxc://")
    status, _ = await stack.admin("GET", f"/_synapse/admin/v1/media/{media_id}")
    assert status == 404
    status, user = await stack.admin("GET", f"/_synapse/admin/v2/users/{conv.youth_user_id}")
    assert status == 200 and user["deactivated"] is True and user["erased"] is True

    # The youth's token opens nothing any more.
    async with http.get(youth.url("events"), headers=youth.auth) as r:
        assert r.status == 404
    assert await youth.send("hallo?") == 404

    # The canary is in no table of the homeserver's database, nor of the bot's.
    assert await asyncio.to_thread(tables_containing, stack.synapse.database_path, canary) == []
    bot_db = Path(stack.config.database.split("///", 1)[1])
    assert await asyncio.to_thread(tables_containing, bot_db, canary) == []
    assert await asyncio.to_thread(tables_containing, bot_db, room_id) == []
    # Nor in any file the homeserver or the bot keeps: database pages the homeserver
    # freed (overwritten, deploy/local/synapse_main.py), journals, logs, media.
    for directory in (stack.synapse.local.state_dir, bot_db.parent):
        assert await asyncio.to_thread(files_containing, directory, canary) == []

    # Exactly one anonymous stats row.
    async with stack.bot.sessions() as session:
        rows = (await session.execute(select(ConversationStats))).scalars().all()
        gone = await session.get(Conversation, youth.conversation)
    mine = [r for r in rows if r.topics == ["ensomhed", "familie"]]
    assert len(mine) == 1
    row = mine[0]
    assert (row.kommune, row.kanal, row.answers, row.outcome) == (
        "testby",
        "plakat",
        {"heard_from": "facebook"},
        "answered",
    )
    assert row.wait_seconds is not None and row.wait_seconds >= 0
    assert gone is not None and gone.room_id is None and gone.youth_user_id is None
