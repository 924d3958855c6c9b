"""`ungechat stats`: the report and its data files for a period (the last complete
quarter by default), written to a folder:

    rapport.html     for coordinators and politicians, one self-contained file
    statistik.json   the same figures as data (schemas/stats-export.schema.json)
    statistik.csv    the same, for a spreadsheet (semicolons, UTF-8)

It only reads the database (readonly.py): it never migrates it or creates a table.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import shlex
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from bots.config.model import Config
from bots.db.engine import make_sessionmaker
from bots.stats.period import Period, choose_period
from bots.stats.query import load_period
from bots.stats.readonly import NotAtSchema, check_schema, read_only_engine
from schemas import SCHEMA_DIR

if TYPE_CHECKING:  # figures need scipy, the report matplotlib: imported when a report is made
    from bots.stats.figures import Publication


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Write the report (rapport.html) and its figures (statistik.csv, statistik.json) "
        "for a period: the last complete quarter unless --kvartal or --fra/--til says "
        "otherwise. The database is only read; it must be at this version's schema "
        "(ungechat db upgrade)."
    )
    p.add_argument("-c", "--config", required=True, help="config file (YAML)")
    p.add_argument("--kommune", metavar="SLUG", help="only this municipality")
    p.add_argument("--fra", "--from", dest="start", metavar="DATO", help="first day, 2025-07-01")
    p.add_argument("--til", "--to", dest="end", metavar="DATO", help="last day, 2025-09-30")
    p.add_argument(
        "--kvartal",
        "--quarter",
        dest="quarter",
        help="a quarter, e.g. 2025K3 (default: the last complete quarter)",
    )
    p.add_argument("-o", "--out", metavar="MAPPE", help="folder for the files")
    p.add_argument("--db", help="read this database instead of the config's")


@cache
def export_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        (SCHEMA_DIR / "stats-export.schema.json").read_text(encoding="utf-8")
    )
    return schema


def run_stats(config: Config, args: argparse.Namespace) -> int:
    try:
        period = choose_period(args.start, args.end, args.quarter)
    except ValueError as exc:
        print(f"no report made: {exc}", file=sys.stderr)
        return 2
    slugs = [m.slug for m in config.municipalities]
    if args.kommune is not None and args.kommune not in slugs:
        print(
            f"no report made: --kommune {args.kommune!r} is not in the config "
            f"(it has {', '.join(slugs)})",
            file=sys.stderr,
        )
        return 2
    url = args.db or config.database
    if make_url(url).get_backend_name() == "sqlite" and not _sqlite_exists(url):
        print(f"no report made: there is no database at {url}", file=sys.stderr)
        return 2
    where = (
        f"--url {shlex.quote(make_url(args.db).render_as_string(hide_password=True))}"
        if args.db
        else f"-c {shlex.quote(args.config)}"
    )
    try:
        pub = asyncio.run(publication(config, url, period, f"ungechat db upgrade {where}"))
    except NotAtSchema as exc:
        print(f"no report made: {exc}", file=sys.stderr)
        return 2
    kommuner = [args.kommune] if args.kommune else slugs
    suffix = f"-{args.kommune}" if args.kommune else ""
    out = Path(args.out or f"ungechat-statistik-{period.label()}{suffix}")
    for path in write_files(pub, kommuner, out, dt.datetime.now(dt.UTC)):
        print(path)
    return 0


def _sqlite_exists(url: str) -> bool:
    database = make_url(url).database
    return bool(database) and database != ":memory:" and Path(str(database)).is_file()


async def publication(
    config: Config, url: str, period: Period, upgrade_command: str = "ungechat db upgrade"
) -> Publication:
    """The period's figures, read from the database at `url` without changing it."""
    from bots.stats import figures

    engine = read_only_engine(url)
    try:
        await check_schema(engine, upgrade_command)
        rows, views = await load_period(
            make_sessionmaker(engine), period, [m.slug for m in config.municipalities]
        )
    finally:
        await engine.dispose()
    return figures.build(config, period, rows, views)


def write_files(
    pub: Publication, kommuner: list[str], out: Path, generated: dt.datetime
) -> list[Path]:
    import jsonschema

    from bots.stats import export, report

    data = export.to_json(pub, kommuner, generated)
    jsonschema.validate(data, export_schema())  # a bug here must not reach a reader
    out.mkdir(parents=True, exist_ok=True)
    files = {
        out / "rapport.html": report.render(pub, kommuner, generated),
        out / "statistik.json": json.dumps(data, ensure_ascii=False, indent=1) + "\n",
        out / "statistik.csv": export.to_csv(pub, kommuner),
    }
    for path, text in files.items():
        path.write_text(text, encoding="utf-8", newline="")
    return list(files)
