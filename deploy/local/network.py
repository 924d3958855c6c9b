"""Federation mode for a LocalSynapse: a network of homeservers on loopback, with TLS.

A member's server name is `127.0.0.1:PORT`. Synapse connects to an IP literal with a
port directly — no DNS, no SRV, no .well-known — and checks that the peer's certificate
carries that IP as a subjectAltName, issued by the network's CA (deploy/local/tls.py).
The server name fixes the federation port for the life of the homeserver (its user ids
end in it), so a restart must get the same port back.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.federation import check_server_name, federation_config
from deploy.local.tls import CertificateAuthority

HOST = "127.0.0.1"

# Loopback only, and a neighbour that is restarted comes back within seconds: retry a
# failed transaction every second or so for about a minute (Synapse's defaults wait up to
# 60 s between retries, then back off from the server for 10 minutes), so a test sees
# the catch-up promptly. What is retried, and that nothing is lost, is unchanged.
FAST_RETRIES = {"max_long_retry_delay": "1s", "max_long_retries": 60}


def reserve_server_names(count: int) -> list[str]:
    """`count` distinct server names `127.0.0.1:PORT` on ports that are free right now."""
    with contextlib.ExitStack() as held:
        names = []
        for _ in range(count):
            s = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((HOST, 0))  # held open until all are picked, so no port comes twice
            names.append(f"{HOST}:{s.getsockname()[1]}")
        return names


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def _blocklist_without_loopback() -> list[str]:
    from synapse.config.server import DEFAULT_IP_RANGE_BLOCKLIST  # only where Synapse runs

    return [r for r in DEFAULT_IP_RANGE_BLOCKLIST if r != "127.0.0.0/8"]


@dataclass(frozen=True)
class FederationMode:
    """Federate with the servers named in `network` (only), over TLS checked against `ca`."""

    ca: CertificateAuthority
    network: list[str]

    def port_of(self, server_name: str) -> int:
        """The federation port a member's server name fixes; ValueError if the name is
        not `127.0.0.1:PORT` (that is what peers connect to, with no DNS)."""
        check_server_name(server_name)
        host, _, port = server_name.rpartition(":")
        if host != HOST or not port:
            raise ValueError(
                f"server_name {server_name!r}: in federation mode it must be {HOST}:PORT"
            )
        return int(port)

    def prepare(self, server_name: str, tls_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
        """Issue this start's certificate; (TLS listener, homeserver.yaml keys).
        OSError if the server name's port is taken."""
        port = self.port_of(server_name)
        if not port_is_free(port):
            raise OSError(
                f"port {port} is in use, and server {server_name} can only listen there "
                "(its server name fixes the port): stop whatever holds it"
            )
        cert_path, key_path = self.ca.issue(server_name, tls_dir)
        listener = {
            "port": port,
            "type": "http",
            "tls": True,
            "bind_addresses": [HOST],
            "x_forwarded": False,
            # Federation (with /_matrix/key) for the peers. The client API stays on the
            # plain loopback listener, where the bot and clients need no CA: a second
            # `client` resource would make Synapse register every client servlet twice
            # (it logs "Metric ... already registered" errors at start).
            "resources": [{"names": ["federation"], "compress": False}],
        }
        settings = {
            **federation_config(self.network, custom_ca_files=[self.ca.cert_path]),
            "tls_certificate_path": str(cert_path),
            "tls_private_key_path": str(key_path),
            # Synapse refuses to federate with private and loopback addresses, and for
            # an IP-literal server name it ignores `ip_range_whitelist`; the whole
            # network is on loopback, so federation's own blocklist drops loopback only
            # (push and the rest keep the full default blocklist).
            "federation_ip_range_blacklist": _blocklist_without_loopback(),
            "federation": FAST_RETRIES,
        }
        return listener, settings
