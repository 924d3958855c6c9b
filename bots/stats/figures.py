"""Every figure of the report, counted from the period's rows, then suppressed together.

What is counted (each a cube by municipality, see cube.py):
- samtaler by week, by weekday-and-hour, by kanal, by outcome, by feedback, by the answer
  to each question, and by kanal × the answer to "heard_from" (link vs self-reported);
- sidevisninger (youth-page views) by kanal; med_raadgiver (conversations a counsellor
  answered) by kanal, by waiting time and by duration; emne (topics) of those;
  uden_raadgiver (the rest: left while waiting or not answered) by kanal;
- bevaret: conversations kept after their end by a hold.
- haster: conversations marked urgent (the youth's "Er du i fare lige nu?" or `!haster`).
Only samtaler, sidevisninger, bevaret and haster have a network total ("*"): broken down over the
whole network, a small municipality's "<5" would force its neighbours' numbers hidden.
Medians of waiting time and duration are given only over at least 5 conversations.
A reader knows the opening hours, so the weekday-hour and week cells of hours the chat
was closed are suppressed as what they are to that reader: zeros, presumably.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from bots.config.model import UNKNOWN_CHANNEL, Config, Municipality
from bots.stats.closed import SLOTS, closed_cells
from bots.stats.cube import ALL, Cell, Cubes, Dim, cell
from bots.stats.period import Period, week_key
from bots.stats.query import ConversationRecord, ViewRecord
from bots.stats.suppression import THRESHOLD, Suppressed, suppress

HEARD_FROM = "heard_from"
NOT_ANSWERED = "ikke_besvaret"
# By outcome only: an "answered" row with `transferred_to` is a young person who came by
# the link while the chat was closed and was answered by an open partner (overflow). It
# counts as answered for the municipality whose link it was; "transferred" is a
# conversation handed over mid-way (`!overfør`).
OUTCOMES = {
    "answered": "besvaret",
    "transferred": "overdraget",
    "left_while_waiting": "gik_inden_svar",
    "unanswered": "ikke_besvaret",
    # The youth was told at once that the chat could not start: not answered, for a reader.
    "setup_failed": "ikke_besvaret",
}
ANSWERED = ("besvaret", "overdraget")  # a counsellor took the conversation
NOT_REACHED = ("gik_inden_svar", "ikke_besvaret")
FEEDBACK = {"yes": "ja", "partly": "delvist", "no": "nej"}
NO_FEEDBACK = "intet_svar"
NO_TOPIC = "intet_emne"
OTHER_TOPIC = "andet"
# Upper ends in minutes; the last bucket is open. A conversation a counsellor took always
# has both times (bots/lifecycle.py stats_row); one without is counted in the first.
WAIT_BUCKETS = ((1, "under_1"), (5, "1_5"), (15, "5_15"), (30, "15_30"), (None, "over_30"))
DURATION_BUCKETS = ((5, "under_5"), (15, "5_15"), (30, "15_30"), (60, "30_60"), (None, "over_60"))


@dataclass
class Publication:
    """The figures of a period as they may be published, with what is needed to read them."""

    config: Config
    period: Period
    kommuner: list[str]
    categories: dict[tuple[str, str], list[str]]
    cells: Suppressed
    # ("ventetid" | "varighed", kommune) → median in minutes, None below 5 conversations.
    medians: dict[tuple[str, str], float | None]

    def shown(self, key: Cell) -> int | str:
        return self.cells.shown(key)

    def cats(self, dim: str, kommune: str) -> list[str]:
        return self.categories.get((dim, kommune), [])

    def municipality(self, slug: str) -> Municipality:
        m = self.config.municipality(slug)
        assert m is not None
        return m


def answer_of(m: Municipality, question: str, answers: dict[str, object]) -> str | None:
    """The option chosen, NOT_ANSWERED, or None when the municipality has no such question."""
    q = next((q for q in m.questions if q.id == question), None)
    if q is None:
        return None
    value = answers.get(question)
    return value if isinstance(value, str) and value in {o.id for o in q.options} else NOT_ANSWERED


def topics_of(m: Municipality, topics: Iterable[str]) -> set[str]:
    known = set(m.topics)
    found = {t if t in known else OTHER_TOPIC for t in topics}
    return found or {NO_TOPIC}


def bucket(seconds: int | None, buckets: Sequence[tuple[int | None, str]]) -> str:
    for upper, name in buckets:
        if upper is None or (seconds or 0) < upper * 60:
            return name
    raise AssertionError("the last bucket is open")


def build(
    config: Config, period: Period, rows: Sequence[ConversationRecord], views: Sequence[ViewRecord]
) -> Publication:
    kommuner = [m.slug for m in config.municipalities]
    by_slug = {m.slug: m for m in config.municipalities}
    rows = [r for r in rows if r.kommune in by_slug and period.contains(r.date)]
    cubes = Cubes(kommuner)

    def fixed(values: Sequence[str]) -> Callable[[str], list[str]]:
        return lambda _k: list(values)

    def channels(k: str) -> list[str]:
        return [*by_slug[k].channels, UNKNOWN_CHANNEL]

    def options(question: str) -> Dim:
        def cats(k: str) -> list[str]:
            q = next((q for q in by_slug[k].questions if q.id == question), None)
            return [*(o.id for o in q.options), NOT_ANSWERED] if q else []

        return Dim(f"svar:{question}", cats)

    def topics(k: str) -> list[str]:
        return [*dict.fromkeys([*by_slug[k].topics, OTHER_TOPIC]), NO_TOPIC]

    kanal = Dim("kanal", channels)
    count: dict[str, Counter[tuple[str, ...]]] = {
        name: Counter()
        for name in ("week", "slot", "kanal", "answered_kanal", "missed_kanal", "outcome")
    }
    count.update({name: Counter() for name in ("feedback", "held", "urgent")})
    count.update({name: Counter() for name in ("wait", "duration", "topic", "cross", "views")})
    answers: dict[str, Counter[tuple[str, ...]]] = {}
    for r in rows:
        m, k = by_slug[r.kommune], r.kommune
        channel = m.counted_channel(r.kanal)
        outcome = OUTCOMES.get(r.outcome, NOT_ANSWERED)
        count["week"][(k, week_key(r.date))] += 1
        count["slot"][(k, f"{r.weekday}-{r.hour}")] += 1
        count["kanal"][(k, channel)] += 1
        count["outcome"][(k, outcome)] += 1
        count["feedback"][(k, FEEDBACK.get(r.feedback or "", NO_FEEDBACK))] += 1
        count["held"][(k,)] += r.held
        count["urgent"][(k,)] += r.urgent
        for q in m.questions:
            answers.setdefault(q.id, Counter())[(k, answer_of(m, q.id, r.answers) or "")] += 1
        heard = answer_of(m, HEARD_FROM, r.answers)
        if heard is not None:
            count["cross"][(k, channel, heard)] += 1
        if outcome in ANSWERED:
            count["answered_kanal"][(k, channel)] += 1
            count["wait"][(k, bucket(r.wait_seconds, WAIT_BUCKETS))] += 1
            count["duration"][(k, bucket(r.duration_seconds, DURATION_BUCKETS))] += 1
            for topic in topics_of(m, r.topics):
                count["topic"][(k, topic)] += 1
        else:
            count["missed_kanal"][(k, channel)] += 1
    for v in views:
        if v.kommune in by_slug and period.contains(v.date):
            count["views"][(v.kommune, by_slug[v.kommune].counted_channel(v.kanal))] += v.count

    # The network's totals only: a breakdown over the whole network would let a small
    # municipality's "<5" force a larger neighbour's numbers to be hidden.
    cubes.add("samtaler", [], by_kommune(count["kanal"]), network=True)
    cubes.add("sidevisninger", [], by_kommune(count["views"]), network=True)
    cubes.add("bevaret", [], count["held"], network=True)
    cubes.add("haster", [], count["urgent"], network=True)
    cubes.add("samtaler", [Dim("uge", fixed(period.weeks()))], count["week"])
    cubes.add("samtaler", [Dim("tid", fixed(SLOTS))], count["slot"])
    cubes.add("samtaler", [kanal], count["kanal"])
    cubes.add("sidevisninger", [kanal], count["views"])
    cubes.add("med_raadgiver", [kanal], count["answered_kanal"])
    cubes.add("uden_raadgiver", [kanal], count["missed_kanal"])
    outcomes = list(dict.fromkeys(OUTCOMES.values()))
    cubes.add("samtaler", [Dim("udfald", fixed(outcomes))], count["outcome"])
    feedback = [*FEEDBACK.values(), NO_FEEDBACK]
    cubes.add("samtaler", [Dim("feedback", fixed(feedback))], count["feedback"])
    for question, counted in answers.items():
        cubes.add("samtaler", [options(question)], counted)
    cubes.add("samtaler", [kanal, options(HEARD_FROM)], count["cross"])
    wait = [name for _, name in WAIT_BUCKETS]
    cubes.add("med_raadgiver", [Dim("ventetid", fixed(wait))], count["wait"])
    duration = [name for _, name in DURATION_BUCKETS]
    cubes.add("med_raadgiver", [Dim("varighed", fixed(duration))], count["duration"])
    cubes.add("emne", [Dim("emne", topics, additive=False)], count["topic"])
    # Started = answered + not: so "started − answered" cannot reveal a small number.
    for k in kommuner:
        for answered, kinds in (("med_raadgiver", ANSWERED), ("uden_raadgiver", NOT_REACHED)):
            cubes.relate(cell(answered, k), [cell("samtaler", k, udfald=o) for o in kinds])
        for c in [*cubes.categories[("kanal", k)], ALL]:
            cubes.relate(
                cell("samtaler", k, kanal=c),
                [cell("med_raadgiver", k, kanal=c), cell("uden_raadgiver", k, kanal=c)],
            )
    return Publication(
        config=config,
        period=period,
        kommuner=kommuner,
        categories=cubes.categories,
        cells=suppress(cubes.values, cubes.relations, presumed_zero(config, period)),
        medians=medians(rows, kommuner),
    )


def presumed_zero(config: Config, period: Period) -> list[Cell]:
    """The weekday-hour and week cells of the hours the chat was closed: a reader of
    the opening hours takes them for 0."""
    return [
        cell("samtaler", m.slug, **{dim: category})
        for m in config.municipalities
        for dim, category in sorted(closed_cells(m, period))
    ]


def by_kommune(counts: Counter[tuple[str, ...]]) -> Counter[tuple[str, ...]]:
    out: Counter[tuple[str, ...]] = Counter()
    for key, n in counts.items():
        out[key[:1]] += n
    return out


def medians(
    rows: Sequence[ConversationRecord], kommuner: Sequence[str]
) -> dict[tuple[str, str], float | None]:
    """Median waiting time and duration (minutes) of answered conversations."""
    out: dict[tuple[str, str], float | None] = {}
    for k in [*kommuner, ALL]:
        answered = [
            r for r in rows if (k == ALL or r.kommune == k) and OUTCOMES.get(r.outcome) in ANSWERED
        ]
        urgent = [r.wait_seconds for r in answered if r.urgent and r.wait_seconds is not None]
        for name, values in (
            ("ventetid", [r.wait_seconds for r in answered if r.wait_seconds is not None]),
            ("ventetid_haster", urgent),
            ("varighed", [r.duration_seconds for r in answered if r.duration_seconds is not None]),
        ):
            out[(name, k)] = (
                round(statistics.median(values) / 60, 1) if len(values) >= THRESHOLD else None
            )
    return out
