"""How the report names things and writes numbers, in Danish."""

from __future__ import annotations

from bots.config.model import UNKNOWN_CHANNEL, Municipality
from bots.stats.figures import NO_FEEDBACK, NO_TOPIC, NOT_ANSWERED
from bots.stats.suppression import HIDDEN, SMALL

CHANNELS = {
    "facebook": "Facebook",
    "instagram": "Instagram",
    "snapchat": "Snapchat",
    "tiktok": "TikTok",
    "plakat": "Plakater",
    "kort": "Kort",
    "elevintra": "Elevintra",
    "skole-intra": "Skolens intra",
    "ungdomsskole": "Ungdomsskolen",
    "hjemmeside": "Kommunens hjemmeside",
    "medarbejder": "Medarbejdere",
    "kommunebil": "Kommunebilen",
    "banner": "Bannere og roll-ups",
    "cyberhus": "Cyberhus",
    UNKNOWN_CHANNEL: "Uden kendt kanal",
}
OUTCOMES = {
    "besvaret": "Besvaret",
    # Handed over mid-way by `!overfør`; a young person sent on to an open partner while
    # the chat was closed (overflow) is "besvaret", for the link they came by.
    "overdraget": "Overdraget til en anden kommune",
    "gik_inden_svar": "Gik, før en rådgiver kom",
    "ikke_besvaret": "Ikke besvaret",
}
FEEDBACK = {"ja": "Ja", "delvist": "Delvist", "nej": "Nej", NO_FEEDBACK: "Svarede ikke"}
WAIT = {
    "under_1": "Under 1 min.",
    "1_5": "1–5 min.",
    "5_15": "5–15 min.",
    "15_30": "15–30 min.",
    "over_30": "Over 30 min.",
}
DURATION = {
    "under_5": "Under 5 min.",
    "5_15": "5–15 min.",
    "15_30": "15–30 min.",
    "30_60": "30–60 min.",
    "over_60": "Over 1 time",
}
WEEKDAYS_SHORT = ("man", "tir", "ons", "tor", "fre", "lør", "søn")


def channel(kanal: str) -> str:
    return CHANNELS.get(kanal, kanal.replace("-", " ").capitalize())


def topic(emne: str) -> str:
    return "Intet emne angivet" if emne == NO_TOPIC else emne.replace("-", " ").capitalize()


def option(m: Municipality, question: str, option_id: str) -> str:
    if option_id == NOT_ANSWERED:
        return "Sprang over"
    q = next((q for q in m.questions if q.id == question), None)
    found = next((o for o in q.options if o.id == option_id), None) if q else None
    return found.label.da if found else option_id


def question(m: Municipality, question_id: str) -> str:
    q = next((q for q in m.questions if q.id == question_id), None)
    return q.text.da if q else question_id


def number(value: int | str | None) -> str:
    """1.706, '<5', 'x' — Danish thousands separator."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    return f"{value:,}".replace(",", ".")


def percent(value: float | None) -> str:
    """'12 %', '0,4 %'; '–' when it would reveal a hidden number."""
    if value is None:
        return "–"
    text = f"{value:.0f}" if value >= 10 or value == 0 else f"{value:.1f}".replace(".", ",")
    return f"{text} %"


def minutes(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 10:
        return f"{value:.1f} min.".replace(".", ",", 1)
    return f"{value:.0f} min."


def is_hidden(value: int | str) -> bool:
    return value in (SMALL, HIDDEN)
