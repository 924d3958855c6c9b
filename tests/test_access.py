"""Who can reach what: a youth's token opens its own conversation only; the youth's Matrix
account may send messages and nothing else; outsiders cannot join a conversation."""

from __future__ import annotations

import aiohttp
import pytest

from bots.matrix.errors import Forbidden
from bots.matrix.gateway import MatrixGateway, path
from tests.matrix_helpers import Counsellor, Youth
from tests.stack_fixture import Stack

pytestmark = pytest.mark.synapse


async def test_a_token_opens_its_own_conversation_only(stack: Stack, http: aiohttp.ClientSession):
    a = await Youth(stack.intake, http).start("testby")
    b = await Youth(stack.intake, http).start("testby")
    for what in ("events", "end"):
        method = http.get if what == "events" else http.post
        async with method(a.url(what, b.conversation), headers=a.auth) as r:
            assert r.status == 403
            assert (await r.json())["errcode"] == "M_FORBIDDEN"
    async with http.post(
        a.url("messages", b.conversation), json={"body": "hej"}, headers=a.auth
    ) as r:
        assert r.status == 403
    async with http.get(a.url("events", "0" * 32), headers=a.auth) as r:
        assert r.status == 404
    async with http.get(a.url("events")) as r:
        assert r.status == 401
    # b's conversation is untouched by a's attempts, and a's own token works.
    assert await b.send("stadig her") == 202
    assert await a.end() == 200 and await b.end() == 200


async def test_youth_account_can_only_send_messages(stack: Stack, http: aiohttp.ClientSession):
    youth = await Youth(stack.intake, http).start("testby")
    other = await Youth(stack.intake, http).start("testby")
    conv = await stack.bot.repo.get(youth.conversation)
    other_conv = await stack.bot.repo.get(other.conversation)
    assert conv is not None and conv.room_id and conv.youth_user_id
    assert other_conv is not None and other_conv.room_id
    room, me = conv.room_id, conv.youth_user_id
    # The most the intake could ever do as the youth: masquerade through the appservice.
    link = stack.bot.homeservers.get("local")
    as_youth = MatrixGateway(stack.homeserver, link.registration.as_token)
    outsider_id = stack.counsellors[1].user_id
    try:
        own = await as_youth.send(
            room, "m.room.message", {"msgtype": "m.text", "body": "ok"}, "t1", as_user=me
        )
        forbidden = [
            as_youth.request(
                "POST", path(["rooms", room, "invite"]), {"user_id": outsider_id}, as_user=me
            ),
            as_youth.request(
                "PUT", path(["rooms", room, "state", "m.room.name", ""]), {"name": "x"}, as_user=me
            ),
            as_youth.request(
                "PUT",
                path(["rooms", room, "state", "m.room.join_rules", ""]),
                {"join_rule": "public"},
                as_user=me,
            ),
            as_youth.send(
                room,
                "m.reaction",
                {"m.relates_to": {"rel_type": "m.annotation", "event_id": own, "key": "👍"}},
                "t2",
                as_user=me,
            ),
            as_youth.send(room, "m.room.encrypted", {"algorithm": "x"}, "t3", as_user=me),
            as_youth.join(stack.rooms["testby"].lobby_id, as_user=me),
            as_youth.join(stack.rooms["testby"].space_id, as_user=me),
            as_youth.join(other_conv.room_id, as_user=me),  # another youth's conversation
        ]
        for attempt in forbidden:
            with pytest.raises(Forbidden):
                await attempt
    finally:
        await as_youth.close()

    levels = await link.bot.get_state(room, "m.room.power_levels")
    assert levels["users"] == {me: 0}  # room v12: the creating bot is not listed
    assert levels["events"] == {"m.room.message": 0}
    assert levels["events_default"] == 50 and levels["state_default"] == 100
    assert levels["invite"] == 100  # only the bot invites; counsellors join by the rule
    join_rules = await link.bot.get_state(room, "m.room.join_rules")
    assert join_rules == {
        "join_rule": "restricted",
        "allow": [{"type": "m.room_membership", "room_id": stack.rooms["testby"].space_id}],
    }
    assert (await link.bot.get_state(room, "m.room.guest_access"))["guest_access"] == "forbidden"
    meta = await link.bot.get_state(room, "dk.ungechat.conversation")
    assert meta == {"kommune": "testby", "kanal": "plakat", "status": "waiting"}
    assert await youth.end() == 200 and await other.end() == 200


async def test_an_account_outside_the_counsellor_space_cannot_join(
    stack: Stack, http: aiohttp.ClientSession
):
    youth = await Youth(stack.intake, http).start("testby")
    conv = await stack.bot.repo.get(youth.conversation)
    assert conv is not None and conv.room_id
    user_id, _, token = await stack.synapse.new_user("udenfor")
    outsider = Counsellor(stack.homeserver, user_id, token)
    try:
        status, body = await outsider.request("POST", f"/_matrix/client/v3/join/{conv.room_id}", {})
        assert status == 403, body
        assert body["errcode"] == "M_FORBIDDEN"
    finally:
        await outsider.client.close()
    assert await youth.end() == 200


async def test_another_municipalitys_counsellor_and_an_outsider_can_neither_join_nor_read(
    stack: Stack, http: aiohttp.ClientSession
):
    """Testby's counsellor is a counsellor, but not Nordby's: Nordby's conversations are
    as closed to them as to a stranger, and no message of theirs ever reaches the youth."""
    youth = await Youth(stack.intake, http).start("nordby")
    youth.listen()
    conv = await stack.bot.repo.get(youth.conversation)
    assert conv is not None and conv.room_id
    await youth.send("hemmelighed")
    testby_only = stack.counsellors[1]
    user_id, _, token = await stack.synapse.new_user("udenfor")
    outsider = Counsellor(stack.homeserver, user_id, token)
    room = conv.room_id
    try:
        for who in (testby_only, outsider):
            for method, url, body in (
                ("POST", f"/_matrix/client/v3/join/{room}", {}),
                ("POST", f"/_matrix/client/v3/rooms/{room}/join", {}),
                ("GET", f"/_matrix/client/v3/rooms/{room}/messages?dir=b", None),
                ("GET", f"/_matrix/client/v3/rooms/{room}/state", None),
                ("PUT", f"/_matrix/client/v3/rooms/{room}/send/m.room.message/x1", {"body": "hej"}),
                ("POST", f"/_matrix/client/v3/rooms/{room}/invite", {"user_id": user_id}),
            ):
                status, answer = await who.request(method, url, body)
                assert status == 403, (who.user_id, method, url, answer)
                assert "hemmelighed" not in str(answer)
            # Nor through the space: they are not members of Nordby's.
            space = stack.rooms["nordby"].space_id
            status, _ = await who.request("GET", f"/_matrix/client/v1/rooms/{space}/hierarchy")
            assert status == 403
    finally:
        await outsider.client.close()
    await youth.wait_for(lambda e: e.get("type") == "queue")
    assert [e.get("from") for e in youth.received if e.get("type") == "message"] == ["youth"]
    assert await youth.end() == 200
    await youth.stop_listening()


async def test_markup_from_a_youth_reaches_element_as_plain_text(
    stack: Stack, http: aiohttp.ClientSession
):
    """Whatever a young person types is sent as plain text: no HTML a counsellor's client
    would render, no mentions that ping anyone, no formatting of any kind."""
    c = stack.counsellors[0]
    youth = await Youth(stack.intake, http).start("testby")
    conv = await stack.bot.repo.get(youth.conversation)
    assert conv is not None and conv.room_id
    await c.join(conv.room_id)
    hostile = (
        '<img src=x onerror="alert(1)"><script>alert(2)</script>'
        "<a href='https://evil.example'>klik</a> @room @raadgiver:ungechat.test"
    )
    assert await youth.send(hostile) == 202
    [event] = await c.sync_until(
        lambda: [e for e in c.sources(conv.room_id) if e["content"].get("body") == hostile]
    )
    assert event["content"] == {"msgtype": "m.text", "body": hostile}
    assert event["sender"] == conv.youth_user_id
    assert await youth.end() == 200
