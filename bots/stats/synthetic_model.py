"""How the synthetic young people behave: when they come, by which channel, how long they
wait, what they answer and talk about. Plausible, not measured: evenings are busiest,
Facebook brings many visits but few of them write, a card handed over by a counsellor
brings few visits that mostly do, and patience runs out after a quarter of an hour.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from bots.config.model import UNKNOWN_CHANNEL, Municipality

# (weight among a municipality's channels, conversations started per page view)
CHANNELS: dict[str, tuple[float, float]] = {
    "facebook": (5.0, 0.03),
    "instagram": (2.5, 0.03),
    "plakat": (1.5, 0.14),
    "kort": (2.0, 0.35),
    "elevintra": (2.0, 0.10),
    "skole-intra": (1.5, 0.10),
    "ungdomsskole": (1.2, 0.08),
    "hjemmeside": (0.8, 0.06),
    "cyberhus": (1.5, 0.09),
    "medarbejder": (3.0, 0.55),
    "banner": (1.0, 0.18),
    "kommunebil": (0.4, 0.05),
    UNKNOWN_CHANNEL: (0.8, 0.10),
}
DEFAULT_CHANNEL = (1.0, 0.10)
# The answer to "Hvor har du hørt om chatten?" that fits a link's channel.
MATCHING_ANSWER = {
    "instagram": "facebook",
    "kort": "plakat",
    "elevintra": "skole",
    "skole-intra": "skole",
    "medarbejder": "voksen",
}
# Evening is when young people write; the night is quiet but not empty.
HOUR_WEIGHT = (
    *(0.25, 0.15, 0.08, 0.05, 0.04, 0.05, 0.1, 0.2, 0.3, 0.35, 0.4, 0.45),
    *(0.55, 0.6, 0.7, 0.85, 1.0, 1.1, 1.3, 1.5, 1.6, 1.5, 1.1, 0.6),
)
WEEKDAY_WEIGHT = (1.25, 1.0, 1.0, 1.2, 0.8, 0.6, 0.9)  # Monday and Thursday peak
TOPICS = {
    "trivsel": 9,
    "ensomhed": 8,
    "familie": 8,
    "angst": 7,
    "kæreste": 6,
    "skole": 6,
    "venner": 5,
    "krop": 4,
    "selvskade": 3,
    "seksualitet": 3,
    "mobning": 3,
    "sorg": 2,
    "misbrug": 1.5,
    "vold": 1,
    "andet": 3,
}
AGES = {"13-15": 3.0, "16-18": 4.0, "19-21": 2.0, "22-24": 1.0}
# Tags a counsellor may put on a conversation that are not in the municipality's list
# (a list changed since, a typo): the report counts them as "andet".
STRAY_TOPICS = ("gaming", "penge", "skilsmisse")


@dataclass(frozen=True)
class Profile:
    conversations: int  # expected in a quarter
    wait_minutes: float  # mean wait for a counsellor when one is free
    campaign_week: int | None = None  # index of a week with a Facebook campaign
    boost_days: tuple[int, ...] = ()  # weekdays the ads are turned up before opening
    extra_weight: dict[str, float] = field(default_factory=dict)
    # Expected in a quarter: young people who come by the link while the chat is closed
    # and take a partner's open chat instead (overflow).
    overflow: float = 0.0


PROFILES = {
    "koebenhavn": Profile(1700, 3.0, campaign_week=5),
    "ringkoebing-skjern": Profile(360, 4.0, boost_days=(0, 3), overflow=4.0),
    "halsnaes": Profile(420, 6.0, extra_weight={"medarbejder": 2.0}),
    "fanoe": Profile(24, 2.0, overflow=2.0),
}
DEFAULT_PROFILE = Profile(200, 4.0)


def season(week_of_year: int) -> float:
    """School holidays: summer (weeks 27–31), autumn (42), Christmas (52, 1)."""
    if 27 <= week_of_year <= 31:
        return 0.55
    if week_of_year in (42, 52, 1, 7):
        return 0.7
    return 1.0


def poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 40:  # normal approximation; Knuth's loop is slow for large means
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def pick(rng: random.Random, weights: dict[str, float]) -> str:
    names = list(weights)
    return rng.choices(names, [weights[n] for n in names])[0]


def channel_weights(m: Municipality, profile: Profile, boosted: bool) -> dict[str, float]:
    weights = {}
    for kanal in [*m.channels, UNKNOWN_CHANNEL]:
        weight = CHANNELS.get(kanal, DEFAULT_CHANNEL)[0] * profile.extra_weight.get(kanal, 1.0)
        if boosted and kanal in ("facebook", "instagram"):
            weight *= 2.0
        weights[kanal] = weight
    return weights


def conversion(kanal: str) -> float:
    return CHANNELS.get(kanal, DEFAULT_CHANNEL)[1]


def answers(rng: random.Random, m: Municipality, kanal: str) -> dict[str, str]:
    """Each question skipped now and then; 'heard from' mostly agrees with the link."""
    out: dict[str, str] = {}
    for q in m.questions:
        ids = [o.id for o in q.options]
        if rng.random() < 0.2:
            continue
        if q.id == "heard_from":
            fitting = MATCHING_ANSWER.get(kanal, kanal)
            if fitting in ids and rng.random() < 0.7:
                out[q.id] = fitting
            else:
                out[q.id] = pick(rng, {i: 3.0 if i in ("ven", "andet") else 1.0 for i in ids})
        elif q.id == "age" and set(ids) == set(AGES):
            out[q.id] = pick(rng, AGES)
        else:
            out[q.id] = rng.choice(ids)
    return out


def topics(rng: random.Random, m: Municipality) -> list[str]:
    known = {t: w for t, w in TOPICS.items() if t in m.topics} or dict.fromkeys(m.topics, 1.0)
    n = rng.choices((0, 1, 2, 3), (0.06, 0.6, 0.29, 0.05))[0]
    chosen: list[str] = []
    while len(chosen) < min(n, len(known)):
        topic = pick(rng, known)
        if topic not in chosen:
            chosen.append(topic)
    stray = [t for t in STRAY_TOPICS if t not in m.topics]
    if stray and rng.random() < 0.01:
        chosen.append(rng.choice(stray))
    return chosen


def feedback(rng: random.Random, answered: bool) -> str | None:
    if rng.random() > (0.45 if answered else 0.15):
        return None
    weights = (0.65, 0.25, 0.10) if answered else (0.1, 0.3, 0.6)
    return rng.choices(("yes", "partly", "no"), weights)[0]


def ended(
    rng: random.Random, m: Municipality, others: Sequence[str], wait: float, crowd: int
) -> dict[str, object]:
    """Outcome, wait, duration and who ended it, for one conversation."""
    if rng.random() < 0.003:
        return {"outcome": "setup_failed", "ended_by": "system", "duration_seconds": 5}
    patience = rng.expovariate(1 / (25 * 60))
    waited = rng.expovariate(1 / (wait * 60 * (1 + 0.15 * (crowd - 1))))
    if waited > patience:
        return {
            "outcome": "left_while_waiting",
            "ended_by": "youth",
            "duration_seconds": int(patience),
        }
    if waited > 20 * 60 and rng.random() < 0.5:
        return {
            "outcome": "unanswered",
            "ended_by": rng.choice(("idle", "hours")),
            "duration_seconds": int(waited),
        }
    outcome = "transferred" if others and rng.random() < 0.02 else "answered"
    return {
        "outcome": outcome,
        "transferred_to": rng.choice(list(others)) if outcome == "transferred" else None,
        "wait_seconds": int(waited),
        "duration_seconds": max(60, int(rng.lognormvariate(math.log(20 * 60), 0.6))),
        "ended_by": rng.choices(("counsellor", "youth", "idle", "hours"), (55, 35, 7, 3))[0],
        "topics": topics(rng, m),
        "held": rng.random() < 0.006,
    }
