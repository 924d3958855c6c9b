"""What a config file describes, as typed, frozen objects: the homeservers the bot
works on, the municipalities with their hours, counsellors, channels, questions, texts
and timeouts, the sparring rooms, the network. Read and checked by bots/config/load.py;
`schemas/config.schema.yaml` is the source of truth for what a file may say.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

from bots.config.hours import OpeningHours
from bots.config.namespaces import Registration
from bots.texts import PAGE

IPNetwork = IPv4Network | IPv6Network
# Where a visit or conversation counts when it came by no configured channel.
UNKNOWN_CHANNEL = "ukendt"


@dataclass(frozen=True)
class LocalText:
    da: str
    en: str | None = None

    def get(self, lang: str) -> str:
        return (self.en if lang == "en" else None) or self.da

    @classmethod
    def parse(cls, value: str | Mapping[str, str]) -> LocalText:
        if isinstance(value, str):
            return cls(value)
        return cls(value["da"], value.get("en"))


# Topics a counsellor may tag with, unless the municipality lists its own.
DEFAULT_TOPICS = (
    "angst",
    "ensomhed",
    "familie",
    "kæreste",
    "krop",
    "misbrug",
    "mobning",
    "seksualitet",
    "selvskade",
    "skole",
    "sorg",
    "trivsel",
    "venner",
    "vold",
    "andet",
)


@dataclass(frozen=True)
class Timeouts:
    idle: dt.timedelta = dt.timedelta(minutes=30)
    remind_after: dt.timedelta = dt.timedelta(minutes=5)
    hours_grace: dt.timedelta = dt.timedelta(minutes=15)
    max_hold: dt.timedelta = dt.timedelta(days=14)
    max_duty: dt.timedelta = dt.timedelta(hours=12)


@dataclass(frozen=True)
class Letters:
    """The letterbox (docs/letterbox.md): the promised answer time, and when a letter is
    deleted: days after it was last opened with an answer, or its age, whichever first."""

    enabled: bool = True
    answer_within: dt.timedelta = dt.timedelta(days=3)
    keep_after_read: dt.timedelta = dt.timedelta(days=7)
    max_age: dt.timedelta = dt.timedelta(days=30)


@dataclass(frozen=True)
class Option:
    id: str
    label: LocalText


@dataclass(frozen=True)
class Question:
    id: str
    text: LocalText
    options: tuple[Option, ...]


# The optional question a municipality turns on (`urgent_question: true`), asked last;
# "ja" makes the conversation urgent (bots/conversation/urgency.py).
DANGER_QUESTION = Question(
    id="fare",
    text=LocalText("Er du i fare lige nu?", "Are you in danger right now?"),
    options=(Option("ja", LocalText("Ja", "Yes")), Option("nej", LocalText("Nej", "No"))),
)
DANGER_ANSWER = "ja"


@dataclass(frozen=True)
class Municipality:
    slug: str
    name: str
    service_name: str
    homeserver: str
    opening_hours: OpeningHours
    counsellors: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    questions: tuple[Question, ...] = ()
    texts: Mapping[str, LocalText] = field(default_factory=dict)
    topics: tuple[str, ...] = DEFAULT_TOPICS
    partners: tuple[str, ...] = ()
    timeouts: Timeouts = Timeouts()
    letters: Letters = Letters()
    counsellor_language: str = "da"
    fictional: bool = False  # a made-up municipality, not checked against the official list
    campaign: Mapping[str, LocalText] = field(default_factory=dict)  # words on print material
    campaign_color: str | None = None
    # The municipality's own sites that may frame the youth page (origins, lowercase).
    embed_origins: tuple[str, ...] = ()
    # Training under supervision: a supervisor may read a trainee's conversation, only read.
    trainees: tuple[str, ...] = ()
    supervisors: tuple[str, ...] = ()
    # Topics after which a counsellor is looked after (bots/counsellors/care.py).
    heavy_topics: tuple[str, ...] = ()
    # `!svar NAME`: texts a counsellor sends as their own message (over the network's).
    prepared_answers: Mapping[str, LocalText] = field(default_factory=dict)

    def youth_texts(self) -> dict[str, LocalText]:
        """The page's texts: the municipality's own words over the defaults."""
        merged = {**{key: LocalText.parse(text) for key, text in PAGE.items()}, **self.texts}
        short = self.name.removesuffix(" Kommune")
        return {
            key: LocalText(text.da.replace("{kommune}", short), _fill(text.en, short))
            for key, text in merged.items()
        }

    def supervisors_of(self, counsellor: str | None) -> tuple[str, ...]:
        """Who may read `counsellor`'s conversations, read-only: the supervisors, when
        `counsellor` is a trainee."""
        return self.supervisors if counsellor in self.trainees else ()

    def counted_channel(self, kanal: str | None) -> str:
        """The channel a visit or conversation is counted under: one of the configured
        channels by name, any other tag (or none) as UNKNOWN_CHANNEL, since a free-form
        tag could single a person out (a link made for one young person)."""
        return kanal if kanal is not None and kanal in self.channels else UNKNOWN_CHANNEL

    def youth_url(self, public_url: str) -> str:
        return f"{public_url.rstrip('/')}/k/{self.slug}"


def _fill(text: str | None, short: str) -> str | None:
    return text.replace("{kommune}", short) if text is not None else None


@dataclass(frozen=True)
class Homeserver:
    id: str
    server_name: str
    url: str
    admin_token: str
    appservice_id: str
    as_token: str
    hs_token: str
    sender_localpart: str
    appservice_url: str
    registration_file: Path | None = None

    def registration(self) -> Registration:
        return Registration(
            id=self.appservice_id,
            url=self.appservice_url,
            as_token=self.as_token,
            hs_token=self.hs_token,
            sender_localpart=self.sender_localpart,
            server_name=self.server_name,
        )


@dataclass(frozen=True)
class SparringRoom:
    """A room where counsellors across municipalities spar (members resolved from config)."""

    id: str
    name: str
    topic: str | None
    homeserver: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class DigestSchedule:
    room: str  # a sparring room's id
    every: str  # week | month | quarter


@dataclass(frozen=True)
class MetricsListener:
    """Where Prometheus scrapes the metrics: never the address young people use."""

    host: str = "127.0.0.1"
    port: int = 9102


@dataclass(frozen=True)
class Config:
    database: str
    listen_host: str
    listen_port: int
    public_url: str
    homeservers: Mapping[str, Homeserver]
    municipalities: tuple[Municipality, ...]
    starts_per_address_per_hour: int = 20
    wrong_codes_per_address_per_hour: int = 20
    # The intake's own reverse proxies (see bots/intake/ratelimit.py).
    trusted_proxies: tuple[IPNetwork, ...] = ()
    sparring_rooms: tuple[SparringRoom, ...] = ()
    # Server names of the network's other homeservers (see `network_server_names`).
    network: tuple[str, ...] = ()
    digest: DigestSchedule | None = None
    metrics: MetricsListener | None = None
    # The network's shared prepared answers (`!svar NAME`).
    prepared_answers: Mapping[str, LocalText] = field(default_factory=dict)

    def answers_for(self, m: Municipality) -> dict[str, LocalText]:
        """The prepared answers `m`'s counsellors may send: the network's, with the
        municipality's own of the same name in their place, by name."""
        return dict(sorted({**self.prepared_answers, **m.prepared_answers}.items()))

    def municipality(self, slug: str) -> Municipality | None:
        return next((m for m in self.municipalities if m.slug == slug), None)

    def require_municipality(self, slug: str) -> Municipality:
        """The municipality; LookupError if it is not in the config (any more: a
        conversation may outlive its municipality's removal)."""
        m = self.municipality(slug)
        if m is None:
            raise LookupError(f"municipality {slug!r} is not in the config any more")
        return m

    def is_counsellor(self, user_id: str) -> bool:
        """Listed as a counsellor (of any municipality: after a transfer, counsellors of
        both may be in the room). Anyone else is never announced to the youth and never
        obeyed."""
        return any(user_id in m.counsellors for m in self.municipalities)

    def network_server_names(self) -> list[str]:
        """Every homeserver the network federates with: ours and the others named."""
        ours = [hs.server_name for hs in self.homeservers.values()]
        return list(dict.fromkeys([*ours, *self.network]))
