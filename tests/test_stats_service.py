"""The running service as operations meets it: the youth page's visit is counted through
the real intake API, and Prometheus reads conversations waiting and active, waits and
intake latency on the metrics listener — which the youth's address does not serve; and
the service does not load the report's plotting library.

No homeserver is needed for these routes; the database is real (SQLite and PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import uuid
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from bots.config.load import parse_config
from bots.conversation.states import State
from bots.db.engine import make_engine, make_sessionmaker
from bots.db.models import Conversation, ConversationStats, PageView
from bots.metrics import METRICS
from bots.service import running
from tests.offline_config import offline_config_data


def config_for(db_url: str) -> dict:
    return offline_config_data(database=db_url, metrics={"host": "127.0.0.1", "port": 0})


def samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def conversation(state: State, waiting_for: dt.timedelta) -> Conversation:
    now = dt.datetime.now(dt.UTC)
    return Conversation(
        id=uuid.uuid4().hex,
        kommune="testby",
        homeserver="hs",
        state=state.value,
        waiting_since=now - waiting_for,
        last_activity_at=now,
    )


async def test_visits_are_counted_and_metrics_are_served_apart(db_url: str) -> None:
    config = parse_config(config_for(db_url), Path("/tmp"))
    async with running(config, "127.0.0.1", 0) as (app, port), aiohttp.ClientSession() as http:
        intake = f"http://127.0.0.1:{port}"
        metrics_url = f"http://127.0.0.1:{app[METRICS].port}/metrics"
        for query in ("kanal=plakat&view=1", "kanal=plakat", "kanal=hemmelig&view=1"):
            # As the page itself asks: only its own requests are counted as views.
            async with http.get(
                f"{intake}/api/v1/kommuner/testby?lang=da&{query}",
                headers={"Sec-Fetch-Site": "same-origin"},
            ) as r:
                assert r.status == 200
        async with http.get(f"{intake}/metrics") as r:
            assert r.status == 404  # never on the address young people use

        engine = make_engine(db_url)
        sessions = make_sessionmaker(engine)
        async with sessions.begin() as session:
            session.add(conversation(State.WAITING, dt.timedelta(minutes=2)))
            session.add(conversation(State.WAITING, dt.timedelta(seconds=20)))
            session.add(conversation(State.ACTIVE, dt.timedelta(minutes=9)))
            for wait in (45, 400):
                session.add(
                    ConversationStats(
                        kommune="testby",
                        date=dt.date(2025, 8, 4),
                        hour=19,
                        weekday=0,
                        outcome="answered",
                        wait_seconds=wait,
                        duration_seconds=600,
                    )
                )
        async with sessions() as session:
            views = {
                (v.kanal, v.count) for v in (await session.execute(select(PageView))).scalars()
            }
        await engine.dispose()
        assert views == {("plakat", 1), ("ukendt", 1)}  # the reload without view=1: not counted

        async with http.get(metrics_url) as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/plain")
            got = samples(await r.text())

    def value(name: str, **labels: str) -> float:
        return got[(name, tuple(sorted(labels.items())))]

    assert value("ungechat_database_up") == 1
    assert value("ungechat_conversations", kommune="testby", state="waiting") == 2
    assert value("ungechat_conversations", kommune="testby", state="active") == 1
    assert 110 <= value("ungechat_oldest_wait_seconds", kommune="testby") < 300
    assert value("ungechat_wait_seconds_bucket", kommune="testby", le="60.0") == 1
    assert value("ungechat_wait_seconds_bucket", kommune="testby", le="300.0") == 1
    assert value("ungechat_wait_seconds_bucket", kommune="testby", le="600.0") == 2
    assert value("ungechat_wait_seconds_count", kommune="testby") == 2
    assert value("ungechat_wait_seconds_sum", kommune="testby") == 445
    route = {"route": "/api/v1/kommuner/{slug}", "method": "GET"}
    assert value("ungechat_intake_request_seconds_count", **route) == 3
    assert not [k for k in got if "hemmelig" in str(k) or "127.0.0.1" in str(k)]


# Imports the service as `ungechat run` does, then does at run time what the service does
# with the report's code (the network digest: the period's figures, suppressed, composed),
# and lists the modules of the report's plotting library that got loaded.
WITHOUT_PLOTTING = """
import datetime as dt
import json
import sys
from pathlib import Path

import bots.service
from bots.config.load import parse_config
from bots.sparring.digest import compose
from bots.stats.figures import build
from bots.stats.period import Period
from bots.stats.query import ConversationRecord, ViewRecord
from tests.offline_config import offline_config_data

loaded_at_start = sorted(m for m in sys.modules if m.split(".")[0] == "matplotlib")
solver_at_start = sorted({m.split(".")[0] for m in sys.modules} & {"numpy", "scipy"})
config = parse_config(offline_config_data(), Path("/tmp"))
week = Period(dt.date(2025, 8, 4), dt.date(2025, 8, 10))
rows = [
    ConversationRecord(
        kommune="testby", date=week.start + dt.timedelta(days=i % 3), hour=19,
        weekday=i % 3, kanal=("plakat", "facebook", None)[i % 3], answers={}, topics=(),
        wait_seconds=60 * i, duration_seconds=600, outcome="answered", held=False,
        feedback=None,
    )
    for i in range(9)
]
views = [ViewRecord("testby", "plakat", week.start, 40)]
text = compose(build(config, week, rows, views), "week")
assert "<5" in text, text  # the small-cell rule ran
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "matplotlib")
print(json.dumps({"at_start": loaded_at_start, "after_digest": loaded, "solver": solver_at_start}))
"""


def test_the_running_service_does_not_load_the_plotting_library() -> None:
    """matplotlib draws the quarterly report's charts and nothing else: the service (and
    its digest, which counts and suppresses like the report but draws nothing) never
    loads it. SciPy and NumPy it loads only when a suppression is audited (a digest is
    due), not at start-up: about 50 MB a replica keeps to itself otherwise."""
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_PLOTTING],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"at_start": [], "after_digest": [], "solver": []}
