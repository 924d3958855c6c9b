"""Debian's nginx in front of the local scale-out stack, on two loopback ports:

- the homeserver's address: the client API requests Synapse's worker documentation
  lists for a generic worker go to `client1`, everything else (the Admin API, typing,
  receipts, account data) to the main process;
- the youth page's and the appservice's address: round robin over the ungechat
  replicas. A replica that refuses the connection (killed, restarting) is skipped and the
  request tried on the next one; an event stream is not buffered. The youth's address is
  passed on in X-Forwarded-For only for the replicas' in-memory rate limits (they trust
  loopback as a proxy, `trusted_proxies`); nginx keeps no access log.

nginx runs in the foreground with its own prefix (config, pid, temp files and error log
under STATE/nginx), never as the system's service."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from deploy.local.process import Child
from deploy.local.synapse import HOST

START_TIMEOUT = 15.0
INSTALL_HINT = "install Debian's package `nginx` (apt-get install nginx)"

# From Synapse's worker documentation ("Available worker applications",
# synapse.app.generic_worker): the client requests a generic worker can serve without
# owning a stream. Typing, receipts, account data, to-device and presence need a stream
# writer of their own; they stay on the main process here.
CLIENT_WORKER_ROUTES = [
    r"^/_matrix/client/(r0|v3)/sync$",
    r"^/_matrix/client/(api/v1|r0|v3)/events$",
    r"^/_matrix/client/(api/v1|r0|v3)/initialSync$",
    r"^/_matrix/client/(api/v1|r0|v3)/rooms/[^/]+/initialSync$",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/createRoom$",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/joined_members$",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/context/.*$",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/members$",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/state$",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/messages$",
    r"^/_matrix/client/v1/rooms/.*/hierarchy$",
    r"^/_matrix/client/(v1|unstable)/rooms/.*/relations/",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/login$",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/account/whoami$",
    r"^/_matrix/client/versions$",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/event/",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/joined_rooms$",
    r"^/_matrix/client/(r0|v3|unstable)/capabilities$",
    r"^/_matrix/client/(r0|v3|unstable)/user/.*/filter(/|$)",
    r"^/_matrix/client/(r0|v3|unstable)/register$",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/redact",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/send",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/state/",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/(join|invite|leave|ban|unban|kick)$",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/join/",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/profile/",
]


class LocalNginxError(RuntimeError):
    pass


def nginx_conf(
    prefix: Path,
    *,
    matrix_port: int,
    intake_port: int,
    synapse_main: str,
    synapse_client: str,
    replicas: list[str],
) -> str:
    routes = "|".join(f"({route})" for route in CLIENT_WORKER_ROUTES)
    servers = "\n".join(f"        server {r} max_fails=1 fail_timeout=2s;" for r in replicas)
    # As root, nginx's workers would run as `nobody`, which cannot enter the state
    # directory; this nginx is on loopback only, for the local stack.
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = prefix / "temp"
    return f"""# Written by `ungechat up --scale` (deploy/local/nginx.py) on every start.
{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;  # never a young person's address or user agent in a log
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    client_max_body_size 1m;
    proxy_http_version 1.1;
    proxy_set_header Connection "";

    upstream synapse_main {{ server {synapse_main}; }}
    upstream synapse_client {{ server {synapse_client}; }}
    upstream ungechat {{
{servers}
        keepalive 16;
    }}

    # The homeserver. Synapse sees nginx's address, never anyone else's.
    server {{
        listen {HOST}:{matrix_port};
        proxy_set_header Host $host;
        proxy_read_timeout 600s;  # long-polling /sync
        location ~ "{routes}" {{
            proxy_pass http://synapse_client;
        }}
        location / {{
            proxy_pass http://synapse_main;
        }}
    }}

    # The youth page, its API and the appservice endpoint: any replica will do.
    server {{
        listen {HOST}:{intake_port};
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $remote_addr;  # in memory only: rate limits
        proxy_next_upstream error timeout http_502;
        proxy_next_upstream_tries 3;
        location / {{
            proxy_pass http://ungechat;
            proxy_buffering off;  # event streams reach the page as they are written
            proxy_read_timeout 3600s;
        }}
    }}
}}
"""


class LocalNginx(Child):
    def __init__(self, state_dir: Path) -> None:
        self.prefix = state_dir.resolve()
        self.conf_path = self.prefix / "nginx.conf"
        super().__init__()
        self.binary = shutil.which("nginx") or "/usr/sbin/nginx"

    async def _nginx(self, *args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            self.binary,
            *("-p", str(self.prefix), "-c", str(self.conf_path), *args),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        return proc.returncode or 0, out.decode(errors="replace")

    async def start(self, conf: str) -> None:
        if not Path(self.binary).exists():
            raise LocalNginxError(f"nginx is missing; {INSTALL_HINT}")
        self.prefix.mkdir(parents=True, exist_ok=True)
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.prefix / "temp" / sub).mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(conf, encoding="utf-8")
        status, out = await self._nginx("-t", "-q")
        if status != 0:
            raise LocalNginxError(f"nginx refused {self.conf_path}:\n{out}")
        self._proc = await asyncio.create_subprocess_exec(
            self.binary,
            *("-p", str(self.prefix), "-c", str(self.conf_path), "-g", "daemon off;"),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        async with asyncio.timeout(START_TIMEOUT):
            while not (self.prefix / "nginx.pid").exists():
                if self._proc.returncode is not None:
                    log = (self.prefix / "error.log").read_text(errors="replace")
                    raise LocalNginxError(f"nginx exited:\n{log[-2000:]}")
                await asyncio.sleep(0.05)
