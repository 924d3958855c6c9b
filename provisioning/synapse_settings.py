"""The Synapse settings every homeserver of the deployment needs, as a file to load after
homeserver.yaml: written by `provision apply` beside the registration file, as
`<registration>.homeserver-fragment.yaml` (`ungechat-registration.yaml` →
`ungechat-registration.homeserver-fragment.yaml`).

Synapse reads several config files and lets a later file's top-level keys replace an
earlier one's (`--config-path homeserver.yaml --config-path FRAGMENT`, on the main
process and on every worker), so the fragment can be loaded as it is, and each `apply`
rewrites it. It holds no secret: the registration's path, the federation allowlist and
the hardening the conversations rely on — each key with a comment saying why — and, as
comments, the two federation settings that belong to the host's network rather than to
the config (`ip_range_whitelist`, `federation_custom_ca_list`).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bots.config.model import Config
from deploy.federation import federation_config

SUFFIX = ".homeserver-fragment.yaml"
MODE = 0o644  # no secret in it; Synapse (another user) reads it

# Counsellors' logins: a municipality's counsellors may share one address (the town
# hall's), so a handful of logins per address pass; an account that keeps failing is
# slowed to about one try in five minutes. The bot is not affected: its registration
# says `rate_limited: false`, so Synapse exempts the bot and the youth accounts from
# the message, join, invite and room-creation limits.
RC_LOGIN = {
    "address": {"per_second": 0.05, "burst_count": 10},
    "account": {"per_second": 0.003, "burst_count": 5},
    "failed_attempts": {"per_second": 0.003, "burst_count": 3},
}
# Messages a room keeps by default, at the least: held conversations (!bevar) must
# outlive their hold, so the policy is the longest hold plus two days, never under this.
MIN_MESSAGE_LIFETIME = dt.timedelta(days=30)


@dataclass(frozen=True)
class Setting:
    key: str
    value: Any
    why: str


def fragment_path(registration_file: Path) -> Path:
    """Where the settings go: beside the registration, named after it."""
    return registration_file.with_name(registration_file.stem + SUFFIX)


def message_lifetime(config: Config, hs_id: str) -> dt.timedelta:
    """How long a room on this homeserver keeps a message: past the longest hold of the
    municipalities it hosts (a held conversation is read-only until its hold runs out)."""
    holds = [m.timeouts.max_hold for m in config.municipalities if m.homeserver == hs_id]
    return max([MIN_MESSAGE_LIFETIME, *(h + dt.timedelta(days=2) for h in holds)])


def settings(config: Config, hs_id: str) -> list[Setting]:
    """What homeserver `hs_id` of the config needs, key by key, with the reason."""
    hs = config.homeservers[hs_id]
    assert hs.registration_file is not None
    registration = Path(os.path.abspath(hs.registration_file))
    days = message_lifetime(config, hs_id).days
    out = [
        Setting(
            "app_service_config_files",
            [str(registration)],
            "The bot's registration. Copy it to this homeserver's host (it holds both "
            "tokens: mode 0640, readable by Synapse's group) and change the path here if "
            "it lies elsewhere there. Another appservice (a bridge) already listed in "
            "homeserver.yaml must be added to this list too: this key replaces that one.",
        ),
        Setting(
            "enable_registration",
            False,
            "Accounts come from the municipality and the bot only, never self-service.",
        ),
        Setting(
            "allow_guest_access",
            False,
            "Young people never get a Matrix account of their own: the intake acts for them.",
        ),
        Setting("enable_search", False, "Conversation text must never enter a search index."),
        Setting(
            "url_preview_enabled",
            False,
            "A link in a conversation must not make the homeserver fetch it.",
        ),
        Setting(
            "push",
            {"include_content": False},
            "Message text never goes to Apple's or Google's push services.",
        ),
        Setting("presence", {"enabled": False}, "Counsellors' online status is not shared."),
        Setting(
            "redaction_retention_period",
            "5m",
            "A redacted event's content is pruned after five minutes, not Synapse's seven "
            "days: the bot redacts a conversation's lobby entry (channel and answers) at its end.",
        ),
        Setting(
            "user_ips_max_age",
            "1d",
            "Counsellors' addresses and user agents (young people never reach the "
            "homeserver) are kept a day, not Synapse's 28.",
        ),
        Setting(
            "retention",
            {"enabled": True, "default_policy": {"max_lifetime": f"{days}d"}},
            "Messages in the lobby, staff and sparring rooms are deleted after "
            f"{days} days (conversations are deleted at their end; a held conversation "
            "outlives its longest hold). This applies to every room on the homeserver "
            "without a retention policy of its own: on a homeserver shared with other "
            "chat, say so to its users or leave this key out.",
        ),
        Setting(
            "rc_login",
            RC_LOGIN,
            "Counsellors' logins: a few per address, and an account that keeps failing "
            "slowed to about one try in five minutes. The bot is exempt from Synapse's "
            "rate limits (its registration says rate_limited: false). Behind a proxy, "
            "the listener needs x_forwarded: true for the address to be the counsellor's.",
        ),
    ]
    for key, value in federation_config(config.network_server_names()).items():
        why = FEDERATION_WHY.get(key, "")
        out.append(Setting(key, value, why))
    return out


# Federation settings that depend on the host's network, not on the ungechat config:
# the fragment names them, commented out, for homeserver.yaml. As keys of the fragment
# they would replace the operator's own (a later file's key wins) at every apply.
HOST_SETTINGS = """\
# Set in homeserver.yaml, not here, where the homeservers of the network need them (on
# every one of them): this file is rewritten by every apply, and a key here would
# replace the one there.
# - Synapse refuses to federate with private addresses (10/8, 172.16/12, 192.168/16,
#   …). Homeservers that reach each other over such addresses list those ranges (CIDR),
#   and nothing wider:
#     ip_range_whitelist: ["10.20.0.0/16"]
# - Homeservers whose certificates come from a private CA trust that CA for federation
#   (instead of the system's CAs):
#     federation_custom_ca_list: ["/etc/ssl/private-ca/ca.pem"]
"""


FEDERATION_WHY = {
    "federation_domain_whitelist": (
        "Federation with the network's homeservers (the config's homeservers and "
        "`network:`) and nobody else, both ways."
    ),
    "federation_verify_certificates": "Real certificate checks on every federation connection.",
    "trusted_key_servers": (
        "Members fetch each other's signing keys directly: no outside notary learns "
        "which servers talk to each other."
    ),
    "allow_public_rooms_over_federation": (
        "Nothing is published to, or profiled from, other servers beyond shared rooms."
    ),
}


def render(config: Config, hs_id: str) -> str:
    """The fragment's text: a header, then each key under the comment that says why."""
    hs = config.homeservers[hs_id]
    lines = [
        f"# Synapse settings for ungechat on {hs.server_name}, written by "
        "`ungechat provision apply`.",
        "# Don't edit: the next apply rewrites this file; change the ungechat config instead.",
        "# Load it after homeserver.yaml, on the main process and on every worker:",
        "#   --config-path homeserver.yaml --config-path THIS_FILE",
        "# (its top-level keys replace the same keys in homeserver.yaml), or copy its keys",
        "# into homeserver.yaml by hand. Restart Synapse when it changes.",
    ]
    for setting in settings(config, hs_id):
        lines.append("")
        lines += [f"# {line}" for line in _wrap(setting.why)]
        lines.append(yaml.safe_dump({setting.key: setting.value}, sort_keys=False).rstrip())
    return "\n".join(lines) + "\n\n" + HOST_SETTINGS


def _wrap(text: str, width: int = 86) -> Iterator[str]:
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            yield line
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        yield line


def as_dict(config: Config, hs_id: str) -> dict[str, Any]:
    """The keys and values, as Synapse reads them from the file."""
    return {s.key: s.value for s in settings(config, hs_id)}


def file_change(config: Config, hs_id: str) -> tuple[str, str] | None:
    """What writing the fragment would do, for the plan: (kind of step, text), None when
    it is up to date. The kinds are the registration's own (write_registration for a new
    file, update_registration for an existing one): the fragment is the registration's
    companion, and the step's target (the fragment's path) tells apply which to write."""
    hs = config.homeservers[hs_id]
    assert hs.registration_file is not None
    path = fragment_path(hs.registration_file)
    if not path.exists():
        return "write_registration", f"write the Synapse settings to merge {path} (new)"
    try:
        current = path.read_text(encoding="utf-8")
    except OSError:
        current = None
    if current == render(config, hs_id):
        return None
    try:
        old = yaml.safe_load(current) if current is not None else None
    except yaml.YAMLError:
        old = None
    wanted = as_dict(config, hs_id)
    if old == wanted:  # Synapse reads the same: no restart
        return "update_registration", f"rewrite the comments in {path}"
    if isinstance(old, dict):
        changed = sorted(k for k in wanted.keys() | old.keys() if old.get(k) != wanted.get(k))
        what = f"{', '.join(changed)} changed"
    else:
        what = "it cannot be read now"
    return (
        "update_registration",
        f"update the Synapse settings to merge {path} ({what}; restart Synapse afterwards)",
    )


def write(config: Config, hs_id: str) -> Path:
    """Write the fragment beside the registration; returns its path."""
    hs = config.homeservers[hs_id]
    assert hs.registration_file is not None
    path = fragment_path(hs.registration_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.truncate()
        f.write(render(config, hs_id))
    return path
