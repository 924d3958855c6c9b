"""The bot's namespaces on a homeserver: its own account, the ephemeral youth accounts
(`@_<id>_ung_…`) and the room aliases it owns (`#_<id>_c_…`, the spaces, lobbies and
sparring rooms), all under one exclusive prefix; and the application service
registration that claims them. Writing the registration file is provisioning's
(provisioning/registration.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


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

    def letterbox_alias_localpart(self, slug: str) -> str:
        """The municipality's "Brevkasse": one entry per letter, apart from the live queue."""
        return f"{self.prefix}letterbox_{slug}"

    def letter_alias_localpart(self, letter_id: str) -> str:
        return f"{self.prefix}l_{letter_id}"

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
