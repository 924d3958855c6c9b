"""The appservice endpoint handles each transaction once, and the bot resumes every
conversation from its database after a restart."""

from __future__ import annotations

import datetime as dt
import secrets

import aiohttp
import pytest

from bots.conversation.states import State
from bots.db.models import utcnow
from tests.matrix_helpers import Youth
from tests.stack_fixture import Stack

pytestmark = pytest.mark.synapse


def push(stack: Stack, http: aiohttp.ClientSession, txn_id: str, events: list, token: str | None):
    url = f"{stack.intake}/_matrix/app/v1/transactions/{txn_id}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return http.put(url, json={"events": events}, headers=headers)


async def test_transactions_are_authenticated_and_events_handled_once(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    youth = await Youth(stack.intake, http).start("testby")
    conv = await stack.bot.repo.get(youth.conversation)
    assert conv is not None and conv.state == State.WAITING
    hs_token = stack.bot.homeservers.get("local").registration.hs_token
    join = {
        "type": "m.room.member",
        "room_id": conv.room_id,
        "sender": stack.counsellors[1].user_id,
        "state_key": stack.counsellors[1].user_id,
        "content": {"membership": "join"},
        "event_id": f"$fake{secrets.token_hex(4)}",
    }
    async with push(stack, http, "tx", [join], None) as r:
        assert r.status == 401
    async with push(stack, http, "tx", [join], "wrong-token-" + "x" * 20) as r:
        assert r.status == 403
    assert (await stack.bot.repo.get(conv.id)).state == State.WAITING
    # Synapse on SQLite numbers its transactions from 1 again after a restart: an id
    # seen before may carry new events, and they must be handled.
    txn = f"txn-{secrets.token_hex(4)}"
    async with push(stack, http, txn, [], hs_token) as r:
        assert r.status == 200 and await r.json() == {}
    async with push(stack, http, txn, [join], hs_token) as r:
        assert r.status == 200
    assert (await stack.bot.repo.get(conv.id)).state in (State.CLAIMING, State.ACTIVE)
    assert await youth.end() == 200


async def test_restart_resumes_a_close_that_was_cut_off(stack: Stack, http: aiohttp.ClientSession):
    """A process that died after recording the close but before deleting anything: a new
    process, knowing only the database, finishes the deletion."""
    youth = await Youth(stack.intake, http).start("testby")
    conv = await stack.bot.repo.get(youth.conversation)
    assert conv is not None and conv.room_id
    assert await stack.bot.repo.transition(
        conv.id,
        [State.WAITING],
        State.CLOSING,
        closed_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5),
        outcome="left_while_waiting",
    )
    status, _ = await stack.admin("GET", f"/_synapse/admin/v1/rooms/{conv.room_id}")
    assert status == 200  # still there: nothing was deleted yet

    fresh = stack.second_replica()  # a new process, knowing only the database
    assert await fresh.maintenance.resume(utcnow()) >= 1
    assert (await fresh.repo.get(conv.id)).state == State.PURGED
    status, _ = await stack.admin("GET", f"/_synapse/admin/v1/rooms/{conv.room_id}")
    assert status == 404
    status, user = await stack.admin("GET", f"/_synapse/admin/v2/users/{conv.youth_user_id}")
    assert user["deactivated"] is True


async def test_restart_cleans_up_a_setup_that_was_cut_off(stack: Stack):
    """A process that died while setting up a room (the youth never got a token): the
    next process closes it and deletes what was created, found by the room alias."""
    municipality = stack.config.municipality("testby")
    assert municipality is not None
    conv_id, _ = await stack.bot.conversations.start(municipality, None, {})
    conv = await stack.bot.repo.get(conv_id)
    room_id = conv.room_id
    # Rewind it to `requested`, a minute and more ago, with the room id not yet saved.
    await stack.bot.repo.set(
        conv_id,
        state=State.REQUESTED,
        room_id=None,
        created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2),
    )
    fresh = stack.second_replica()  # a new process, knowing only the database
    await fresh.maintenance.resume(utcnow())
    assert (await fresh.repo.get(conv_id)).state == State.PURGED
    status, _ = await stack.admin("GET", f"/_synapse/admin/v1/rooms/{room_id}")
    assert status == 404
