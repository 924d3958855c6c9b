"""`ungechat init --kommune SLUG`: a starting config for one municipality.

Danish texts, evening hours, the standard channel list and the standard questions, with
real random tokens for the appservice (so nothing secret is shared between
municipalities by copying an example). Only the Synapse admin token cannot be made
here: it is taken from --admin-token, or left as a placeholder that validation refuses
until it is filled in. The file is written with mode 0600 and never overwritten.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from bots.config.kommuner import Kommune, by_slug, suggest
from bots.texts import PAGE

ADMIN_PLACEHOLDER = "CHANGE_ME_synapse_admin_access_token"
STANDARD_CHANNELS = (
    "facebook",
    "instagram",
    "plakat",
    "kort",
    "skole-intra",
    "hjemmeside",
    "ungdomsskole",
    "klub",
    "medarbejder",
)


@dataclass(frozen=True)
class Site:
    """Where the municipality runs things; guessed from the slug unless given."""

    server_name: str
    homeserver_url: str
    public_url: str

    @classmethod
    def guess(cls, kommune: Kommune) -> Site:
        domain = f"{kommune.slug}.dk"
        return cls(domain, f"https://matrix.{domain}", f"https://chat.{domain}")


def _q(text: str) -> str:
    """A YAML string (JSON's double-quoted strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def starting_config(kommune: Kommune, site: Site, admin_token: str | None) -> str:
    hs = kommune.slug[:32]
    short = kommune.name
    texts = "\n".join(
        f"      {key}: {_q(PAGE[key]['da'].replace('{kommune}', short))}"
        for key in ("intro", "promise", "help_now")
    )
    return f"""\
# ungechat config for {kommune.official_name} (kommunekode {kommune.code}), made by
# `ungechat init`. Check it with `ungechat check-config FILE`; the schema with every key
# is schemas/config.schema.yaml. Then `ungechat provision plan -c FILE` shows what it
# would create on the homeserver, and `ungechat provision apply -c FILE` does it.

# Where the bot keeps conversations in flight and anonymous counts.
# PostgreSQL in production: postgresql://ungechat@db.internal/ungechat
database: sqlite:///ungechat.db

listen:
  host: 127.0.0.1
  port: 8080

# The address young people open, behind your reverse proxy (which must not forward
# their IP addresses). Check it: it is guessed from the municipality's name.
public_url: {site.public_url}

homeservers:
  {hs}:
    server_name: {site.server_name}
    url: {site.homeserver_url}
    # An access token of a Synapse admin account (used only to delete ended
    # conversations and erase the young person's temporary account).
    admin_token: {admin_token or ADMIN_PLACEHOLDER}
    appservice:
      id: ungechat
      url: http://127.0.0.1:8080
      # Random, made for this file only. Keep the file private (it is mode 0600).
      as_token: {secrets.token_urlsafe(32)}
      hs_token: {secrets.token_urlsafe(32)}
      sender_localpart: ungechat
      registration_file: ungechat-registration.yaml

municipalities:
  - slug: {kommune.slug}
    name: {_q(kommune.official_name)}
    service_name: {_q("Ungechat " + short)}
    homeserver: {hs}
    # Danish time. Closed on public holidays; add dates under exceptions, e.g.
    #   exceptions: {{2026-12-24: []}}
    opening_hours:
      weekly:
        monday: ["18:00-21:00"]
        tuesday: ["18:00-21:00"]
        wednesday: ["18:00-21:00"]
        thursday: ["18:00-21:00"]
      public_holidays: closed
    # The counsellors' Matrix ids, e.g. "@anna:{site.server_name}". Provisioning invites
    # them, and removes whoever is taken off the list.
    counsellors: []
    # Every link, poster and card carries one of these (?kanal=...), so you can see which
    # of them brings young people to the chat. `ungechat links` makes them all.
    channels: [{", ".join(STANDARD_CHANNELS)}]
    questions:
      - id: heard_from
        text: {{da: "Hvor har du hørt om chatten?", en: "Where did you hear about the chat?"}}
        options:
          - {{id: facebook, da: "Facebook eller Instagram", en: "Facebook or Instagram"}}
          - {{id: plakat, da: "En plakat eller et kort", en: "A poster or a card"}}
          - {{id: skole, da: "Skolen eller elevintra", en: "School or the school intranet"}}
          - {{id: ungdomsskole, da: "Ungdomsskolen eller klubben", en: "The youth school or club"}}
          - {{id: voksen, da: "En voksen fortalte mig om den", en: "An adult told me about it"}}
          - {{id: ven, da: "En ven", en: "A friend"}}
          - {{id: andet, da: "Et andet sted", en: "Somewhere else"}}
      - id: age
        text: {{da: "Hvor gammel er du?", en: "How old are you?"}}
        options:
          - {{id: "13-15", da: "13–15 år", en: "13–15"}}
          - {{id: "16-18", da: "16–18 år", en: "16–18"}}
          - {{id: "19-21", da: "19–21 år", en: "19–21"}}
          - {{id: "22-24", da: "22–24 år", en: "22–24"}}
    # What the youth page says, in your own words (English is optional).
    texts:
{texts}
    # Posters and cards (`ungechat links`): your own words, and your colour.
    campaign:
      headline: "Noget, der fylder?"
      call_to_action: "Scan koden og skriv anonymt med en ungerådgiver"
      color: "#2f5d50"
"""


def write_starting_config(path: Path, kommune: Kommune, site: Site, admin: str | None) -> None:
    """Write it, refusing to replace an existing file (raises FileExistsError)."""
    text = starting_config(kommune, site, admin)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def init(
    slug: str,
    output: Path,
    *,
    admin_token: str | None = None,
    server_name: str | None = None,
    homeserver_url: str | None = None,
    public_url: str | None = None,
) -> int:
    """`ungechat init`: 0 when written, 2 for an unknown municipality or an existing file."""
    kommune = by_slug(slug)
    if kommune is None:
        guess = suggest(slug)
        hint = f" Did you mean {guess.slug!r} ({guess.official_name})?" if guess else ""
        print(f"{slug!r} is not one of the 98 Danish municipalities.{hint}", file=sys.stderr)
        return 2
    guessed = Site.guess(kommune)
    site = Site(
        server_name or guessed.server_name,
        (homeserver_url or guessed.homeserver_url).rstrip("/"),
        (public_url or guessed.public_url).rstrip("/"),
    )
    try:
        write_starting_config(output, kommune, site, admin_token)
    except FileExistsError:
        print(
            f"{output} exists already; nothing was written (choose another with -o).",
            file=sys.stderr,
        )
        return 2
    print(f"Wrote {output} for {kommune.official_name}. Next:")
    if admin_token is None:
        print("  - put a Synapse admin access token in admin_token")
    print("  - check server_name, url and public_url (they are guessed from the name),")
    print("    and add the counsellors' Matrix ids")
    print(f"  - ungechat check-config {output}")
    print(f"  - ungechat provision plan -c {output}, then apply")
    print(f"  - ungechat links -c {output} for links, QR codes, posters and cards")
    return 0
