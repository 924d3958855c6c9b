"""What the youth page shows before a conversation starts: open or closed, counts of who
is ready and who waits (never who), the opening hours in words, and a partner to offer
when this chat cannot answer now."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bots.config.hours import describe_next_opening
from bots.config.model import Config, Municipality
from bots.conversation.duty import DutyRoster
from bots.texts import YOUTH


def _when(now: dt.datetime, moment: dt.datetime | None, lang: str) -> str | None:
    return describe_next_opening(now, moment, lang) if moment else None


# What goes before a time today; the page says "Åben nu til {when}" / "Open now until {when}".
_TODAY = {"da": "i dag ", "en": "today at "}


def _closes_text(now: dt.datetime, closes: dt.datetime | None, lang: str) -> str | None:
    """'kl. 21' / '21:00' today, else 'i morgen kl. 1' / 'tomorrow at 01:00' (a late
    evening that runs past midnight)."""
    text = _when(now, closes, lang)
    if text is None:
        return None
    return text.removeprefix(_TODAY.get(lang, _TODAY["da"]))


def hours_fields(m: Municipality, lang: str, now: dt.datetime) -> dict[str, Any]:
    hours = m.opening_hours
    nxt = hours.next_opening(now)
    closes = hours.closes_at(now)
    return {
        "open": hours.is_open(now),
        "next_opening": nxt.isoformat() if nxt else None,
        "next_opening_text": _when(now, nxt, lang),
        "closes_at": closes.isoformat() if closes else None,
        "closes_at_text": _closes_text(now, closes, lang),
        "hours": [{"day": day, "hours": text} for day, text in hours.weekly_summary(lang)],
    }


async def municipality_info(
    config: Config, duty: DutyRoster, m: Municipality, lang: str, now: dt.datetime
) -> dict[str, Any]:
    partner = await duty.overflow_partner(config, m, now)
    return {
        "slug": m.slug,
        "name": m.name,
        "service_name": m.service_name,
        **hours_fields(m, lang, now),
        "on_duty": await duty.count(m.slug),
        "waiting": await duty.waiting(m.slug),
        "overflow": (
            {
                "slug": partner.slug,
                "name": partner.name,
                "service_name": partner.service_name,
                "on_duty": await duty.count(partner.slug),
            }
            if partner is not None
            else None
        ),
        "questions": [
            {
                "id": q.id,
                "text": q.text.get(lang),
                "options": [{"id": o.id, "label": o.label.get(lang)} for o in q.options],
            }
            for q in m.questions
        ],
        "texts": {key: text.get(lang) for key, text in m.youth_texts().items()},
        # The longest a counsellor may keep a conversation for a duty to notify: the
        # page says so in its "what do we keep" text.
        "max_hold_days": m.timeouts.max_hold.days,
        # The letterbox's promise ("a counsellor answers within N days"); null without one.
        "letter_days": m.letters.answer_within.days if m.letters.enabled else None,
        "letters": (
            {
                "answer_days": m.letters.answer_within.days,
                "keep_days_after_read": m.letters.keep_after_read.days,
                "max_age_days": m.letters.max_age.days,
            }
            if m.letters.enabled
            else None
        ),
        # The bot's messages to the youth, by key, with {placeholders} for their values:
        # the page shows them in its own language whatever language the bot wrote in.
        "system": {key: texts.get(lang) or texts["da"] for key, texts in YOUTH.items()},
    }
