"""`ungechat up` as a newcomer runs it: the whole stack from an empty state directory,
one conversation through it, Ctrl-C, and a second `up` that reuses the same state."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bots.cli import main
from tests.matrix_helpers import Counsellor, Youth

pytestmark = pytest.mark.synapse
UNGECHAT = Path(sys.executable).with_name("ungechat")


async def start_up(state_dir: Path, log: Path) -> tuple[asyncio.subprocess.Process, dict[str, Any]]:
    stack_file = state_dir / "stack.json"
    stack_file.unlink(missing_ok=True)
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            str(UNGECHAT), "up", "--state-dir", str(state_dir), stdout=out, stderr=out
        )
    async with asyncio.timeout(180):
        while not stack_file.exists():
            if proc.returncode is not None:
                raise AssertionError(f"up exited {proc.returncode}:\n{log.read_text()}")
            await asyncio.sleep(0.3)
    return proc, json.loads(stack_file.read_text())


async def stop_up(proc: asyncio.subprocess.Process, homeserver: str) -> None:
    proc.send_signal(signal.SIGINT)
    async with asyncio.timeout(60):
        assert await proc.wait() == 0
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(f"{homeserver}/health")


async def test_up_runs_the_whole_system_and_reuses_its_state(tmp_path: Path) -> None:
    state_dir, log = tmp_path / "state", tmp_path / "up.log"
    proc, stack = await start_up(state_dir, log)
    try:
        assert set(stack) == {"homeserver", "intake", "admin_access_token", "municipalities"}
        assert set(stack["municipalities"]) == {"halsnaes", "ringkoebing-skjern"}
        halsnaes = stack["municipalities"]["halsnaes"]
        assert set(halsnaes) == {"name", "youth_url", "space_id", "lobby_room_id", "counsellors"}
        printed = log.read_text()
        assert halsnaes["youth_url"] in printed
        assert halsnaes["counsellors"][0]["user_id"] in printed

        async with aiohttp.ClientSession() as http:
            async with http.get(halsnaes["youth_url"] + "?kanal=plakat") as r:
                assert r.status == 200 and "text/html" in r.headers["Content-Type"]
            login = halsnaes["counsellors"][0]
            counsellor = await Counsellor.login(
                stack["homeserver"], login["user_id"], login["password"]
            )
            await counsellor.start()
            try:
                youth = await Youth(stack["intake"], http).start("halsnaes", "plakat")
                youth.listen()
                await youth.send("Hej, er der nogen?")
                conversation_rooms = await counsellor.space_children(
                    halsnaes["space_id"], name_prefix="Samtale"
                )
                assert len(conversation_rooms) == 1
                room_id = conversation_rooms[0]
                await counsellor.join(room_id)
                await counsellor.sync_until(
                    lambda: "Hej, er der nogen?" in counsellor.texts_in(room_id)
                )
                await counsellor.say(room_id, "Ja, jeg er her.")
                reply = await youth.wait_for(lambda e: e.get("from") == "counsellor")
                assert reply["body"] == "Ja, jeg er her."
                await counsellor.say(room_id, "!luk")
                await youth.wait_for(lambda e: e == {"type": "status", "status": "closed"})
                await youth.stop_listening()
            finally:
                await counsellor.stop()
    finally:
        if proc.returncode is None:
            await stop_up(proc, stack["homeserver"])

    proc, again = await start_up(state_dir, log)
    try:
        # The same addresses, so a counsellor's Element stays logged in across restarts.
        assert (again["homeserver"], again["intake"]) == (stack["homeserver"], stack["intake"])
        assert again["municipalities"]["halsnaes"]["space_id"] == halsnaes["space_id"]
        assert again["municipalities"]["halsnaes"]["counsellors"] == halsnaes["counsellors"]
    finally:
        await stop_up(proc, again["homeserver"])


def test_up_without_synapse_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`pip install -e .` without the homeserver extra: a clear way forward, no traceback,
    nothing started and nothing written."""
    found = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "synapse" else found(name, *a)
    )
    assert main(["up", "--state-dir", str(tmp_path / "state")]) == 1
    err = capsys.readouterr().err
    assert "Synapse" in err and "pip install" in err and "matrix-synapse" in err
    assert not (tmp_path / "state").exists()
