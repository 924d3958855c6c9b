"""`ungechat up`: the whole system on one machine, with nothing installed but Python.

A local Synapse on SQLite, the demo municipalities provisioned, the bot and youth page
served, and STATE_DIR/stack.json written for people and tests. The state directory keeps
the homeserver's database, the tokens and the passwords, so a second `up` reuses them.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from typing import Any

import structlog
import yaml

from bots.config.load import load_config
from bots.config.model import Config
from bots.config.namespaces import Registration
from bots.matrix.gateway import MatrixGateway
from bots.matrix.links import Directory, HomeserverLink
from bots.service import running
from deploy.local.synapse import LocalSynapse, free_port
from provisioning.plan import apply, plan
from provisioning.registration import write_registration

log = structlog.get_logger(__name__)
SERVER_NAME = "ungechat.localhost"
DEMO_FILE = Path(__file__).with_name("demo.yaml")
HOST = "127.0.0.1"


def _private_json(path: Path, data: dict[str, Any]) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def load_or_create_secrets(path: Path) -> dict[str, Any]:
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    data = {
        "as_token": secrets.token_urlsafe(32),
        "hs_token": secrets.token_urlsafe(32),
        "admin_password": secrets.token_urlsafe(16),
        "passwords": {},
    }
    _private_json(path, data)
    return data


def demo_config(state_dir: Path, port: int, registration: Registration, admin_token: str) -> dict:
    demo = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))
    return {
        "database": f"sqlite+aiosqlite:///{state_dir.resolve() / 'ungechat.db'}",
        "listen": {"host": HOST, "port": port},
        "public_url": f"http://{HOST}:{port}",
        "homeservers": {
            "local": {
                "server_name": registration.server_name,
                "url": "",  # filled in below, it changes with each start
                "admin_token": admin_token,
                "appservice": {
                    "id": registration.id,
                    "as_token": registration.as_token,
                    "hs_token": registration.hs_token,
                    "sender_localpart": registration.sender_localpart,
                    "url": registration.url,
                    "registration_file": "appservice.yaml",
                },
            }
        },
        "municipalities": demo["municipalities"],
    }


async def _accept_invites(url: str, token: str, room_ids: list[str]) -> None:
    """Demo convenience: the counsellor accounts join their space and lobby up front."""
    counsellor = MatrixGateway(url, token)
    try:
        for room_id in room_ids:
            await counsellor.join(room_id)
    finally:
        await counsellor.close()


async def provision_demo(
    config: Config, synapse: LocalSynapse, passwords: dict[str, str]
) -> dict[str, Any]:
    """Create accounts, spaces and lobbies; returns the municipalities part of stack.json."""
    hs = config.homeservers["local"]
    link = HomeserverLink.connect("local", hs.url, hs.registration(), hs.admin_token)
    try:
        await apply(config, {"local": link}, await plan(config, {"local": link}))
        directory = Directory()
        result: dict[str, Any] = {}
        for m in config.municipalities:
            rooms = await directory.rooms(link, m.slug)
            counsellors = []
            for user_id in m.counsellors:
                localpart = user_id[1:].split(":", 1)[0]
                password = passwords.setdefault(user_id, secrets.token_urlsafe(12))
                _, token = await synapse.register_user(localpart, password)
                await _accept_invites(synapse.url, token, list(rooms.all_ids()))
                counsellors.append({"user_id": user_id, "password": password})
            result[m.slug] = {
                "name": m.name,
                "youth_url": m.youth_url(config.public_url),
                "space_id": rooms.space_id,
                "lobby_room_id": rooms.lobby_id,
                "counsellors": counsellors,
            }
        return result
    finally:
        await link.close()


def summary(stack: dict[str, Any]) -> str:
    lines = [
        "",
        "ungechat kører / is running",
        f"  Homeserver (til Element / any Matrix client): {stack['homeserver']}",
        f"  Ungesiden / youth page:                         {stack['intake']}",
        "",
    ]
    for slug, m in stack["municipalities"].items():
        lines.append(f"  {m['name']} ({slug})")
        lines.append(f"    Ung / youth:  {m['youth_url']}?kanal=plakat")
        for c in m["counsellors"]:
            lines.append(f"    Rådgiver:     {c['user_id']}  adgangskode/password: {c['password']}")
    lines += ["", "Stop med Ctrl-C / stop with Ctrl-C.", ""]
    return "\n".join(lines)


async def up(state_dir: Path, stop: asyncio.Event, *, announce: Any = print) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    secrets_file = state_dir / "secrets.json"
    stored = load_or_create_secrets(secrets_file)
    port = free_port(HOST, prefer=stored.get("intake_port"))
    stored["intake_port"] = port
    registration = Registration(
        id="ungechat",
        url=f"http://{HOST}:{port}",
        as_token=stored["as_token"],
        hs_token=stored["hs_token"],
        sender_localpart="ungechat",
        server_name=SERVER_NAME,
    )
    registration_file = write_registration(registration, state_dir / "appservice.yaml")
    synapse = LocalSynapse(state_dir / "synapse", SERVER_NAME, [registration_file])
    announce(f"Starter Synapse … / starting Synapse in {state_dir / 'synapse'}")
    await synapse.start()
    try:
        _, admin_token = await synapse.register_user("admin", stored["admin_password"], admin=True)
        data = demo_config(state_dir, port, registration, admin_token)
        data["homeservers"]["local"]["url"] = synapse.url
        config_file = state_dir / "ungechat.yaml"
        config_file.touch(mode=0o600, exist_ok=True)
        config_file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
        config = load_config(config_file)
        async with running(config, HOST, port):
            municipalities = await provision_demo(config, synapse, stored["passwords"])
            _private_json(secrets_file, stored)
            stack = {
                "homeserver": synapse.url,
                "intake": config.public_url,
                "admin_access_token": admin_token,
                "municipalities": municipalities,
            }
            _private_json(state_dir / "stack.json", stack)
            announce(summary(stack))
            await stop.wait()
    finally:
        await synapse.stop()
