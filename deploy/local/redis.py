"""Redis for Synapse's workers in the local scale-out stack: the machine's own when one
answers on 127.0.0.1:6379, else a throwaway `redis-server` from Debian's package that
keeps nothing on disk. Synapse uses it only as a pub/sub bus between its processes
(the channel is named after the server name), never as storage of conversations."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from pathlib import Path

from deploy.local.process import Child
from deploy.local.synapse import HOST, free_port

MACHINE_PORT = 6379
START_TIMEOUT = 20.0
INSTALL_HINT = "install Debian's package `redis-server` (apt-get install redis-server)"


class LocalRedisError(RuntimeError):
    pass


async def answers(host: str, port: int, timeout: float = 2.0) -> bool:
    """Whether a Redis server answers PING at host:port."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError):
        return False
    try:
        writer.write(b"PING\r\n")
        await writer.drain()
        reply = await asyncio.wait_for(reader.readline(), timeout)
        return reply.startswith(b"+PONG")
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


class LocalRedis(Child):
    """The machine's Redis, or one of our own on a free loopback port."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.host = HOST
        self.port = MACHINE_PORT
        self.own = False
        super().__init__()

    @property
    def source(self) -> str:
        return "throwaway" if self.own else "machine"

    async def start(self) -> None:
        if await answers(HOST, MACHINE_PORT):
            return
        binary = shutil.which("redis-server")
        if binary is None:
            raise LocalRedisError(f"no Redis answers on {HOST}:{MACHINE_PORT}; {INSTALL_HINT}")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.port, self.own = free_port(HOST), True
        with (self.state_dir / "redis.log").open("ab") as log:
            self._proc = await asyncio.create_subprocess_exec(
                binary,
                *("--bind", HOST, "--port", str(self.port)),
                *("--save", "", "--appendonly", "no", "--dir", str(self.state_dir)),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        async with asyncio.timeout(START_TIMEOUT):
            while not await answers(HOST, self.port):
                if self._proc.returncode is not None:
                    raise LocalRedisError(f"redis-server exited; see {self.state_dir}/redis.log")
                await asyncio.sleep(0.1)
