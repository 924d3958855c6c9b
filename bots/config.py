"""The config file: one YAML file describing homeservers and municipalities.

`schemas/config.schema.yaml` is the source of truth. A file is validated against it, and
then against the rules a schema cannot express (references between keys, time ranges);
every mistake is reported with its key path, and nothing starts on an invalid file.
The file is only ever read, never written back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any

import yaml

from bots.config_checks import rule_problems, schema_problems
from bots.hours import WEEKDAYS, Interval, OpeningHours
from provisioning.registration import Registration

IPNetwork = IPv4Network | IPv6Network


class ConfigError(ValueError):
    """An invalid config; `problems` are 'key.path: reason' lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(f"  {p}" for p in problems))
        self.problems = problems


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


# What the youth page says unless a municipality has its own words (`texts:` in config).
DEFAULT_YOUTH_TEXTS: dict[str, LocalText] = {
    "intro": LocalText(
        "Her kan du skrive med en ungerådgiver fra {kommune} om det, der fylder – stort "
        "eller småt.",
        "Here you can write with a youth counsellor from {kommune} about whatever is on "
        "your mind – big or small.",
    ),
    "promise": LocalText(
        "Du er helt anonym. Du skal ikke oprette en profil, og vi kan ikke se, hvem du er. "
        "Når samtalen slutter, bliver den slettet. Vi gemmer kun en optælling uden noget, "
        "der kan føre tilbage til dig.",
        "You are completely anonymous. You don't need an account, and we can't see who you "
        "are. When the conversation ends, it is deleted. We only keep a count with nothing "
        "that can lead back to you.",
    ),
    "help_now": LocalText(
        "Er du i fare lige nu, så ring 112. Du kan altid ringe til BørneTelefonen på "
        "116 111, og tænker du på at tage dit liv, kan du ringe til Livslinien på 70 201 201.",
        "If you are in danger right now, call 112. You can always call BørneTelefonen on "
        "116 111, and if you are thinking about taking your own life, you can call "
        "Livslinien on 70 201 201.",
    ),
    "closed": LocalText(
        "Chatten er lukket lige nu.",
        "The chat is closed right now.",
    ),
}


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
class Option:
    id: str
    label: LocalText


@dataclass(frozen=True)
class Question:
    id: str
    text: LocalText
    options: tuple[Option, ...]


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
    counsellor_language: str = "da"
    fictional: bool = False  # a made-up municipality, not checked against the official list
    campaign: Mapping[str, LocalText] = field(default_factory=dict)  # words on print material
    campaign_color: str | None = None
    # The municipality's own sites that may frame the youth page (origins, lowercase).
    embed_origins: tuple[str, ...] = ()

    def youth_texts(self) -> dict[str, LocalText]:
        """The page's texts: the municipality's own words over the defaults."""
        merged = {**DEFAULT_YOUTH_TEXTS, **self.texts}
        short = self.name.removesuffix(" Kommune")
        return {
            key: LocalText(text.da.replace("{kommune}", short), _fill(text.en, short))
            for key, text in merged.items()
        }

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
    # The intake's own reverse proxies (see bots/intake/ratelimit.py).
    trusted_proxies: tuple[IPNetwork, ...] = ()
    sparring_rooms: tuple[SparringRoom, ...] = ()
    # Server names of the network's other homeservers (see `network_server_names`).
    network: tuple[str, ...] = ()
    digest: DigestSchedule | None = None
    metrics: MetricsListener | None = None

    def municipality(self, slug: str) -> Municipality | None:
        return next((m for m in self.municipalities if m.slug == slug), None)

    def network_server_names(self) -> list[str]:
        """Every homeserver the network federates with: ours and the others named."""
        ours = [hs.server_name for hs in self.homeservers.values()]
        return list(dict.fromkeys([*ours, *self.network]))


# -- loading and validating -------------------------------------------------------------


def load_config(path: Path) -> Config:
    """Read, validate and parse a config file; raises ConfigError naming each mistake."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"cannot read the file: {exc.strerror}"]) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError([f"{where}not valid YAML ({getattr(exc, 'problem', exc)})"]) from exc
    return parse_config(data, path.parent)


def parse_config(data: Any, base_dir: Path) -> Config:
    """Validate already-loaded YAML data; relative paths are taken from `base_dir`."""
    data = _stringify_dates(data)
    problems = schema_problems(data)
    if not problems:
        problems = list(rule_problems(data))
    if problems:
        raise ConfigError(problems)
    return _build(data, base_dir)


def _stringify_dates(value: Any) -> Any:
    """YAML reads 2026-12-24 as a date; the schema and the rules expect 'YYYY-MM-DD'."""
    if isinstance(value, dict):
        return {_stringify_dates(k): _stringify_dates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify_dates(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _build(data: dict[str, Any], base_dir: Path) -> Config:
    listen = data.get("listen") or {}
    database = data.get("database") or "sqlite:///ungechat.db"
    return Config(
        database=_database_url(database, base_dir),
        listen_host=listen.get("host", "127.0.0.1"),
        listen_port=listen.get("port", 8080),
        public_url=data["public_url"].rstrip("/"),
        homeservers={
            hs_id: _homeserver(hs_id, hs, base_dir) for hs_id, hs in data["homeservers"].items()
        },
        municipalities=tuple(_municipality(m) for m in data["municipalities"]),
        starts_per_address_per_hour=(data.get("intake") or {}).get(
            "starts_per_address_per_hour", 20
        ),
        trusted_proxies=tuple(
            ip_network(p, strict=False)
            for p in (data.get("intake") or {}).get("trusted_proxies", [])
        ),
        sparring_rooms=tuple(_sparring_room(r, data) for r in data.get("sparring_rooms", [])),
        network=tuple(data.get("network", [])),
        digest=(
            DigestSchedule(data["digest"]["room"], data["digest"].get("every", "month"))
            if "digest" in data
            else None
        ),
        metrics=MetricsListener(**data["metrics"]) if "metrics" in data else None,
    )


def _sparring_room(room: dict[str, Any], data: dict[str, Any]) -> SparringRoom:
    chosen = room.get("municipalities", [])
    members = [
        user
        for m in data["municipalities"]
        if chosen == "all" or m["slug"] in chosen
        for user in m.get("counsellors", [])
    ]
    return SparringRoom(
        id=room["id"],
        name=room["name"],
        topic=room.get("topic"),
        homeserver=room["homeserver"],
        members=tuple(dict.fromkeys([*members, *room.get("counsellors", [])])),
    )


def _database_url(url: str, base_dir: Path) -> str:
    """Use the async drivers, and resolve a relative SQLite path against the config file.

    As in SQLAlchemy, sqlite:///name.db is relative and sqlite:////abs/name.db absolute.
    """
    scheme, rest = url.split("://", 1)
    if scheme.startswith("sqlite"):
        path = Path(rest.removeprefix("/"))
        if not path.is_absolute():
            path = (base_dir / path).resolve()
        return f"sqlite+aiosqlite:///{path}"
    return f"postgresql+asyncpg://{rest}"


def _homeserver(hs_id: str, hs: dict[str, Any], base_dir: Path) -> Homeserver:
    appservice = hs["appservice"]
    registration_file = appservice.get("registration_file")
    return Homeserver(
        id=hs_id,
        server_name=hs["server_name"],
        url=hs["url"].rstrip("/"),
        admin_token=hs["admin_token"],
        appservice_id=appservice.get("id", "ungechat"),
        as_token=appservice["as_token"],
        hs_token=appservice["hs_token"],
        sender_localpart=appservice.get("sender_localpart", "ungechat"),
        appservice_url=appservice["url"].rstrip("/"),
        registration_file=(base_dir / registration_file) if registration_file else None,
    )


def _opening_hours(hours: dict[str, Any]) -> OpeningHours:
    if hours.get("always_open"):
        return OpeningHours(always_open=True)
    weekly = hours.get("weekly") or {}
    return OpeningHours(
        weekly=tuple(tuple(map(Interval.parse, weekly.get(day, []))) for day in WEEKDAYS),
        exceptions={
            dt.date.fromisoformat(day): tuple(map(Interval.parse, ranges))
            for day, ranges in (hours.get("exceptions") or {}).items()
        },
        closed_on_public_holidays=hours.get("public_holidays", "closed") == "closed",
    )


def _municipality(m: dict[str, Any]) -> Municipality:
    return Municipality(
        slug=m["slug"],
        name=m["name"],
        service_name=m.get("service_name") or f"Ungechat {m['name'].removesuffix(' Kommune')}",
        homeserver=m["homeserver"],
        opening_hours=_opening_hours(m["opening_hours"]),
        counsellors=tuple(m.get("counsellors", [])),
        channels=tuple(m.get("channels", [])),
        questions=tuple(
            Question(
                id=q["id"],
                text=LocalText.parse(q["text"]),
                options=tuple(
                    Option(o["id"], LocalText(o["da"], o.get("en"))) for o in q["options"]
                ),
            )
            for q in m.get("questions", [])
        ),
        texts={key: LocalText.parse(value) for key, value in (m.get("texts") or {}).items()},
        topics=tuple(m.get("topics") or DEFAULT_TOPICS),
        partners=tuple(m.get("partners", [])),
        timeouts=_timeouts(m.get("timeouts") or {}),
        counsellor_language=m.get("counsellor_language", "da"),
        fictional=m.get("fictional", False),
        campaign={
            key: LocalText.parse(value)
            for key, value in (m.get("campaign") or {}).items()
            if key != "color"
        },
        campaign_color=(m.get("campaign") or {}).get("color"),
        embed_origins=tuple(m.get("embed_origins", [])),
    )


def _timeouts(t: dict[str, Any]) -> Timeouts:
    return Timeouts(
        idle=dt.timedelta(minutes=t.get("idle_minutes", 30)),
        remind_after=dt.timedelta(minutes=t.get("remind_after_minutes", 5)),
        hours_grace=dt.timedelta(minutes=t.get("hours_grace_minutes", 15)),
        max_hold=dt.timedelta(days=t.get("max_hold_days", 14)),
        max_duty=dt.timedelta(hours=t.get("max_duty_hours", 12)),
    )
