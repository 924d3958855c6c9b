"""A real Synapse (from PyPI) as a subprocess on SQLite, loopback and a free port, for
`ungechat up` and the integration tests; with `postgres=` connection arguments it uses
that PostgreSQL database instead (deploy/local/postgres.py makes one). The state
directory keeps the SQLite database, signing key, media and secrets across starts;
homeserver.yaml is rewritten on every start (new port, current hardening). Synapse logs
to STATE_DIR/homeserver.log.

By default it does not federate at all. With `federation=FederationMode(...)`
(deploy/local/network.py) it also listens with TLS on the port its server name
`127.0.0.1:PORT` names, and federates with the network's servers only."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import secrets
import socket
import sqlite3
import ssl
import sys
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import yaml
from signedjson.key import generate_signing_key, write_signing_keys

from deploy.local.network import FederationMode
from deploy.local.process import Child

HOST = "127.0.0.1"
START_TIMEOUT = 120.0
SECRET_KEYS = ("registration_shared_secret", "macaroon_secret_key", "form_secret")
FAST = {"per_second": 1000, "burst_count": 10000}


def free_port(host: str = HOST, prefer: int | None = None) -> int:
    """A TCP port that is free right now: `prefer` if it is (so a restarted demo keeps
    its addresses and a counsellor's client stays logged in), else one the OS picks."""
    for port in ([prefer] if prefer else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            # As the servers themselves do: a port whose old connections linger is free.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise OSError(f"no free port on {host}")


class SynapseError(RuntimeError):
    """Synapse did not start, or refused an admin request."""


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge dicts (extra wins); lists and scalars are replaced, not merged."""
    merged = {**base, **extra}
    for key in base.keys() & extra.keys():
        if isinstance(base[key], dict) and isinstance(extra[key], dict):
            merged[key] = _merge(base[key], extra[key])
    return merged


class LocalSynapse(Child):
    def __init__(
        self,
        state_dir: Path,
        server_name: str,
        app_service_config_files: list[Path],
        *,
        extra_config: dict[str, Any] | None = None,
        federation: FederationMode | None = None,
        postgres: dict[str, Any] | None = None,
        more_listeners: list[dict[str, Any]] | None = None,
    ) -> None:
        """`postgres`: libpq/psycopg2 connection arguments of an existing database
        (UTF8, collation 'C'), e.g. LocalPostgres.synapse_args(); None for SQLite.
        `more_listeners`: listeners beside the client one (a worker setup's replication
        listener, deploy/local/workers.py)."""
        if federation is not None:
            federation.port_of(server_name)  # a bad server name fails here, not at start
        self.state_dir = state_dir.resolve()
        self.server_name = server_name
        self.app_service_config_files = [p.resolve() for p in app_service_config_files]
        self.extra_config = extra_config or {}
        self.federation = federation
        self.postgres = dict(postgres) if postgres is not None else None
        self.more_listeners = list(more_listeners or [])
        self.config_path = self.state_dir / "homeserver.yaml"
        self._sqlite_path = self.state_dir / "homeserver.db"
        self.log_path = self.state_dir / "homeserver.log"
        self.signing_key_path = self.state_dir / f"{server_name}.signing.key"
        self.port = 0
        super().__init__()
        self._secrets: dict[str, str] = {}
        self._federation_part: tuple[dict[str, Any], dict[str, Any]] | None = None

    @property
    def database_path(self) -> Path:
        """The SQLite database; there is none on PostgreSQL."""
        if self.postgres is not None:
            raise SynapseError(f"{self.server_name} keeps its data in PostgreSQL, not SQLite")
        return self._sqlite_path

    def _database(self) -> dict[str, Any]:
        if self.postgres is None:
            return {"name": "sqlite3", "args": {"database": str(self._sqlite_path)}}
        # Few connections: the homeserver is local, and the machine has few cores.
        return {"name": "psycopg2", "args": {"cp_min": 1, "cp_max": 5, **self.postgres}}

    @property
    def url(self) -> str:
        """The client API, plain HTTP on loopback (the bot and clients use this)."""
        return f"http://{HOST}:{self.port}"

    @property
    def federation_url(self) -> str:
        """In federation mode, the TLS listener that peers connect to (federation and
        /_matrix/key only; its certificate is the network CA's)."""
        if self.federation is None:
            raise SynapseError(f"{self.server_name} does not federate")
        return f"https://{self.server_name}"

    def config(self) -> dict[str, Any]:
        """The hardened homeserver.yaml for this start (secrets and port included)."""
        state = self.state_dir
        listener = {
            "port": self.port,
            "type": "http",
            "tls": False,
            "bind_addresses": [HOST],  # loopback only
            "x_forwarded": False,  # nothing in front of it; never trust a forwarded IP
            # Client API (with /_synapse/admin and /health); no federation or keys resource.
            "resources": [{"names": ["client"], "compress": False}],
        }
        config: dict[str, Any] = {
            "server_name": self.server_name,
            "public_baseurl": self.url + "/",
            "listeners": [listener, *self.more_listeners],
            "database": self._database(),
            "signing_key_path": str(self.signing_key_path),
            "media_store_path": str(state / "media_store"),
            "app_service_config_files": [str(p) for p in self.app_service_config_files],
            **self._secrets,
            # Accounts come from provisioning and the appservice only, never self-service.
            "enable_registration": False,
            "allow_guest_access": False,  # youth never get a Matrix account of their own
            "enable_3pid_lookup": False,  # no identity server ever learns who talks to whom
            # No federation: an empty whitelist refuses every remote server both ways.
            "federation_domain_whitelist": [],
            "trusted_key_servers": [],  # don't ask matrix.org for keys
            "suppress_key_server_warning": True,
            "allow_public_rooms_over_federation": False,
            # Conversation text must never enter a search index.
            "enable_search": False,
            "url_preview_enabled": False,  # a link in a chat must not make the server fetch it
            "presence": {"enabled": False},  # counsellors' online status is not shared
            "report_stats": False,  # no phoning home
            "enable_metrics": False,
            # Profiles (and so who exists) only for signed-in users who share a room.
            "require_auth_for_profile_requests": True,
            "limit_profile_requests_to_users_who_share_rooms": True,
            "include_profile_data_on_invite": False,
            "user_directory": {"enabled": False},  # youth accounts must not be searchable
            "enable_room_list_search": False,  # no public room directory at all …
            "room_list_publication_rules": [{"action": "deny"}],  # … and nothing published
            "push": {"include_content": False},  # message text never goes to Apple/Google
            "redaction_retention_period": "5m",  # a redacted message is really gone soon
            "forget_rooms_on_leave": True,
            # A new database's background updates run back to back, and start() waits for
            # them: one of them (sliding sync's room list) keeps the rooms it lists from
            # being purged until it is done, and under traffic it takes minutes.
            "background_updates": {"sleep_enabled": False},
            # Room version 12: creators have infinite power (bots/conversation_room.py).
            "default_room_version": "12",
            # Loopback only, the clients are tests and the local demo: don't throttle them.
            **dict.fromkeys(["rc_message", "rc_registration", "rc_joins_per_room"], FAST),
            **dict.fromkeys(["rc_room_creation", "rc_admin_redaction", "rc_media_create"], FAST),
            **dict.fromkeys(["rc_profile", "rc_delayed_event_mgmt", "rc_reports"], FAST),
            "rc_login": {"address": FAST, "account": FAST, "failed_attempts": FAST},
            "rc_joins": {"local": FAST, "remote": FAST},
            "rc_invites": {"per_room": FAST, "per_user": FAST, "per_issuer": FAST},
        }
        if self._federation_part is not None:
            tls_listener, settings = self._federation_part
            config["listeners"].append(tls_listener)
            config.update(settings)
        return _merge(config, self.extra_config)

    def _prepare_state(self) -> None:
        """Create or reuse the key and secrets, then (re)write homeserver.yaml."""
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.state_dir / "media_store").mkdir(exist_ok=True)
        if not self.signing_key_path.exists():
            self.signing_key_path.touch(mode=0o600)
            with self.signing_key_path.open("w") as f:
                write_signing_keys(f, [generate_signing_key("a_" + secrets.token_hex(2))])
        old: dict[str, Any] = {}
        if self.config_path.exists():
            old = yaml.safe_load(self.config_path.read_text(encoding="utf-8")) or {}
        self._secrets = {k: old.get(k) or secrets.token_urlsafe(32) for k in SECRET_KEYS}
        previous = (old.get("listeners") or [{}])[0].get("port")
        self.port = free_port(HOST, prefer=previous)
        if self.federation is not None:
            try:
                part = self.federation.prepare(self.server_name, self.state_dir / "tls")
            except OSError as e:
                raise SynapseError(str(e)) from e
            self._federation_part = part
        self.config_path.touch(mode=0o600, exist_ok=True)  # it holds the shared secret
        text = yaml.safe_dump(self.config(), sort_keys=False)
        self.config_path.write_text(text, encoding="utf-8")

    async def start(self) -> None:
        """Start Synapse and wait until /health answers; raises SynapseError with the log."""
        if self._proc is not None and self._proc.returncode is None:
            raise SynapseError("already running")
        self._prepare_state()
        command = [sys.executable, "-m", "deploy.local.synapse_main", "-c", str(self.config_path)]
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the fd
            self._proc = await asyncio.create_subprocess_exec(
                *command,
                cwd=self.state_dir,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                # Its own session: Ctrl-C reaches us, and we stop Synapse after the bot.
                start_new_session=True,
            )
        try:
            await asyncio.wait_for(self._wait_healthy(), START_TIMEOUT)
            await asyncio.wait_for(self._wait_background_updates(), START_TIMEOUT)
        except BaseException as e:
            await self.stop()
            if isinstance(e, TimeoutError):
                raise SynapseError(f"Synapse not healthy in {START_TIMEOUT:.0f} s") from e
            raise

    def _health_checks(self) -> list[tuple[str, ssl.SSLContext | None]]:
        """Every listener's /health, the TLS one checked against the network's CA."""
        checks: list[tuple[str, ssl.SSLContext | None]] = [(f"{self.url}/health", None)]
        if self.federation is not None:
            context = ssl.create_default_context(cafile=self.federation.ca.cert_path)
            checks.append((f"{self.federation_url}/health", context))
        return checks

    async def _wait_healthy(self) -> None:
        assert self._proc is not None
        pending = self._health_checks()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while pending:
                if self._proc.returncode is not None:
                    raise SynapseError(
                        f"Synapse exited with {self._proc.returncode}; "
                        f"{self.log_path}:\n{self.log_tail()}"
                    )
                url, context = pending[0]
                try:
                    async with http.get(url, ssl=context or True) as r:
                        if r.status == 200:
                            pending.pop(0)
                            continue
                except aiohttp.ClientSSLError as e:  # would never get better by waiting
                    raise SynapseError(f"{url}: TLS failed: {e}") from e
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.2)

    async def _wait_background_updates(self) -> None:
        """Until Synapse has no background update left (read from its database)."""
        while await self._background_updates_left():
            if self._proc is None or self._proc.returncode is not None:
                raise SynapseError(f"Synapse exited; {self.log_path}:\n{self.log_tail()}")
            await asyncio.sleep(0.2)

    async def _background_updates_left(self) -> int:
        query = "SELECT count(*) FROM background_updates"
        if self.postgres is not None:
            libpq = dict(self.postgres)
            conn = await asyncpg.connect(database=libpq.pop("dbname", None), **libpq)
            try:
                return int(await conn.fetchval(query))
            finally:
                await conn.close()

        def count() -> int:
            uri = f"file:{self._sqlite_path}?mode=ro"
            with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
                return int(db.execute(query).fetchone()[0])

        return await asyncio.to_thread(count)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    async def register_user(
        self, localpart: str, password: str, admin: bool = False
    ) -> tuple[str, str]:
        """(user_id, access_token); registers with the shared secret, or logs in if the
        user already exists (a reused state directory)."""
        register = f"{self.url}/_synapse/admin/v1/register"
        async with aiohttp.ClientSession() as http:
            async with http.get(register) as r:
                nonce = (await r.json())["nonce"]
            mac = hmac.new(self._secrets["registration_shared_secret"].encode(), None, "sha1")
            for part in (nonce, localpart, password):
                mac.update(part.encode() + b"\x00")
            mac.update(b"admin" if admin else b"notadmin")
            body = {
                "nonce": nonce,
                "username": localpart,
                "password": password,
                "admin": admin,
                "mac": mac.hexdigest(),
            }
            async with http.post(register, json=body) as r:
                data = await r.json()
            if r.status == 200:
                return data["user_id"], data["access_token"]
            if data.get("errcode") != "M_USER_IN_USE":
                raise SynapseError(f"registering {localpart}: {r.status} {data}")
            login = {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": localpart},
                "password": password,
            }
            async with http.post(f"{self.url}/_matrix/client/v3/login", json=login) as r:
                data = await r.json()
            if r.status != 200:
                raise SynapseError(f"logging in {localpart}: {r.status} {data}")
            return data["user_id"], data["access_token"]
