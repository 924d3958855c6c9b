"""A synthetic quarter: a few thousand made-up conversations and page views over several
municipalities, written to the stats tables, to try the report and to test it.

    python -m bots.stats.synthetic --seed 1 --db sqlite:///synthetic.db [--quarter 2025K3]

The same seed, config and quarter always give the same rows. It refuses to write into a
period that already has rows for those municipalities, unless told to `--replace` them:
it must never mix with, or delete, real statistics by accident.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.config.hours import COPENHAGEN
from bots.config.load import ConfigError, load_config
from bots.config.model import Config, Municipality
from bots.db.engine import ensure_schema, make_engine, make_sessionmaker
from bots.db.models import ConversationStats, PageView
from bots.logs import configure_logging
from bots.stats import synthetic_model as model
from bots.stats.period import Period, parse_quarter

NETWORK = Path(__file__).with_name("synthetic_network.yaml")


class AlreadyHasRows(RuntimeError):
    pass


def open_minutes(m: Municipality, day: dt.date, hour: int) -> int:
    """How many minutes of local `hour` on `day` the chat is open."""
    if m.opening_hours.always_open:
        return 60
    start = dt.datetime.combine(day, dt.time(hour), COPENHAGEN)
    end = start + dt.timedelta(hours=1)
    minutes = 0.0
    for interval in m.opening_hours.intervals_on(day):
        opens, closes = interval.on(day)
        overlap = (min(end, closes) - max(start, opens)).total_seconds() / 60
        minutes += max(0.0, overlap)
    return round(minutes)


def generate(
    config: Config, period: Period, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The stats rows and page-view rows of the quarter, as column dicts."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    views: list[dict[str, Any]] = []
    slugs = [m.slug for m in config.municipalities]
    weeks = period.weeks()
    for m in config.municipalities:
        profile = model.PROFILES.get(m.slug, model.DEFAULT_PROFILE)
        days = [period.start + dt.timedelta(days=i) for i in range(period.days())]
        slots = [(day, hour, open_minutes(m, day, hour)) for day in days for hour in range(24)]
        weight = {
            (day, hour): model.HOUR_WEIGHT[hour]
            * model.WEEKDAY_WEIGHT[day.weekday()]
            * model.season(day.isocalendar()[1])
            * minutes
            / 60
            for day, hour, minutes in slots
        }
        scale = profile.conversations / (sum(weight.values()) or 1)
        started: Counter[tuple[dt.date, str]] = Counter()
        others = [s for s in slugs if s != m.slug]
        for day, hour, _minutes in slots:
            n = model.poisson(rng, weight[(day, hour)] * scale)
            campaign = weeks.index(_week(day)) == profile.campaign_week
            boosted = campaign or day.weekday() in profile.boost_days
            kanals = model.channel_weights(m, profile, boosted)
            for _ in range(n):
                kanal = model.pick(rng, kanals)
                started[(day, kanal)] += 1
                rows.append(
                    {
                        "kommune": m.slug,
                        "date": day,
                        "hour": hour,
                        "weekday": day.weekday(),
                        "kanal": None if kanal == "ukendt" and rng.random() < 0.5 else kanal,
                        "answers": model.answers(rng, m, kanal),
                        "topics": [],
                        "wait_seconds": None,
                        "transferred_to": None,
                        "held": False,
                        **model.ended(rng, m, others, profile.wait_minutes, n),
                    }
                )
                rows[-1]["feedback"] = model.feedback(
                    rng, rows[-1]["outcome"] in ("answered", "transferred")
                )
        rows += _overflow(rng, config, m, profile, slots)
        views += _views(rng, m, profile, days, started)
    return rows, views


def _overflow(
    rng: random.Random,
    config: Config,
    m: Municipality,
    profile: model.Profile,
    slots: Sequence[tuple[dt.date, int, int]],
) -> list[dict[str, Any]]:
    """Young people who came by `m`'s link while its chat was closed and took an open
    partner's instead: counted for `m` (its channel gets the credit), answered by the
    partner (`transferred_to`), at an hour `m` was closed."""
    partners = [p for slug in m.partners if (p := config.municipality(slug)) is not None]
    weight: dict[tuple[dt.date, int], tuple[float, str]] = {}
    for day, hour, minutes in slots:
        open_partner = next((p for p in partners if open_minutes(p, day, hour) > 0), None)
        if minutes == 0 and open_partner is not None:
            w = model.HOUR_WEIGHT[hour] * model.WEEKDAY_WEIGHT[day.weekday()]
            weight[(day, hour)] = (w, open_partner.slug)
    scale = profile.overflow / (sum(w for w, _ in weight.values()) or 1)
    rows: list[dict[str, Any]] = []
    for (day, hour), (w, partner) in weight.items():
        for _ in range(model.poisson(rng, w * scale)):
            kanal = model.pick(rng, model.channel_weights(m, profile, boosted=False))
            ended = model.ended(rng, m, [partner], profile.wait_minutes, 1)
            if ended["outcome"] != "transferred":  # handed on by `!overfør`: a transfer
                ended["transferred_to"] = partner
            rows.append(
                {
                    "kommune": m.slug,
                    "date": day,
                    "hour": hour,
                    "weekday": day.weekday(),
                    "kanal": kanal,
                    "answers": model.answers(rng, m, kanal),
                    "topics": [],
                    "wait_seconds": None,
                    "held": False,
                    **ended,
                    "feedback": model.feedback(rng, ended["outcome"] == "answered"),
                }
            )
    return rows


def _week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _views(
    rng: random.Random,
    m: Municipality,
    profile: model.Profile,
    days: Sequence[dt.date],
    started: Counter[tuple[dt.date, str]],
) -> list[dict[str, Any]]:
    """Visits run every day (the ads do); at least one visit for each conversation."""
    out = []
    per_day = profile.conversations / len(days)
    shares = model.channel_weights(m, profile, boosted=False)
    total = sum(shares.values())
    for day in days:
        for kanal, share in shares.items():
            mean = per_day * share / total / model.conversion(kanal)
            mean *= model.WEEKDAY_WEIGHT[day.weekday()] * model.season(day.isocalendar()[1])
            count = max(model.poisson(rng, mean), started[(day, kanal)])
            if count:
                out.append({"kommune": m.slug, "kanal": kanal, "date": day, "count": count})
    return out


async def write(
    sessions: async_sessionmaker[AsyncSession],
    config: Config,
    period: Period,
    rows: list[dict[str, Any]],
    views: list[dict[str, Any]],
    *,
    replace: bool = False,
) -> None:
    slugs = [m.slug for m in config.municipalities]
    in_period = (ConversationStats.date >= period.start, ConversationStats.date <= period.end)
    views_in_period = (PageView.date >= period.start, PageView.date <= period.end)
    async with sessions.begin() as session:
        existing = await session.scalar(
            select(func.count())
            .select_from(ConversationStats)
            .where(*in_period, ConversationStats.kommune.in_(slugs))
        )
        existing_views = await session.scalar(
            select(func.count())
            .select_from(PageView)
            .where(*views_in_period, PageView.kommune.in_(slugs))
        )
        if (existing or existing_views) and not replace:
            raise AlreadyHasRows(
                f"the database already has {existing} conversations and {existing_views} "
                f"page-view counts for these municipalities in {period.title()}; nothing was "
                "written (use --replace to delete them and write the synthetic quarter)"
            )
        await session.execute(
            delete(ConversationStats).where(*in_period, ConversationStats.kommune.in_(slugs))
        )
        await session.execute(delete(PageView).where(*views_in_period, PageView.kommune.in_(slugs)))
        if rows:
            await session.execute(insert(ConversationStats), rows)
        if views:
            await session.execute(insert(PageView), views)


async def run(db_url: str, config: Config, period: Period, seed: int, replace: bool) -> int:
    rows, views = generate(config, period, seed)
    engine = make_engine(db_url)
    try:
        await ensure_schema(engine)
        await write(make_sessionmaker(engine), config, period, rows, views, replace=replace)
    finally:
        await engine.dispose()
    return len(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bots.stats.synthetic",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--db", required=True, help="database URL, e.g. sqlite:///synthetic.db")
    parser.add_argument(
        "-c",
        "--config",
        default=str(NETWORK),
        help="municipalities (default: the synthetic network)",
    )
    parser.add_argument(
        "--quarter", "--kvartal", help="e.g. 2025K3 (default: the last complete quarter)"
    )
    parser.add_argument("--replace", action="store_true", help="delete the period's rows first")
    args = parser.parse_args(argv)
    configure_logging("WARNING", False)
    try:
        config = load_config(Path(args.config))
        period = parse_quarter(args.quarter) if args.quarter else Period.last_complete_quarter()
        written = asyncio.run(run(args.db, config, period, args.seed, args.replace))
    except (ConfigError, ValueError, AlreadyHasRows) as exc:
        print(f"nothing written: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {written} synthetic conversations for {period.title()} to {args.db}")
    print(
        f"report: ungechat stats -c {args.config} --db {args.db} "
        f"--fra {period.start} --til {period.end}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
