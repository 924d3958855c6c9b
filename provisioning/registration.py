"""The application service registration file that a homeserver loads to let the bot in:
written with the right mode, checked for the plan, and what the operator is told.

What it claims (bots/config/namespaces.py): an exclusive namespace for the bot itself,
the ephemeral youth accounts and the room aliases; it is not rate limited, and it
receives typing and read receipts (`receive_ephemeral`).
"""

from __future__ import annotations

import grp
import os
import pwd
from pathlib import Path

import yaml

from bots.config.namespaces import Registration

# The file holds both tokens, and Synapse must read it. Synapse usually runs as a user of
# its own (Debian's `matrix-synapse`; uid/gid 991 in the matrixdotorg/synapse image),
# `apply` as the operator. So: owner read-write, group read, nobody else (0640); the
# operator gives the file to Synapse's group once (`chgrp`), and every later apply
# rewrites it in place, which keeps that owner and group. Not 0644: every local account
# could then act as the bot. Not owned by Synapse: the operator's apply could no longer
# update it, and Synapse needs no write access.
MODE = 0o640

# Synapse's group where it commonly runs, for the line the operator runs once.
SYNAPSE_GROUPS = (
    ("matrix-synapse", "Synapse from the Debian/Ubuntu package"),
    ("991", "Docker image matrixdotorg/synapse (gid 991 unless GID is set)"),
)


def write_registration(registration: Registration, path: Path) -> Path:
    """Write the registration file with mode 0640 (see MODE), in place, so an
    existing file keeps the owner and group the operator gave it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(registration.as_dict(), sort_keys=False)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        # The mode first, then the tokens: an existing file may have been readable by
        # everyone, and the umask may have taken the group's read from a new one.
        os.fchmod(f.fileno(), MODE)
        f.truncate()
        f.write(text)
    return path


def file_change(registration: Registration, path: Path) -> tuple[str, str] | None:
    """What writing the registration would do, for the plan: (kind of step, text), where
    the kind is write_registration for a new file and update_registration for an existing
    one (None: it is up to date)."""
    if not path.exists():
        return "write_registration", f"write the registration file {path} (new, mode 0640)"
    try:
        current = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        current = None
    if not isinstance(current, dict):
        return "update_registration", f"write the registration file {path} (it cannot be read now)"
    wanted = registration.as_dict()
    changed = sorted(k for k in wanted.keys() | current.keys() if current.get(k) != wanted.get(k))
    parts = [f"{', '.join(changed)} changed"] if changed else []
    mode = path.stat().st_mode & 0o777
    if mode != MODE:
        parts.append(f"mode {mode:04o} → {MODE:04o}: {_mode_problem(mode)}")
    if not parts:
        return None
    if not changed:  # Synapse need not restart for a mode
        return "update_registration", f"set the registration file {path} to {parts[0]}"
    return (
        "update_registration",
        f"update the registration file {path} ({'; '.join(parts)}; restart Synapse afterwards)",
    )


def _mode_problem(mode: int) -> str:
    if mode & 0o004:
        return "readable by every local account"
    if mode & 0o007:
        return "open to every local account"
    if not mode & 0o040:
        return "Synapse's group cannot read it"
    if mode & 0o030:
        return "its group may change it"
    return "only reading and writing are needed"


def access_notes(path: Path) -> list[str]:
    """Who may read the written file, and the line that lets Synapse read it when it runs
    as another user. Once its group is not the writer's own, the operator has chosen it."""
    info = path.stat()
    owner, group = _user_name(info.st_uid), _group_name(info.st_gid)
    lines = [f"It is {owner}:{group}, mode {info.st_mode & 0o777:04o} (it holds both tokens)."]
    if info.st_gid != os.getegid():
        lines.append(f"Synapse can read it when it runs in the group {group}.")
        return lines
    lines.append(
        "If Synapse runs as another user, give the file to Synapse's group, once "
        "(later applies keep owner, group and mode):"
    )
    lines += [f"  sudo chgrp {gid} {path}    # {where}" for gid, where in SYNAPSE_GROUPS]
    lines.append("Synapse also needs to enter the folders above it (x permission).")
    return lines


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def homeserver_yaml_lines(path: Path) -> str:
    """The lines an operator adds to homeserver.yaml so Synapse loads the registration."""
    return f"app_service_config_files:\n  - {path}\n"
