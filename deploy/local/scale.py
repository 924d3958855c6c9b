"""`ungechat up --scale`: the scale-out shape on one machine, from Debian's and PyPI's
packages only. Synapse on PostgreSQL with Redis and three workers
(deploy/local/workers.py), several ungechat replicas (`ungechat run`) on one PostgreSQL
database, and Debian's nginx in front of both (deploy/local/nginx.py); the demo
municipalities provisioned as by `ungechat up`.

PostgreSQL and Redis are the machine's when they answer on their default local ports
(127.0.0.1:5432 with trust auth for `postgres`, 127.0.0.1:6379), else throwaway ones
under the state directory. The databases are named after this state directory's id
(`ungechat_<id>_synapse`, `ungechat_<id>_bot`), so two stacks never share one.

Like systemd's `Restart=always`, a replica or worker that dies is started again after
RESTART_SECONDS. STATE/stack.json has the keys of `ungechat up`, plus where every
process runs (address and pid), rewritten when one is restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import aiohttp
import structlog
import yaml
from sqlalchemy.engine import make_url

from bots.config.load import load_config
from bots.config.namespaces import Registration
from deploy.local.nginx import LocalNginx, nginx_conf
from deploy.local.postgres import LocalPostgres, create_database, libpq_args, machine_postgres
from deploy.local.process import Child
from deploy.local.redis import LocalRedis
from deploy.local.synapse import HOST, LocalSynapse, free_port
from deploy.local.up import (
    SERVER_NAME,
    _private_json,
    demo_config,
    load_or_create_secrets,
    provision_demo,
    summary,
)
from deploy.local.workers import (
    SynapseWorker,
    describe,
    main_settings,
    pick_ports,
    replication_listener,
    workers_of,
)
from provisioning.registration import write_registration

log = structlog.get_logger(__name__)
MACHINE_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
REPLICAS = 2
RESTART_SECONDS = 1.0
START_TIMEOUT = 60.0
UNGECHAT = Path(sys.executable).parent / "ungechat"


class Replica(Child):
    """One ungechat process (`ungechat run --port PORT`), JSON logs to STATE/NAME.log.
    `stop` is a SIGTERM: the replica hands its event streams over and finishes."""

    def __init__(self, name: str, config_file: Path, port: int, log_path: Path) -> None:
        self.name, self.config_file, self.port, self.log_path = name, config_file, port, log_path
        super().__init__()
        self.metrics_port: int | None = None

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def _metrics_port_from_log(self) -> int | None:
        """Each replica's Prometheus listener takes a free port (config port 0) and says
        which in its JSON log; the newest line is this run's."""
        port = None
        for line in self.log_path.read_text(errors="replace").splitlines():
            if '"metrics_listening"' in line:
                with contextlib.suppress(ValueError, KeyError):
                    port = int(json.loads(line)["port"])
        return port

    async def start(self) -> None:
        command = [str(UNGECHAT), "--log-json", "run", "-c", str(self.config_file)]
        with self.log_path.open("ab") as out:
            self._proc = await asyncio.create_subprocess_exec(
                *command,
                "--port",
                str(self.port),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            await self._wait_healthy()
        except BaseException:
            await self.stop()
            raise

    async def _wait_healthy(self) -> None:
        assert self._proc is not None
        url = f"http://{self.address}/healthz"
        async with (
            asyncio.timeout(START_TIMEOUT),
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http,
        ):
            while True:
                if self._proc.returncode is not None:
                    tail = self.log_path.read_text(errors="replace").splitlines()[-20:]
                    raise RuntimeError(f"{self.name} exited:\n" + "\n".join(tail))
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(url) as r:
                        if r.status == 200:
                            self.metrics_port = self._metrics_port_from_log()
                            return
                await asyncio.sleep(0.2)


async def _postgres(state_dir: Path) -> tuple[str, LocalPostgres | None]:
    """A superuser URL: the machine's PostgreSQL, or a throwaway cluster of our own."""
    if await machine_postgres(MACHINE_POSTGRES):
        return MACHINE_POSTGRES, None
    cluster = LocalPostgres(state_dir / "postgres")
    await cluster.start()
    return cluster.admin_url, cluster


def _database_url(admin_url: str, name: str) -> str:
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


class ScaledStack:
    def __init__(self, state_dir: Path, replicas: int = REPLICAS) -> None:
        self.state_dir = state_dir.resolve()
        self.replica_count = replicas
        self.postgres: LocalPostgres | None = None
        self.postgres_url = ""
        self.redis = LocalRedis(self.state_dir / "redis")
        self.synapse: LocalSynapse | None = None
        self.workers: list[SynapseWorker] = []
        self.nginx = LocalNginx(self.state_dir / "nginx")
        self.replicas: list[Replica] = []
        self.stack: dict[str, Any] = {}

    def describe(self) -> dict[str, Any]:
        assert self.synapse is not None
        return {
            **self.stack,
            "replicas": [
                {
                    "name": r.name,
                    "address": r.address,
                    "pid": r.pid,
                    "metrics": f"http://{HOST}:{r.metrics_port}/metrics",
                }
                for r in self.replicas
            ],
            "synapse": {
                "main": {"address": f"{HOST}:{self.synapse.port}", "pid": self.synapse.pid},
                "workers": describe(self.workers),
            },
            "nginx": {"pid": self.nginx.pid},
            "postgres": "throwaway" if self.postgres else "machine",
            "redis": f"{self.redis.source} {self.redis.host}:{self.redis.port}",
        }

    def write_stack_json(self) -> None:
        _private_json(self.state_dir / "stack.json", self.describe())

    async def start(self, announce: Any = print) -> dict[str, Any]:
        state = self.state_dir
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        secrets_file = state / "secrets.json"
        stored = load_or_create_secrets(secrets_file)
        stored.setdefault("stack_id", secrets.token_hex(4))
        ports = stored.setdefault("ports", {})
        matrix_port = ports["matrix"] = free_port(HOST, prefer=ports.get("matrix"))
        intake_port = ports["intake"] = free_port(HOST, prefer=ports.get("intake"))
        worker_ports = pick_ports(ports.get("workers"), free_port)
        ports["workers"] = worker_ports.__dict__
        replica_ports = [free_port(HOST) for _ in range(self.replica_count)]
        _private_json(secrets_file, stored)

        announce("Starter PostgreSQL og Redis … / starting PostgreSQL and Redis")
        self.postgres_url, self.postgres = await _postgres(state)
        names = {part: f"ungechat_{stored['stack_id']}_{part}" for part in ("synapse", "bot")}
        await create_database(self.postgres_url, names["synapse"])
        await create_database(self.postgres_url, names["bot"])
        await self.redis.start()

        # Synapse names its Redis channel after the server name: a name of this stack's
        # own keeps two stacks on the machine's Redis from hearing each other.
        server_name = f"scale-{stored['stack_id']}.localhost"
        public = f"http://{HOST}:{intake_port}"
        matrix = f"http://{HOST}:{matrix_port}"
        registration = Registration(
            id="ungechat",
            url=public,  # the homeserver pushes through nginx, to any replica
            as_token=stored["as_token"],
            hs_token=stored["hs_token"],
            sender_localpart="ungechat",
            server_name=server_name,
        )
        registration_file = write_registration(registration, state / "appservice.yaml")
        self.synapse = LocalSynapse(
            state / "synapse",
            server_name,
            [registration_file],
            postgres=libpq_args(_database_url(self.postgres_url, names["synapse"])),
            more_listeners=[replication_listener(worker_ports.main_replication)],
            extra_config={
                "public_baseurl": matrix + "/",
                **main_settings(worker_ports, self.redis.host, self.redis.port),
            },
        )
        announce("Starter Synapse og dens workers … / starting Synapse and its workers")
        await self.synapse.start()
        self.workers = workers_of(self.synapse, worker_ports)
        for worker in self.workers:
            await worker.start()
        self.replicas = [
            Replica(f"replica{i + 1}", state / "ungechat.yaml", port, state / f"replica{i + 1}.log")
            for i, port in enumerate(replica_ports)
        ]
        await self.nginx.start(
            nginx_conf(
                self.nginx.prefix,
                matrix_port=matrix_port,
                intake_port=intake_port,
                synapse_main=f"{HOST}:{self.synapse.port}",
                synapse_client=f"{HOST}:{worker_ports.client}",
                replicas=[r.address for r in self.replicas],
            )
        )

        _, admin_token = await self.synapse.register_user(
            "admin", stored["admin_password"], admin=True
        )
        data = demo_config(state, intake_port, registration, admin_token)
        data["database"] = _database_url(self.postgres_url, names["bot"])
        for m in data["municipalities"]:  # the demo's counsellors, on this server name
            m["counsellors"] = [
                c.replace(f":{SERVER_NAME}", f":{server_name}") for c in m["counsellors"]
            ]
        data["homeservers"]["local"]["url"] = matrix
        data["public_url"] = public
        data["intake"] = {"trusted_proxies": [f"{HOST}/32"]}  # nginx, for rate limits
        data["metrics"] = {"host": HOST, "port": 0}  # each replica its own free port
        config_file = state / "ungechat.yaml"
        config_file.touch(mode=0o600, exist_ok=True)
        config_file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
        config = load_config(config_file)  # a bad config stops here, before any replica
        announce(f"Starter {len(self.replicas)} ungechat-replikaer / starting the replicas")
        await asyncio.gather(*(r.start() for r in self.replicas))
        municipalities = await provision_demo(config, self.synapse, stored["passwords"])
        _private_json(secrets_file, stored)
        self.stack = {
            "homeserver": matrix,
            "intake": public,
            "admin_access_token": admin_token,
            "municipalities": municipalities,
            "bot_database": data["database"],
            "synapse_database": names["synapse"],
        }
        self.write_stack_json()
        return self.stack

    async def supervise(self, stop: asyncio.Event) -> None:
        """Until `stop`: start again any replica or worker that died (and again, each
        round, one whose start failed)."""
        failed: list[SynapseWorker | Replica] = []
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RESTART_SECONDS)
            if stop.is_set():
                return
            processes: list[SynapseWorker | Replica] = [*self.workers, *self.replicas]
            dead = [p for p in processes if p.exited() or p in failed]
            failed = []
            for process in dead:
                log.warning("restarting", process=process.name)
                try:
                    await process.start()
                except Exception as exc:  # try again on the next round
                    log.error("restart_failed", process=process.name, error=repr(exc))
                    failed.append(process)
            if dead:
                self.write_stack_json()

    async def stop(self) -> None:
        """Replicas first (they finish their work), then the homeserver, then the rest."""
        await asyncio.gather(*(r.stop() for r in self.replicas))
        await self.nginx.stop()
        for worker in reversed(self.workers):
            await worker.stop()
        if self.synapse is not None:
            await self.synapse.stop()
        await self.redis.stop()
        if self.postgres is not None:
            await self.postgres.stop()


async def up_scaled(
    state_dir: Path, stop: asyncio.Event, *, replicas: int = REPLICAS, announce: Any = print
) -> None:
    stack = ScaledStack(state_dir, replicas)
    try:
        await stack.start(announce)
        announce(summary(stack.stack))
        announce(f"  stack.json: {stack.state_dir / 'stack.json'} (pid {os.getpid()})\n")
        await stack.supervise(stop)
    finally:
        await stack.stop()
