"""Reading a config file: YAML, checked against the schema and the rules a schema
cannot express (every mistake reported with its key path, and nothing starts on an
invalid file), then built into the model (bots/config/model.py). The file is only ever
read, never written back.
"""

from __future__ import annotations

import datetime as dt
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import yaml

from bots.config.checks import schema_problems
from bots.config.hours import WEEKDAYS, Interval, OpeningHours
from bots.config.model import (
    DANGER_QUESTION,
    DEFAULT_TOPICS,
    Config,
    DigestSchedule,
    Homeserver,
    Letters,
    LocalText,
    MetricsListener,
    Municipality,
    Option,
    Question,
    SparringRoom,
    Timeouts,
)
from bots.config.rules import rule_problems


class ConfigError(ValueError):
    """An invalid config; `problems` are 'key.path: reason' lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(f"  {p}" for p in problems))
        self.problems = problems


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
        wrong_codes_per_address_per_hour=(data.get("intake") or {}).get(
            "wrong_codes_per_address_per_hour", 20
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
        prepared_answers=_prepared_answers(data.get("prepared_answers")),
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
        )
        + ((DANGER_QUESTION,) if m.get("urgent_question") else ()),
        texts={key: LocalText.parse(value) for key, value in (m.get("texts") or {}).items()},
        topics=tuple(m.get("topics") or DEFAULT_TOPICS),
        partners=tuple(m.get("partners", [])),
        timeouts=_timeouts(m.get("timeouts") or {}),
        letters=_letters(m.get("letters") or {}),
        counsellor_language=m.get("counsellor_language", "da"),
        fictional=m.get("fictional", False),
        campaign={
            key: LocalText.parse(value)
            for key, value in (m.get("campaign") or {}).items()
            if key != "color"
        },
        campaign_color=(m.get("campaign") or {}).get("color"),
        embed_origins=tuple(m.get("embed_origins", [])),
        prepared_answers=_prepared_answers(m.get("prepared_answers")),
        heavy_topics=tuple(m.get("heavy_topics", [])),
        trainees=tuple(m.get("trainees", [])),
        supervisors=tuple(m.get("supervisors", [])),
    )


def _prepared_answers(answers: dict[str, Any] | None) -> dict[str, LocalText]:
    return {name: LocalText.parse(text) for name, text in (answers or {}).items()}


def _timeouts(t: dict[str, Any]) -> Timeouts:
    return Timeouts(
        idle=dt.timedelta(minutes=t.get("idle_minutes", 30)),
        remind_after=dt.timedelta(minutes=t.get("remind_after_minutes", 5)),
        hours_grace=dt.timedelta(minutes=t.get("hours_grace_minutes", 15)),
        max_hold=dt.timedelta(days=t.get("max_hold_days", 14)),
        max_duty=dt.timedelta(hours=t.get("max_duty_hours", 12)),
    )


def _letters(t: dict[str, Any]) -> Letters:
    return Letters(
        enabled=t.get("enabled", True),
        answer_within=dt.timedelta(days=t.get("answer_days", 3)),
        keep_after_read=dt.timedelta(days=t.get("keep_days_after_read", 7)),
        max_age=dt.timedelta(days=t.get("max_age_days", 30)),
    )
