"""One child process of a local stack (a Synapse process, a replica, nginx, Redis): its
pid while it runs, whether it died, and stopping it gently (SIGTERM, then SIGKILL) or
as a crash would (SIGKILL)."""

from __future__ import annotations

import asyncio
import contextlib
import signal

STOP_TIMEOUT = 20.0


class Child:
    def __init__(self) -> None:
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        """The process id while it runs; None before start, after stop or once it died."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    def exited(self) -> bool:
        """True if it was started and has died since (a crash, or a kill from outside)."""
        return self._proc is not None and self._proc.returncode is not None

    async def kill(self) -> None:
        """SIGKILL: it dies at once with whatever it had in memory (a crash, for fault
        tests). Starting it again works afterwards."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()

    async def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, then SIGKILL after `timeout`. Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
