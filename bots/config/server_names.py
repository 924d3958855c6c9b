"""What a Matrix server name looks like (the spec's grammar: a DNS name or an IP
literal, with an optional port), for the config's network and the federation settings."""

from __future__ import annotations

import ipaddress
import re

# The Matrix spec's server name grammar: a DNS name, IPv4 or [IPv6], and an optional port.
_DNS_NAME = re.compile(r"^[A-Za-z0-9.-]{1,255}$")
_PORT = re.compile(r"^[0-9]{1,5}$")


def check_server_name(server_name: str) -> str:
    """`server_name` if it is a Matrix server name, else ValueError saying why."""
    host, port = server_name, None
    if server_name.startswith("["):
        end = server_name.find("]")
        host, rest = server_name[1:end], server_name[end + 1 :]
        if end < 0 or (rest and not rest.startswith(":")):
            raise ValueError(f"{server_name!r} is not a Matrix server name")
        port = rest[1:] if rest else None
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{server_name!r}: {host!r} is not an IPv6 address") from None
    else:
        if ":" in server_name:
            host, port = server_name.rsplit(":", 1)
        if not _DNS_NAME.match(host):
            raise ValueError(f"{server_name!r} is not a Matrix server name")
    if port is not None and not (_PORT.match(port) and 0 < int(port) < 65536):
        raise ValueError(f"{server_name!r}: port {port!r} is not a TCP port")
    return server_name
