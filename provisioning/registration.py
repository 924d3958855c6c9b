"""The application service registration that a homeserver loads to let the bot in.

The bot owns an exclusive namespace for itself and for the ephemeral youth accounts
(`@_<id>_ung_…`), and for the conversation room aliases (`#_<id>_c_…`). It is not rate
limited, and it receives typing and read receipts (`receive_ephemeral`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Registration:
    id: str
    url: str
    as_token: str
    hs_token: str
    sender_localpart: str
    server_name: str

    @property
    def prefix(self) -> str:
        """Localpart prefix of every account and alias the bot owns (besides its sender)."""
        return f"_{self.id}_"

    @property
    def bot_user_id(self) -> str:
        return f"@{self.sender_localpart}:{self.server_name}"

    def youth_user_id(self, conversation_id: str) -> str:
        return f"@{self.prefix}ung_{conversation_id}:{self.server_name}"

    def conversation_alias_localpart(self, conversation_id: str) -> str:
        return f"{self.prefix}c_{conversation_id}"

    def space_alias_localpart(self, slug: str) -> str:
        return f"{self.prefix}space_{slug}"

    def lobby_alias_localpart(self, slug: str) -> str:
        return f"{self.prefix}lobby_{slug}"

    def staff_alias_localpart(self, slug: str) -> str:
        return f"{self.prefix}staff_{slug}"

    def sparring_alias_localpart(self, sparring_id: str) -> str:
        return f"{self.prefix}sparring_{sparring_id}"

    def alias(self, localpart: str) -> str:
        return f"#{localpart}:{self.server_name}"

    def owns_user(self, user_id: str) -> bool:
        return user_id == self.bot_user_id or (
            user_id.startswith(f"@{self.prefix}") and user_id.endswith(f":{self.server_name}")
        )

    def as_dict(self) -> dict:
        server = re.escape(self.server_name)
        prefix = re.escape(self.prefix)
        return {
            "id": self.id,
            "url": self.url,
            "as_token": self.as_token,
            "hs_token": self.hs_token,
            "sender_localpart": self.sender_localpart,
            "rate_limited": False,
            "receive_ephemeral": True,
            "namespaces": {
                "users": [{"exclusive": True, "regex": f"@{prefix}.*:{server}"}],
                "aliases": [{"exclusive": True, "regex": f"#{prefix}.*:{server}"}],
                "rooms": [],
            },
        }

    def write(self, path: Path) -> Path:
        """Write the registration file (mode 0600: it holds both tokens)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(yaml.safe_dump(self.as_dict(), sort_keys=False), encoding="utf-8")
        return path


def file_change(registration: Registration, path: Path) -> str | None:
    """What writing the registration would change, for the plan (None: it is up to date)."""
    if not path.exists():
        return f"write the registration file {path} (new)"
    try:
        current = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        current = None
    if not isinstance(current, dict):
        return f"write the registration file {path} (it cannot be read now)"
    wanted = registration.as_dict()
    changed = sorted(k for k in wanted.keys() | current.keys() if current.get(k) != wanted.get(k))
    if not changed:
        return None
    return (
        f"update the registration file {path} ({', '.join(changed)} changed; "
        "restart Synapse afterwards)"
    )


def homeserver_yaml_lines(path: Path) -> str:
    """The lines an operator adds to homeserver.yaml so Synapse loads the registration."""
    return f"app_service_config_files:\n  - {path}\n"
