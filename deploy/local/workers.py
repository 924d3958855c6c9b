"""Synapse's workers for the local scale-out stack, as Synapse's worker documentation
lays them out: the main process keeps the Admin API, background tasks and the streams
not moved; `client1` (a generic worker) serves the clients' traffic (the counsellors'
/sync, the bot's rooms and messages); `persister1` alone writes events (`stream_writers`);
`pusher1` sends the appservice transactions to the bot (`notify_appservices_from_worker`).
They share the main process's homeserver.yaml and talk over Redis and HTTP replication
listeners on loopback. deploy/local/nginx.py routes the client API to them."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from dataclasses import dataclass
from typing import Any

import aiohttp
import yaml

from deploy.local.process import Child
from deploy.local.synapse import HOST, LocalSynapse, SynapseError

START_TIMEOUT = 90.0


@dataclass(frozen=True)
class WorkerPorts:
    main_replication: int
    client: int
    persister: int
    pusher: int


def main_settings(ports: WorkerPorts, redis_host: str, redis_port: int) -> dict[str, Any]:
    """What the shared homeserver.yaml says about the workers."""
    return {
        "redis": {"enabled": True, "host": redis_host, "port": redis_port},
        "instance_map": {
            "main": {"host": HOST, "port": ports.main_replication},
            "persister1": {"host": HOST, "port": ports.persister},
        },
        "stream_writers": {"events": "persister1"},
        "notify_appservices_from_worker": "pusher1",
    }


def replication_listener(port: int) -> dict[str, Any]:
    """Loopback only: the replication API must never be reachable from outside."""
    return {
        "port": port,
        "type": "http",
        "bind_addresses": [HOST],
        "resources": [{"names": ["replication"]}],
    }


def _http_listener(port: int, resources: list[str]) -> dict[str, Any]:
    return {
        "port": port,
        "type": "http",
        "bind_addresses": [HOST],
        "x_forwarded": False,  # nginx does not forward addresses to Synapse
        "resources": [{"names": resources, "compress": False}],
    }


class SynapseWorker(Child):
    """One worker process: `python -m synapse.app.generic_worker` with the main
    process's homeserver.yaml and its own worker file, logging to STATE/NAME.log."""

    def __init__(self, main: LocalSynapse, name: str, role: str, listener: dict[str, Any]):
        self.main = main
        self.name = name
        self.role = role
        self.port = int(listener["port"])
        self.listener = listener
        self.config_path = main.state_dir / "workers" / f"{name}.yaml"
        self.log_path = main.state_dir / f"{name}.log"
        super().__init__()

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def _write_config(self) -> None:
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        config = {
            "worker_app": "synapse.app.generic_worker",
            "worker_name": self.name,
            "worker_listeners": [self.listener],
        }
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")

    async def start(self) -> None:
        self._write_config()
        command = [
            sys.executable,
            *("-m", "synapse.app.generic_worker"),
            *("-c", str(self.main.config_path), "-c", str(self.config_path)),
        ]
        with self.log_path.open("ab") as log:
            self._proc = await asyncio.create_subprocess_exec(
                *command,
                cwd=self.main.state_dir,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            await asyncio.wait_for(self._wait_healthy(), START_TIMEOUT)
        except BaseException as e:
            await self.stop()
            if isinstance(e, TimeoutError):
                raise SynapseError(
                    f"worker {self.name} not healthy in {START_TIMEOUT:.0f} s"
                ) from e
            raise

    async def _wait_healthy(self) -> None:
        url = f"http://{self.address}/health"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while True:
                if self._proc is None or self._proc.returncode is not None:
                    tail = self.log_path.read_text(errors="replace").splitlines()[-30:]
                    raise SynapseError(f"worker {self.name} exited:\n" + "\n".join(tail))
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(url) as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.2)


def workers_of(main: LocalSynapse, ports: WorkerPorts) -> list[SynapseWorker]:
    """The three workers, persister first (the others send it the events they make)."""
    return [
        SynapseWorker(main, "persister1", "events", replication_listener(ports.persister)),
        SynapseWorker(main, "client1", "client", _http_listener(ports.client, ["client"])),
        SynapseWorker(main, "pusher1", "appservice", _http_listener(ports.pusher, ["health"])),
    ]


def pick_ports(previous: dict[str, int] | None, free: Any) -> WorkerPorts:
    """Ports for the workers, the previous ones again when they are free."""
    previous = previous or {}
    names = ("main_replication", "client", "persister", "pusher")
    chosen: list[int] = []
    for name in names:
        port = free(HOST, prefer=previous.get(name))
        while port in chosen:
            port = free(HOST)
        chosen.append(port)
    return WorkerPorts(*chosen)


def describe(workers: list[SynapseWorker]) -> dict[str, dict[str, Any]]:
    """For stack.json: where each worker runs and as which process."""
    return {w.name: {"role": w.role, "address": w.address, "pid": w.pid} for w in workers}
