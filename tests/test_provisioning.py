"""Provisioning against a real Synapse: plan shows exactly what apply does, apply does it
once, edits are planned and applied exactly, and the counsellors see the result."""

from __future__ import annotations

import asyncio
import copy
import grp
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bots.config.load import parse_config
from bots.matrix.errors import Unreachable
from bots.matrix.gateway import MatrixGateway
from bots.matrix.links import Directory, HomeserverLink
from provisioning.actions import Action, Plan
from provisioning.apply import apply
from provisioning.plan import plan
from provisioning.registration import access_notes
from provisioning.report import NO_CHANGES, render
from provisioning.rooms import LOBBY_TOPIC
from tests.matrix_helpers import Counsellor
from tests.provisioning_helpers import (
    Provisioner,
    config_data,
    municipality,
    room_count,
    run_command,
    state_as,
)

pytestmark = pytest.mark.synapse


@pytest.fixture
async def provisioner(synapse: Any, tmp_path: Path) -> AsyncIterator[Provisioner]:
    p = Provisioner(synapse, tmp_path)
    yield p
    await p.close()


def steps(actions: Plan | list[Action]) -> list[tuple[str, str, str]]:
    """(kind, room, target) of each step, in order, with aliases shortened to their role."""
    return [(a.kind, _short(a.room), _short(a.target)) for a in actions]


def _short(alias: str) -> str:
    """'#_ungechat_lobby_aeroe:ungechat.test' → 'lobby_aeroe'; user ids and room ids as is."""
    if alias.startswith("#_ungechat_"):
        return alias.removeprefix("#_ungechat_").split(":", 1)[0]
    return alias


async def counsellors(synapse: Any, n: int, *names: str) -> list[Counsellor]:
    users = [await synapse.new_user(name) for name in names or ["prov"] * n]
    return [Counsellor(synapse.url, user_id, token) for user_id, _, token in users]


async def as_created(counsellor: Counsellor, room_id: str) -> tuple[str, ...]:
    """A room's topic, join rule and power levels as the counsellor's client reads them,
    in the words of the plan's lines under "create room"."""
    topic = (await state_as(counsellor, room_id, "m.room.topic"))[1]["topic"]
    rule = (await state_as(counsellor, room_id, "m.room.join_rules"))[1]["join_rule"]
    levels = (await state_as(counsellor, room_id, "m.room.power_levels"))[1]
    who = {"restricted": "members of the space only", "invite": "invited members only"}[rule]
    users = [f"{user} {level}" for user, level in sorted(levels["users"].items())]
    users.append(f"everyone else {levels.get('users_default', 0)}")
    return (f"topic: {topic}", f"join rule: {who}", f"power levels: {', '.join(users)}")


async def test_plan_apply_edit_and_the_counsellors_see_it(
    synapse: Any, provisioner: Provisioner, tmp_path: Path
) -> None:
    anna, bo, carl, dorte = await counsellors(synapse, 4)
    data = config_data(
        synapse,
        tmp_path,
        [
            municipality("aeroe", "Ærø Kommune", [anna.user_id, bo.user_id]),
            municipality("samsoe", "Samsø", [carl.user_id]),
        ],
        sparring_rooms=[
            {
                "id": "oeerne",
                "name": "Øernes netværk",
                "homeserver": "local",
                "municipalities": "all",
            },
        ],
    )
    config = provisioner.config(data)

    # On an empty homeserver the plan lists everything, and changes nothing.
    first = await provisioner.plan(config)
    assert steps(first) == [
        ("write_registration", "", str(tmp_path / "registration.yaml")),
        # Beside it, the Synapse settings to merge (provisioning/synapse_settings.py).
        ("write_registration", "", str(tmp_path / "registration.homeserver-fragment.yaml")),
        ("create_room", "space_aeroe", ""),
        ("invite", "space_aeroe", anna.user_id),
        ("invite", "space_aeroe", bo.user_id),
        ("create_room", "lobby_aeroe", ""),
        ("invite", "lobby_aeroe", anna.user_id),
        ("invite", "lobby_aeroe", bo.user_id),
        ("create_room", "staff_aeroe", ""),
        ("invite", "staff_aeroe", anna.user_id),
        ("invite", "staff_aeroe", bo.user_id),
        ("create_room", "space_samsoe", ""),
        ("invite", "space_samsoe", carl.user_id),
        ("create_room", "lobby_samsoe", ""),
        ("invite", "lobby_samsoe", carl.user_id),
        ("create_room", "staff_samsoe", ""),
        ("invite", "staff_samsoe", carl.user_id),
        ("create_room", "sparring_oeerne", ""),
        ("invite", "sparring_oeerne", anna.user_id),
        ("invite", "sparring_oeerne", bo.user_id),
        ("invite", "sparring_oeerne", carl.user_id),
    ]
    texts = [a.describe() for a in first]
    space_alias = "#_ungechat_space_aeroe:ungechat.test"
    assert f'+ create space "Ungechat Ærø – rådgivere" ({space_alias})' in texts
    assert f'+ invite {bo.user_id} to "Rådgivere – internt"' in texts
    created = {_short(a.room): a.details for a in first if a.kind == "create_room"}
    assert created["lobby_aeroe"] == (
        f"topic: {LOBBY_TOPIC}",
        "join rule: members of the space only",
        f"power levels: {anna.user_id} 50, {bo.user_id} 50, everyone else 0",
    )
    assert not (tmp_path / "registration.yaml").exists()

    await provisioner.apply(config)
    assert not await provisioner.plan(config), "a second apply would change something"
    # Synapse, running as a user of its own, reads it through the group; nobody else can.
    assert (tmp_path / "registration.yaml").stat().st_mode & 0o777 == 0o640

    # The counsellors accept, as in Element, and see their rooms as named and ranked.
    space = await provisioner.room_id("_ungechat_space_aeroe")
    lobby = await provisioner.room_id("_ungechat_lobby_aeroe")
    staff = await provisioner.room_id("_ungechat_staff_aeroe")
    sparring = await provisioner.room_id("_ungechat_sparring_oeerne")
    for c in (anna, bo):
        for room_id in (space, lobby, staff, sparring):
            await c.join(room_id)
    await carl.join(sparring)
    assert set(await anna.space_children(space)) == {lobby, staff}
    assert (await state_as(anna, space, "m.room.name"))[1]["name"] == "Ungechat Ærø – rådgivere"
    assert (await state_as(anna, lobby, "m.room.name"))[1]["name"] == "Kø"
    assert (await state_as(anna, staff, "m.room.name"))[1]["name"] == "Rådgivere – internt"
    assert (await state_as(carl, sparring, "m.room.name"))[1]["name"] == "Øernes netværk"
    levels = (await state_as(bo, staff, "m.room.power_levels"))[1]
    assert levels["users"] == {anna.user_id: 50, bo.user_id: 50}
    assert (await state_as(carl, sparring, "m.room.power_levels"))[1]["users"] == {}
    # What the plan said each new room would be created with is what it is now.
    rooms = {"space_aeroe": space, "lobby_aeroe": lobby, "staff_aeroe": staff}
    for role, room_id in rooms.items():
        assert created[role] == await as_created(anna, room_id), role
    assert created["sparring_oeerne"] == await as_created(carl, sparring)
    assert created["sparring_oeerne"][1:] == (
        "join rule: invited members only",
        "power levels: everyone else 0",
    )
    # Nobody else gets in: not a counsellor listed for the sparring room, not in the space.
    for room_id in (sparring, space, lobby):
        status, _ = await dorte.request("POST", f"/_matrix/client/v3/join/{room_id}", {})
        assert status == 403
    # The running bot finds the sparring room by its id in the config.
    link = provisioner.link
    assert await Directory().sparring_room(link, link, "oeerne") == sparring

    # Bo is in a live conversation when he stops being a counsellor here.
    conversation = await provisioner.live_conversation("aeroe")
    await bo.join(conversation)

    # Someone opens the staff room to everyone by hand; the config says otherwise.
    await provisioner.link.bot.put_state(staff, "m.room.join_rules", {"join_rule": "public"})

    aeroe = data["municipalities"][0]
    aeroe["counsellors"] = [anna.user_id, dorte.user_id]
    aeroe["service_name"] = "Snak med Ærø"
    data["sparring_rooms"][0]["topic"] = "Sparring mellem øerne."
    edited = provisioner.config(data)
    second = await provisioner.plan(edited)
    assert steps(second) == [
        ("set_name", "space_aeroe", ""),
        ("set_power_levels", "space_aeroe", ""),
        ("invite", "space_aeroe", dorte.user_id),
        ("set_power_levels", "lobby_aeroe", ""),
        ("invite", "lobby_aeroe", dorte.user_id),
        ("set_join_rules", "staff_aeroe", ""),
        ("set_power_levels", "staff_aeroe", ""),
        ("invite", "staff_aeroe", dorte.user_id),
        ("set_topic", "sparring_oeerne", ""),
        ("invite", "sparring_oeerne", dorte.user_id),
        ("kick", conversation, bo.user_id),
        ("kick", "lobby_aeroe", bo.user_id),
        ("kick", "staff_aeroe", bo.user_id),
        ("kick", "space_aeroe", bo.user_id),
        ("kick", "sparring_oeerne", bo.user_id),
    ]
    texts = [a.describe() for a in second]
    assert '~ rename "Ungechat Ærø – rådgivere" → "Snak med Ærø – rådgivere"' in texts
    changes = sorted([f"{bo.user_id} 50 → 0", f"{dorte.user_id} 0 → 50"])  # by user id
    assert f'~ power levels in "Kø": {", ".join(changes)}' in texts, texts

    await provisioner.apply(edited)
    assert not await provisioner.plan(edited)

    # Bo is out of everything, the live conversation included, and cannot walk back in.
    for room_id in (conversation, lobby, staff, space, sparring):
        status, _ = await state_as(bo, room_id, "m.room.name")
        assert status == 403, room_id
    status, _ = await bo.request("POST", f"/_matrix/client/v3/join/{lobby}", {})
    assert status == 403
    # Dorte is invited, joins, and sees the new name and her rank.
    for room_id in (space, lobby, staff):
        await dorte.join(room_id)
    assert (await state_as(dorte, space, "m.room.name"))[1]["name"] == "Snak med Ærø – rådgivere"
    rules = (await state_as(dorte, staff, "m.room.join_rules"))[1]
    assert rules == {
        "join_rule": "restricted",
        "allow": [{"type": "m.room_membership", "room_id": space}],
    }
    topic = (await state_as(anna, sparring, "m.room.topic"))[1]["topic"]
    assert topic == "Sparring mellem øerne."
    levels = (await state_as(dorte, lobby, "m.room.power_levels"))[1]
    assert levels["users"] == {anna.user_id: 50, dorte.user_id: 50}

    # Samsø leaves the config: its rooms are reported and left alone, Carl leaves the
    # sparring room he was in through Samsø.
    data["municipalities"].pop(1)
    third = await provisioner.plan(provisioner.config(data))
    assert steps(third) == [("kick", "sparring_oeerne", carl.user_id)]
    left = set(third.leftovers["local"])
    assert {
        'space "Ungechat Samsø – rådgivere" (#_ungechat_space_samsoe:ungechat.test)',
        'room "Kø" (#_ungechat_lobby_samsoe:ungechat.test)',
        'room "Rådgivere – internt" (#_ungechat_staff_samsoe:ungechat.test)',
    } <= left
    assert not [note for note in left if "aeroe" in note or "oeerne" in note]
    for c in (anna, bo, carl, dorte):
        await c.client.close()


class FailingGateway(MatrixGateway):
    """The bot's real gateway, except that one chosen request is lost on the way, as if the
    network or the process had died at that moment."""

    def __init__(self, url: str, token: str, user_id: str, method: str, part: str, nth: int):
        super().__init__(url, token, user_id)
        self.method, self.part, self.left = method, part, nth

    async def request(self, method: str, url_path: str, body: Any = None, **kw: Any) -> Any:
        if method == self.method and self.part in url_path:
            self.left -= 1
            if self.left == 0:
                raise Unreachable(None, "connection lost (injected by the test)", None)
        return await super().request(method, url_path, body, **kw)


def failing_link(synapse: Any, method: str, part: str, nth: int = 1) -> HomeserverLink:
    reg = synapse.registration
    link = HomeserverLink.connect("local", synapse.url, reg, synapse.admin_token)
    link.bot = FailingGateway(synapse.url, reg.as_token, reg.bot_user_id, method, part, nth)
    return link


async def test_an_apply_that_dies_after_making_a_room_is_finished_by_the_next(
    synapse: Any, provisioner: Provisioner, tmp_path: Path
) -> None:
    (anna,) = await counsellors(synapse, 1)
    config = provisioner.config(
        config_data(synapse, tmp_path, [municipality("fanoe", "Fanø Kommune", [anna.user_id])])
    )
    rooms_before = await room_count(synapse)
    broken = failing_link(synapse, "PUT", "/state/m.space.child/")  # lobby made, not yet listed
    try:
        with pytest.raises(Unreachable):
            await apply(config, {"local": broken}, await provisioner.plan(config))
    finally:
        await broken.close()

    rest = await provisioner.plan(config)
    assert steps(rest) == [
        ("invite", "lobby_fanoe", anna.user_id),
        ("create_room", "staff_fanoe", ""),
        ("invite", "staff_fanoe", anna.user_id),
        ("link_child", "space_fanoe", "lobby_fanoe"),
    ]
    await provisioner.apply(config)
    assert not await provisioner.plan(config)
    assert await room_count(synapse) == rooms_before + 3  # nothing made twice
    space = await provisioner.room_id("_ungechat_space_fanoe")
    await anna.join(space)
    lobby = await provisioner.room_id("_ungechat_lobby_fanoe")
    staff = await provisioner.room_id("_ungechat_staff_fanoe")
    assert set(await anna.space_children(space)) == {lobby, staff}
    await anna.client.close()


async def test_an_apply_that_dies_while_removing_is_finished_by_the_next(
    synapse: Any, provisioner: Provisioner, tmp_path: Path
) -> None:
    anna, bo = await counsellors(synapse, 2)
    data = config_data(
        synapse, tmp_path, [municipality("langeland", "Langeland", [anna.user_id, bo.user_id])]
    )
    await provisioner.apply(provisioner.config(data))
    space = await provisioner.room_id("_ungechat_space_langeland")
    rooms = [space] + [
        await provisioner.room_id(f"_ungechat_{role}_langeland") for role in ("lobby", "staff")
    ]
    for room_id in rooms:
        await bo.join(room_id)
    conversation = await provisioner.live_conversation("langeland")
    await bo.join(conversation)

    data["municipalities"][0]["counsellors"] = [anna.user_id]
    config = provisioner.config(data)
    broken = failing_link(synapse, "POST", "/kick", nth=3)  # after the conversation and Kø
    try:
        with pytest.raises(Unreachable):
            await apply(config, {"local": broken}, await provisioner.plan(config))
    finally:
        await broken.close()

    # Still in the space (the record of who was a counsellor here), so still found.
    assert steps(await provisioner.plan(config)) == [
        ("kick", "staff_langeland", bo.user_id),
        ("kick", "space_langeland", bo.user_id),
    ]
    await provisioner.apply(config)
    assert not await provisioner.plan(config)
    for room_id in [*rooms, conversation]:
        assert (await state_as(bo, room_id, "m.room.name"))[0] == 403
    await anna.client.close()
    await bo.client.close()


def write_config(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


async def ungechat(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The command, in this process as the console script runs it, on a thread of its own:
    the session's event loop stays free for the bot, whom Synapse asks about aliases in
    its namespace."""
    code = await asyncio.to_thread(run_command, *argv)
    out = capsys.readouterr()
    return code, out.out, out.err


async def test_the_command_plans_applies_and_then_has_nothing_to_do(
    synapse: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user = f"@cli-raadgiver:{synapse.server_name}"
    data = config_data(synapse, tmp_path, [municipality("laesoe", "Læsø Kommune", [user])])
    path = write_config(tmp_path / "ungechat.yaml", data)
    registration = tmp_path / "registration.yaml"

    code, out, _ = await ungechat(capsys, "provision", "plan", "-c", str(path))
    assert code == 0
    assert f"Homeserver local ({synapse.server_name}, {synapse.url})" in out
    assert "  Læsø Kommune (laesoe)\n" in out
    assert (
        '    + create room "Kø" (#_ungechat_lobby_laesoe:ungechat.test)\n'
        f"        topic: {LOBBY_TOPIC}\n"
        "        join rule: members of the space only\n"
        f"        power levels: {user} 50, everyone else 0\n"
        f'    + invite {user} to "Kø"\n'
    ) in out
    assert f'    + invite {user} to "Rådgivere – internt"\n' in out
    assert f"+ write the registration file {registration} (new, mode 0640)" in out
    fragment = tmp_path / "registration.homeserver-fragment.yaml"
    assert f"+ write the Synapse settings to merge {fragment} (new)" in out
    assert out.rstrip().endswith("8 to add, 0 to change, 0 to remove.")
    assert not registration.exists()

    code, out, _ = await ungechat(capsys, "provision", "apply", "-c", str(path))
    assert code == 0, out
    assert "Applied all 8 steps." in out
    assert f"app_service_config_files:\n  - {registration}\n" in out
    assert yaml.safe_load(registration.read_text())["as_token"] == synapse.registration.as_token
    # The operator is told how Synapse, running as another user, gets to read it.
    assert registration.stat().st_mode & 0o777 == 0o640
    assert f":{grp.getgrgid(os.getegid()).gr_name}, mode 0640 (it holds both tokens)." in out
    assert f"  sudo chgrp matrix-synapse {registration}    # " in out
    assert f"  sudo chgrp 991 {registration}    # " in out

    code, out, _ = await ungechat(capsys, "provision", "plan", "-c", str(path))
    assert (code, out.splitlines()[-1]) == (
        0,
        "no changes: the homeservers already match the config.",
    )
    assert "  no changes\n" in out


async def test_a_homeserver_that_does_not_know_the_bot_yet_gets_its_registration_first(
    synapse: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = config_data(synapse, tmp_path, [municipality("stevns", "Stevns Kommune", [])])
    data["homeservers"]["local"]["appservice"]["as_token"] = secrets.token_urlsafe(32)
    path = write_config(tmp_path / "ungechat.yaml", data)

    code, out, _ = await ungechat(capsys, "provision", "plan", "-c", str(path))
    assert code == 1
    assert "! not planned: the homeserver does not know the bot's as_token yet" in out
    code, out, _ = await ungechat(capsys, "provision", "apply", "-c", str(path))
    assert code == 1
    assert "Applied 2 of 2 steps." in out and "app_service_config_files:" in out
    assert (tmp_path / "registration.yaml").exists()
    assert (tmp_path / "registration.homeserver-fragment.yaml").exists()


async def test_an_existing_registration_file_gets_its_mode_fixed_and_keeps_its_group(
    synapse: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file from an older version (0600, so Synapse's group cannot read it) or made
    readable by everyone by hand is planned and set to 0640; the group the operator gave
    it stays, and then the output no longer asks for a chgrp."""
    data = config_data(synapse, tmp_path, [municipality("solroed", "Solrød Kommune", [])])
    path = write_config(tmp_path / "ungechat.yaml", data)
    registration = tmp_path / "registration.yaml"
    code, _, _ = await ungechat(capsys, "provision", "apply", "-c", str(path))
    assert code == 0

    registration.chmod(0o644)
    code, out, _ = await ungechat(capsys, "provision", "plan", "-c", str(path))
    assert code == 0
    assert (
        f"    ~ set the registration file {registration} to mode 0644 → 0640: "
        "readable by every local account\n"
    ) in out
    assert out.rstrip().endswith("0 to add, 1 to change, 0 to remove.")
    code, out, _ = await ungechat(capsys, "provision", "apply", "-c", str(path))
    assert (code, registration.stat().st_mode & 0o777) == (0, 0o640)

    # The operator gives it to Synapse's group (as root: Docker's gid 991); an older
    # version's apply left it 0600; the appservice url changes too.
    others = [g for g in os.getgroups() if g != os.getegid()]
    group = 991 if os.geteuid() == 0 else (others[0] if others else os.getegid())
    os.chown(registration, -1, group)
    registration.chmod(0o600)
    data["homeservers"]["local"]["appservice"]["url"] = "http://127.0.0.1:9"
    write_config(path, data)
    code, out, _ = await ungechat(capsys, "provision", "plan", "-c", str(path))
    assert (
        f"    ~ update the registration file {registration} (url changed; mode 0600 → 0640: "
        "Synapse's group cannot read it; restart Synapse afterwards)\n"
    ) in out
    code, out, _ = await ungechat(capsys, "provision", "apply", "-c", str(path))
    assert code == 0
    info = registration.stat()
    assert (info.st_mode & 0o777, info.st_gid) == (0o640, group)
    assert yaml.safe_load(registration.read_text())["url"] == "http://127.0.0.1:9"
    if group != os.getegid():
        assert "sudo chgrp" not in out
        try:
            name = grp.getgrgid(group).gr_name
        except KeyError:
            name = str(group)
        assert f"Synapse can read it when it runs in the group {name}." in out
    code, out, _ = await ungechat(capsys, "provision", "plan", "-c", str(path))
    assert (code, out.splitlines()[-1]) == (0, NO_CHANGES)


DOCS = Path(__file__).parent.parent / "docs" / "provisioning.md"
# The sample's names for what the test homeserver calls otherwise.
DOCS_REGISTRATION = Path("/etc/ungechat/ungechat-registration.yaml")


def docs_block(text: str, name: str) -> tuple[int, int]:
    """Where the code block after `<!-- generated: NAME -->` in the docs begins and ends."""
    marker = f"<!-- generated: {name} -->\n```\n"
    start = text.index(marker) + len(marker)
    return start, text.index("```\n", start)


async def test_the_plans_in_the_docs_are_real_output(synapse: Any, tmp_path: Path) -> None:
    """docs/provisioning.md shows the plans this config really gets: on an empty
    homeserver, and after an edit. UNGECHAT_UPDATE_DOCS=1 writes them into the page."""
    anna, bo, dorte = await counsellors(synapse, 3, "anna", "bo", "dorte")
    data = {
        "public_url": "https://chat.halsnaes.dk",
        "homeservers": {
            "halsnaes": synapse.homeserver_config(registration_file=DOCS_REGISTRATION.name)
        },
        "municipalities": [
            municipality(
                "halsnaes", "Halsnæs Kommune", [anna.user_id, bo.user_id], homeserver="halsnaes"
            )
        ],
        "sparring_rooms": [
            {
                "id": "netvaerk",
                "name": "Ungechat-netværket",
                "topic": "Sparring på tværs af kommuner.",
                "homeserver": "halsnaes",
                "municipalities": "all",
            }
        ],
    }
    provisioner = Provisioner(synapse, tmp_path, "halsnaes")
    names = {
        str(tmp_path / DOCS_REGISTRATION.name): str(DOCS_REGISTRATION),
        str(tmp_path): str(DOCS_REGISTRATION.parent),  # the settings to merge, beside it
        synapse.url: "https://matrix.halsnaes.dk",
        anna.user_id: "@anna:halsnaes.dk",
        bo.user_id: "@bo:halsnaes.dk",
        dorte.user_id: "@dorte:halsnaes.dk",
        synapse.server_name: "halsnaes.dk",
    }

    def as_in_docs(config: Any, the_plan: Plan) -> str:
        the_plan.leftovers.clear()  # the other tests' rooms on this homeserver
        text = render(config, the_plan)
        for real, sample in names.items():
            text = text.replace(real, sample)
        return text + "\n"

    try:
        config = provisioner.config(data)
        first = await provisioner.plan(config)
        generated = {"first plan": as_in_docs(config, first)}
        await provisioner.apply(config, first)
        # Bo is in a live conversation when he stops being a counsellor here.
        for room in ("space", "lobby"):
            await bo.join(await provisioner.room_id(f"_ungechat_{room}_halsnaes"))
        conversation = f"8a20bb{secrets.token_hex(5)}"
        room_id = await provisioner.live_conversation("halsnaes", conversation)
        await bo.join(room_id)
        names = {room_id: "!…", **names}

        data["municipalities"][0]["service_name"] = "Snak med Halsnæs"
        data["municipalities"][0]["counsellors"] = [anna.user_id, dorte.user_id]
        edited = provisioner.config(data)
        second = await provisioner.plan(edited)
        generated["after an edit"] = as_in_docs(edited, second)
        await provisioner.apply(edited, second)
        assert not await provisioner.plan(edited)  # the plan was all there was to do
    finally:
        await provisioner.close()
        for c in (anna, bo, dorte):
            await c.client.close()

    docs = DOCS.read_text(encoding="utf-8")
    update = bool(os.environ.get("UNGECHAT_UPDATE_DOCS"))
    for name, text in generated.items():
        start, end = docs_block(docs, name)
        if update:
            docs = docs[:start] + text + docs[end:]
            end = start + len(text)
        assert docs[start:end] == text, (
            f"the {name!r} sample in {DOCS} is not what the code prints; run this test "
            f"with UNGECHAT_UPDATE_DOCS=1 to write it:\n{text}"
        )
    if update:
        DOCS.write_text(docs, encoding="utf-8")

    # The lines that let Synapse read the registration are the ones apply prints.
    written = tmp_path / DOCS_REGISTRATION.name
    chgrp = [line for line in access_notes(written) if "sudo chgrp" in line]
    assert chgrp
    for line in chgrp:
        assert line.replace(str(written), str(DOCS_REGISTRATION)).strip() in docs, line


MISTAKES = [
    (
        "municipalities[0].slug",
        "'ringkobing-skjern' is not one of the 98 Danish municipalities; "
        "did you mean 'ringkoebing-skjern'",
        lambda d: _m(d).update(slug="ringkobing-skjern"),
    ),
    (
        "municipalities[0].name",
        "did you mean 'Nyborg Kommune'?",
        lambda d: _m(d).update(name="Nyborg Komune"),
    ),
    (
        "municipalities[0].counsellors[1]",
        "'anna@nyborg.dk' should be a Matrix user id like '@anna:halsnaes.dk'",
        lambda d: _m(d)["counsellors"].append("anna@nyborg.dk"),
    ),
    (
        "municipalities[1].slug",
        "'nyborg' is used by two municipalities",
        lambda d: d["municipalities"].append(dict(_m(d))),
    ),
    (
        "municipalities[0].homeserver",
        "'nyborg' is not one of the homeservers (local)",
        lambda d: _m(d).update(homeserver="nyborg"),
    ),
    (
        "municipalities[0].campaign.color",
        "'grøn' should be a colour written as # and six hex digits",
        lambda d: _m(d).update(campaign={"color": "grøn"}),
    ),
    (
        "municipalities[0].campaign.slogan",
        "unknown key (the keys here are headline, call_to_action,",
        lambda d: _m(d).update(campaign={"slogan": "Hej"}),
    ),
    (
        "municipalities[0].opening_hours.weekly.monday[0]",
        "the end must be after the start",
        lambda d: _m(d)["opening_hours"]["weekly"].update(monday=["21:00-18:00"]),
    ),
    (
        "sparring_rooms[0].homeserver",
        "'region' is not one of the homeservers",
        lambda d: d["sparring_rooms"][0].update(homeserver="region"),
    ),
    (
        "sparring_rooms[0].municipalities[0]",
        "'odense' is not a municipality in this config",
        lambda d: d["sparring_rooms"][0].update(municipalities=["odense"]),
    ),
    (
        "sparring_rooms[1].id",
        "'fyn' is used by two sparring rooms",
        lambda d: d["sparring_rooms"].append(dict(d["sparring_rooms"][0])),
    ),
    (
        "sparring_rooms[0]",
        "'fyn' has no members; give municipalities",
        lambda d: d["sparring_rooms"][0].pop("municipalities"),
    ),
    (
        "sparring_rooms[0].id",
        "'Fyn og øerne' should be lowercase letters a–z and digits",
        lambda d: d["sparring_rooms"][0].update(id="Fyn og øerne"),
    ),
    (
        "homeservers.local.appservice.hs_token",
        "(the value is hidden)",
        lambda d: d["homeservers"]["local"]["appservice"].update(
            hs_token="CHANGE_ME_hs_token_1234"
        ),
    ),
    (
        "homeservers.local.appservice.url",
        "is required",
        lambda d: d["homeservers"]["local"]["appservice"].pop("url"),
    ),
]


def _m(data: dict[str, Any]) -> dict[str, Any]:
    return data["municipalities"][0]


async def test_an_invalid_config_is_refused_before_anything_is_touched(
    synapse: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user = f"@fyn-raadgiver:{synapse.server_name}"
    valid = config_data(
        synapse,
        tmp_path,
        [municipality("nyborg", "Nyborg Kommune", [user])],
        sparring_rooms=[
            {"id": "fyn", "name": "Fyn", "homeserver": "local", "municipalities": "all"}
        ],
    )
    provisioner = Provisioner(synapse, tmp_path)
    assert steps(await provisioner.plan(provisioner.config(valid)))  # the valid one is fine
    await provisioner.close()
    rooms_before = await room_count(synapse)
    for path, reason, change in MISTAKES:
        data = copy.deepcopy(valid)
        change(data)
        config_file = write_config(tmp_path / "bad.yaml", data)
        code, out, err = await ungechat(capsys, "provision", "apply", "-c", str(config_file))
        assert code == 2, (path, out, err)
        assert "nothing was started or changed" in err
        problems = [line.strip() for line in err.splitlines()[1:]]
        assert len(problems) == 1 and problems[0].startswith(f"{path}: "), (path, err)
        assert reason in problems[0], (reason, problems)
        assert synapse.admin_token not in err
    assert await room_count(synapse) == rooms_before
    assert not (tmp_path / "registration.yaml").exists()


def homeserver_entry(hs: Any) -> dict[str, Any]:
    reg = hs.registration
    return {
        "server_name": hs.server_name,
        "url": hs.url,
        "admin_token": hs.admin_token,
        "appservice": {"as_token": reg.as_token, "hs_token": reg.hs_token, "url": reg.url},
    }


async def test_a_sparring_room_across_two_homeservers(federation: Any, tmp_path: Path) -> None:
    """The room lives on hs1; hs2's counsellor is invited over federation, hs2's bot joins
    (to post case notes there), and a counsellor taken off the list is removed again."""
    hs1, hs2 = federation.hs1, federation.hs2
    odense_user = (await hs1.new_user("sparring"))[0]
    vejle_user, _, vejle_token = await hs2.new_user("sparring")
    data = {
        "public_url": "https://chat.example.dk",
        "homeservers": {"hs1": homeserver_entry(hs1), "hs2": homeserver_entry(hs2)},
        "municipalities": [
            municipality("odense", "Odense Kommune", [odense_user], homeserver="hs1"),
            municipality("vejle", "Vejle Kommune", [vejle_user], homeserver="hs2"),
        ],
        "sparring_rooms": [
            {"id": "syd", "name": "Sparring Syd", "homeserver": "hs1", "municipalities": "all"}
        ],
    }
    config = parse_config(data, tmp_path)
    links = {
        hs_id: HomeserverLink.connect(hs_id, hs.url, hs.registration(), hs.admin_token)
        for hs_id, hs in config.homeservers.items()
    }
    vejle = Counsellor(hs2.url, vejle_user, vejle_token)
    try:
        first = await plan(config, links)
        sparring = [s for s in steps(first) if s[1] == "sparring_syd"]
        assert sparring == [
            ("create_room", "sparring_syd", ""),
            ("invite", "sparring_syd", odense_user),
            ("invite", "sparring_syd", vejle_user),
            ("join", "sparring_syd", hs2.registration.bot_user_id),
        ]
        assert {a.homeserver for a in first if a.scope == "vejle"} == {"hs2"}
        await apply(config, links, first)
        assert not await plan(config, links)

        room_id = await links["hs1"].bot.resolve_alias("#_ungechat_sparring_syd:" + hs1.server_name)
        await vejle.join(room_id)  # accepting the invitation, over federation
        assert (await state_as(vejle, room_id, "m.room.name"))[1]["name"] == "Sparring Syd"
        seen_from_hs2 = await Directory().sparring_room(links["hs2"], links["hs1"], "syd")
        assert seen_from_hs2 == room_id

        data["municipalities"][1]["counsellors"] = []
        edited = parse_config(data, tmp_path)
        removals = [s for s in steps(await plan(edited, links)) if s[0] == "kick"]
        assert ("kick", "sparring_syd", vejle_user) in removals
        await apply(edited, links, await plan(edited, links))
        assert not await plan(edited, links)
        status, _ = await state_as(vejle, room_id, "m.room.name")
        assert status == 403
    finally:
        await vejle.client.close()
        for link in links.values():
            await link.close()
