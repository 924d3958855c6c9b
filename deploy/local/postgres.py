"""A throwaway PostgreSQL cluster from Debian's binaries, for the tests and the local
scale-out stack. Under its state directory: the cluster (`data/`), its socket directory
(`socket/`), its log (`postgres.log`) and the port it last used, which it keeps across
starts when that port is still free. It listens on 127.0.0.1 only and trusts every
connection over loopback and its socket, so any local user of the machine may connect:
for tests and demos, never for production.

initdb and postgres refuse to run as root; as root the cluster runs as the `postgres`
system user (Debian's `postgresql` package creates it), which therefore must be able to
enter every directory above the state directory."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import re
import signal
import stat
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import URL, make_url

from deploy.local.synapse import HOST, free_port

DEBIAN_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "postgres"  # the cluster's superuser role, whoever runs the server
SERVER_USER = "postgres"  # the system user that runs the server when we are root
START_TIMEOUT = 60.0  # crash recovery included
STOP_TIMEOUT = 30.0
PROBE_TIMEOUT = 2.0
SOCKET_PATH_MAX = 107  # sun_path, less its NUL
INSTALL_HINT = "install Debian's package `postgresql` (apt-get install postgresql)"
HBA = """\
# Written by ungechat on every start: trust, but only over the socket and loopback.
local all all trust
host all all 127.0.0.1/32 trust
host all all ::1/128 trust
"""


class LocalPostgresError(RuntimeError):
    """The binaries are missing, or the cluster did not start."""


def find_bindir(root: Path = DEBIAN_ROOT, version: str | None = None) -> Path:
    """Debian's server binaries: those of `version` when installed, else the newest."""
    found = {
        d.parent.name: d
        for d in root.glob("*/bin")
        if (d / "initdb").is_file() and (d / "postgres").is_file()
    }
    if not found:
        raise LocalPostgresError(f"no PostgreSQL server under {root}/*/bin: {INSTALL_HINT}")
    if version in found:
        return found[version]
    return found[max(found, key=lambda v: tuple(int(n) for n in re.findall(r"\d+", v)))]


def asyncpg_args(url: str) -> dict[str, Any]:
    """asyncpg.connect() arguments for an SQLAlchemy URL."""
    return make_url(url).translate_connect_args(username="user")


def libpq_args(url: str) -> dict[str, Any]:
    """libpq/psycopg2 connection arguments (Synapse's `database.args`) for an SQLAlchemy URL."""
    return make_url(url).translate_connect_args(username="user", database="dbname")


async def machine_postgres(url: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether a PostgreSQL server answers at `url` (an SQLAlchemy URL) and lets us in."""
    try:
        conn = await asyncpg.connect(**asyncpg_args(url), timeout=timeout)
        try:
            await conn.fetchval("SELECT 1", timeout=timeout)
        finally:
            await conn.close(timeout=timeout)
    except Exception:  # refused, unknown host, bad credentials, timeout: all mean "no"
        return False
    return True


async def create_database(admin_url: str, name: str) -> bool:
    """Create database `name` the way Synapse requires (UTF8, collation and ctype 'C',
    from template0) unless it exists. True if it was created."""
    conn = await asyncpg.connect(**asyncpg_args(admin_url))
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        ident = '"' + name.replace('"', '""') + '"'
        await conn.execute(
            f"CREATE DATABASE {ident} ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' "
            "TEMPLATE template0"
        )
    except asyncpg.DuplicateDatabaseError:  # someone else made it meanwhile
        return False
    finally:
        await conn.close()
    return True


def _server_user() -> pwd.struct_passwd | None:
    """The system user to run the server as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise LocalPostgresError(
            f"as root, PostgreSQL runs as the `{SERVER_USER}` system user, "
            f"which does not exist: {INSTALL_HINT}"
        ) from None


def _check_reachable(path: Path, user: pwd.struct_passwd) -> None:
    """Fail clearly if `user` cannot enter every directory above `path`."""
    groups = set(os.getgrouplist(user.pw_name, user.pw_gid))
    for directory in reversed(path.parents):
        st = directory.stat()
        if st.st_uid == user.pw_uid:
            bit = stat.S_IXUSR
        elif st.st_gid in groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            raise LocalPostgresError(
                f"PostgreSQL runs as `{user.pw_name}` (we are root), which cannot enter "
                f"{directory}; put the state directory {path} where it can, e.g. under /tmp"
            )


def _children(pid: int) -> list[int]:
    """Processes whose parent is `pid`."""
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat_file.read_text().rpartition(")")[2].split()
            if int(fields[1]) == pid:
                found.append(int(stat_file.parent.name))
    return found


def _alive(pid: int) -> bool:
    """Running, not a zombie (a zombie holds no shared memory, so it blocks no restart)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


class LocalPostgres:
    def __init__(self, state_dir: Path, *, fsync: bool = True, bindir: Path | None = None) -> None:
        """`fsync=False` is faster and survives a crash of the server (kill()), not one of
        the machine: for tests."""
        self.state_dir = state_dir.resolve()
        self.data_dir = self.state_dir / "data"
        self.log_path = self.state_dir / "postgres.log"
        self.fsync = fsync
        self._bindir = bindir
        self._port_file = self.state_dir / "port"
        socket_dir = self.state_dir / "socket"
        # A deep state directory gets no socket (TCP only) rather than a failed start.
        fits = len(str(socket_dir / ".s.PGSQL.65535")) <= SOCKET_PATH_MAX
        self.socket_dir: Path | None = socket_dir if fits else None
        self.port = 0
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL (asyncpg) of a database in this cluster, as its superuser."""
        url = URL.create(
            "postgresql+asyncpg", username=SUPERUSER, host=HOST, port=self.port, database=database
        )
        return url.render_as_string(hide_password=False)

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def synapse_args(self, database: str) -> dict[str, Any]:
        """libpq/psycopg2 connection arguments for Synapse's `database.args`."""
        return libpq_args(self.url(database))

    async def create_database(self, name: str) -> bool:
        """See the module function: UTF8 with 'C' collation, as Synapse requires."""
        return await create_database(self.admin_url, name)

    async def start(self) -> None:
        """initdb on the first start, then run the server until it accepts connections;
        raises LocalPostgresError with the log's tail."""
        if self.running:
            raise LocalPostgresError("already running")
        user = _server_user()
        version_file = self.data_dir / "PG_VERSION"
        version = version_file.read_text().strip() if version_file.exists() else None
        bindir = self._bindir or find_bindir(version=version)
        self._prepare(user)
        if version is None:
            command = [bindir / "initdb", "-D", self.data_dir, "-U", SUPERUSER, "-A", "trust"]
            command += ["-E", "UTF8", "--locale=C"] + ([] if self.fsync else ["--no-sync"])
            initdb = await self._spawn(command, user)
            if await initdb.wait() != 0:
                raise LocalPostgresError(f"initdb failed; {self.log_path}:\n{self.log_tail()}")
        self._write_owned(self.data_dir / "pg_hba.conf", HBA, user)
        self.port = free_port(HOST, prefer=self._previous_port())
        self._port_file.write_text(f"{self.port}\n")
        sockets = f'"{self.socket_dir}"' if self.socket_dir else ""
        command = [bindir / "postgres", "-D", self.data_dir, "-p", str(self.port)]
        for setting in (f"listen_addresses={HOST}", f"unix_socket_directories={sockets}"):
            command += ["-c", setting]
        command += ["-c", f"fsync={'on' if self.fsync else 'off'}"]
        self._proc = await self._spawn(command, user)
        try:
            await asyncio.wait_for(self._wait_ready(), START_TIMEOUT)
        except BaseException as e:
            await self.stop()
            if isinstance(e, TimeoutError):
                raise LocalPostgresError(
                    f"PostgreSQL not ready in {START_TIMEOUT:.0f} s; "
                    f"{self.log_path}:\n{self.log_tail()}"
                ) from e
            raise

    def _prepare(self, user: pwd.struct_passwd | None) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.socket_dir is not None:
            self.socket_dir.mkdir(exist_ok=True, mode=0o700)
        if user is not None:
            _check_reachable(self.state_dir, user)
            for directory in (self.state_dir, self.socket_dir):
                if directory is not None:
                    os.chown(directory, user.pw_uid, user.pw_gid)

    @staticmethod
    def _write_owned(path: Path, text: str, user: pwd.struct_passwd | None) -> None:
        path.write_text(text, encoding="utf-8")
        if user is not None:
            os.chown(path, user.pw_uid, user.pw_gid)

    def _previous_port(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            return int(self._port_file.read_text())
        return None

    async def _spawn(
        self, command: list[Any], user: pwd.struct_passwd | None
    ) -> asyncio.subprocess.Process:
        as_user: dict[str, Any] = {}
        if user is not None:
            groups = os.getgrouplist(user.pw_name, user.pw_gid)
            as_user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": groups}
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the fd
            return await asyncio.create_subprocess_exec(
                *map(str, command),
                cwd=self.state_dir,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us; we stop it in order
                **as_user,
            )

    async def _wait_ready(self) -> None:
        assert self._proc is not None
        while True:
            if self._proc.returncode is not None:
                raise LocalPostgresError(
                    f"PostgreSQL exited with {self._proc.returncode}; "
                    f"{self.log_path}:\n{self.log_tail()}"
                )
            try:
                conn = await asyncpg.connect(**asyncpg_args(self.admin_url), timeout=2)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await asyncio.sleep(0.1)  # not listening yet, or still recovering
                continue
            await conn.close()
            return

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    async def stop(self) -> None:
        """Fast shutdown (sessions ended, a checkpoint written); if it hangs, an immediate
        one, then SIGKILL. Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        for sig, timeout in ((signal.SIGINT, STOP_TIMEOUT), (signal.SIGQUIT, 5.0)):
            try:
                proc.send_signal(sig)
                await asyncio.wait_for(proc.wait(), timeout)
                return
            except ProcessLookupError:
                break
            except TimeoutError:
                continue
        await self._kill(proc)

    async def kill(self) -> None:
        """A crash, as when the machine or its container dies: the postmaster and all its
        processes SIGKILLed at once, nothing flushed. The next start recovers from the WAL."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            await self._kill(proc)

    @staticmethod
    async def _kill(proc: asyncio.subprocess.Process) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGSTOP)  # no new backends while we list them
        children = _children(proc.pid)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        await proc.wait()
        # A restart refuses to start while an old backend still holds shared memory.
        for _ in range(int(STOP_TIMEOUT / 0.05)):
            if not any(_alive(pid) for pid in children):
                break
            await asyncio.sleep(0.05)
