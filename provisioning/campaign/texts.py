"""The words on posters and cards: the municipality's own (config `campaign:` and
`texts:`) over calm defaults, and the opening hours said as a young person reads them."""

from __future__ import annotations

from bots.config.hours import DAY_NAMES, OpeningHours
from bots.config.model import LocalText, Municipality

DEFAULT_COLOR = "#2f5d50"  # the youth page's own green (bots/intake/static/chat.css)

DEFAULTS = {
    "headline": LocalText("Noget, der fylder?", "Something on your mind?"),
    "call_to_action": LocalText(
        "Scan koden og skriv anonymt med en ungerådgiver",
        "Scan the code and chat anonymously with a youth counsellor",
    ),
    "promise_short": LocalText(
        "100 % anonymt. Ingen profil, og samtalen bliver slettet bagefter.",
        "100% anonymous. No account, and the conversation is deleted afterwards.",
    ),
}


def campaign_texts(m: Municipality) -> dict[str, LocalText]:
    """headline, call_to_action, promise_short, footer, and the youth page's intro,
    promise and help_now: the municipality's own words where it has them."""
    short = m.name.removesuffix(" Kommune")
    footer = LocalText(
        f"Et tilbud til unge mellem 13 og 24 år fra {m.name}.",
        f"For young people aged 13 to 24, from {m.name}.",
    )
    own = {key: _fill(text, short) for key, text in m.campaign.items()}
    return {**m.youth_texts(), **DEFAULTS, "footer": footer, **own}


def _fill(text: LocalText, short: str) -> LocalText:
    en = text.en.replace("{kommune}", short) if text.en else None
    return LocalText(text.da.replace("{kommune}", short), en)


def hours_in_words(hours: OpeningHours, lang: str = "da") -> list[str]:
    """['mandag–torsdag kl. 18–21', 'lørdag kl. 14–17'] — days with the same hours
    together, three or more days in a row as a range; ['hele døgnet'] when always open."""
    if hours.always_open:
        return ["hele døgnet, alle dage" if lang == "da" else "around the clock, every day"]
    days = hours.weekly_summary(lang)
    by_hours: dict[str, list[str]] = {}
    for day, text in days:
        by_hours.setdefault(text, []).append(day)
    clock = "kl.\u00a0" if lang == "da" else ""  # never "kl." at the end of a line
    return [f"{_days(group, lang)} {clock}{text}" for text, group in by_hours.items()]


def _days(group: list[str], lang: str) -> str:
    """['mandag', 'tirsdag', 'onsdag'] → 'mandag–onsdag'; ['mandag', 'torsdag'] →
    'mandag og torsdag'."""
    week = list(DAY_NAMES.get(lang, DAY_NAMES["da"]))
    runs: list[list[str]] = []
    for day in group:
        if runs and week.index(day) == week.index(runs[-1][-1]) + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = [p for r in runs for p in ([f"{r[0]}–{r[-1]}"] if len(r) >= 3 else r)]
    joiner = " og " if lang == "da" else " and "
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + joiner + parts[-1]


def closed_on_holidays_note(hours: OpeningHours, lang: str = "da") -> str | None:
    if hours.always_open or not hours.closed_on_public_holidays:
        return None
    return "Lukket på helligdage." if lang == "da" else "Closed on public holidays."
