"""The federation part of a homeserver.yaml for the municipalities' closed network.

Each municipality (or a shared regional host) runs its own Synapse; they federate with
each other and with nobody else. `federation_config(network)` renders the keys that make
that so, for production deploys and for the local test network (deploy/local/synapse.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bots.config.server_names import check_server_name


def federation_config(
    network: list[str], *, custom_ca_files: list[Path] | None = None
) -> dict[str, Any]:
    """The homeserver.yaml keys that federate with the servers in `network` only.

    `network` lists the server names of every homeserver in the network (this server's
    own may be among them); a bad entry raises ValueError naming its index and value.
    `custom_ca_files` replaces the system's trusted CAs for federation (a private CA);
    leave it out where the servers have publicly trusted certificates.
    """
    names: list[str] = []
    for index, name in enumerate(network):
        if not isinstance(name, str):
            raise ValueError(f"network[{index}]: {name!r} is not a server name")
        try:
            check_server_name(name)
        except ValueError as e:
            raise ValueError(f"network[{index}]: {e}") from None
        if name not in names:
            names.append(name)
    if not names:
        raise ValueError("network: name at least one homeserver (an empty list is no network)")
    config: dict[str, Any] = {
        # Whitelisted server names (port included) only, in and out; the whitelist is
        # compared with the full server name, so `example.org` does not admit `example.org:8448`.
        "federation_domain_whitelist": names,
        # Real TLS checks on every federation connection.
        "federation_verify_certificates": True,
        "federation_client_minimum_tls_version": "1.2",
        # Members fetch each other's signing keys directly; no outside notary (matrix.org)
        # learns which servers talk to each other.
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        # Nothing is published to, or profiled from, other servers beyond shared rooms.
        "allow_public_rooms_over_federation": False,
        "allow_profile_lookup_over_federation": False,
        "allow_device_name_lookup_over_federation": False,
        "federation_whitelist_endpoint_enabled": False,
    }
    if custom_ca_files:
        config["federation_custom_ca_list"] = [str(p) for p in custom_ca_files]
    return config
