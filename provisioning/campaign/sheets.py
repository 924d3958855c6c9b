"""Print sheets as PDF: an A6 card (front and back) and A4/A3 posters.

Calm and legible from a distance: one colour band with the headline, a large QR code on
a white card, then when the chat is open, the promise of anonymity and where to get help
now. Texts that run long are set smaller; what still does not fit at the smallest size
ends in '…' rather than running into the QR code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reportlab.lib.colors import Color, HexColor, white
from reportlab.lib.pagesizes import A3, A4, A6
from reportlab.pdfgen.canvas import Canvas

from bots.config.model import Municipality
from provisioning.campaign.layout import BOLD, INK, MUTED, PAPER, Page, mix, register_fonts
from provisioning.campaign.texts import (
    DEFAULT_COLOR,
    campaign_texts,
    closed_on_holidays_note,
    hours_in_words,
)

LABELS = {
    "when": {"da": "Hvornår?", "en": "When?"},
    "open": {"da": "Hvornår har vi åbent?", "en": "When are we open?"},
    "anonymous": {"da": "Helt anonymt", "en": "Completely anonymous"},
    "help": {"da": "Brug for hjælp nu?", "en": "Need help now?"},
}


@dataclass(frozen=True)
class Sheet:
    """Everything one sheet says, in one language."""

    service_name: str
    headline: str
    intro: str
    call_to_action: str
    promise: str
    promise_short: str
    help_now: str
    footer: str
    hours: list[str]
    holidays: str | None
    url: str
    brand: Color
    lang: str = "da"

    @classmethod
    def of(cls, m: Municipality, url: str, lang: str = "da") -> Sheet:
        t = {key: text.get(lang) for key, text in campaign_texts(m).items()}
        return cls(
            service_name=m.service_name,
            headline=t["headline"],
            intro=t["intro"],
            call_to_action=t["call_to_action"],
            promise=t["promise"],
            promise_short=t["promise_short"],
            help_now=t["help_now"],
            footer=t["footer"],
            hours=hours_in_words(m.opening_hours, lang),
            holidays=closed_on_holidays_note(m.opening_hours, lang),
            url=url,
            brand=HexColor(m.campaign_color or DEFAULT_COLOR),
            lang=lang,
        )

    def label(self, key: str) -> str:
        return LABELS[key].get(self.lang, LABELS[key]["da"])

    @property
    def tint(self) -> Color:
        return mix(self.brand, white, 0.86)

    @property
    def printed_url(self) -> str:
        return self.url.removeprefix("https://").removeprefix("http://")


def _canvas(path: Path, size: tuple[float, float], sheet: Sheet, what: str) -> Canvas:
    register_fonts()
    c = Canvas(str(path), pagesize=size, invariant=True)
    c.setTitle(f"{sheet.service_name} – {what}")
    c.setAuthor(sheet.footer)
    c.setCreator("ungechat links")
    return c


def poster(sheet: Sheet, path: Path, page: tuple[float, float] = A4) -> None:
    """An A4 (or A3: the same design, scaled) poster."""
    width = page[0]
    c = _canvas(path, page, sheet, f"plakat {'A3' if page == A3 else 'A4'}")
    scale = width / A4[0]
    c.scale(scale, scale)
    _poster_a4(Page(c, A4[1]), sheet)
    c.showPage()
    c.save()


def _poster_a4(p: Page, s: Sheet) -> None:
    w, margin = A4[0], 48
    inner = w - 2 * margin
    p.rect(0, 0, w, A4[1], PAPER)
    p.rect(0, 0, w, 330, s.brand)
    p.bubble(margin, 40, 26, s.tint, s.brand)
    p.spaced(s.service_name.upper(), margin + 36, 46, size=13, color=s.tint, spacing=1.5)
    used = p.text(
        s.headline,
        margin,
        88,
        inner,
        size=50,
        min_size=30,
        max_height=125,
        font=BOLD,
        color=white,
        leading=1.12,
    )
    p.text(
        s.intro, margin, 88 + used + 14, inner, size=17, min_size=12, max_height=78, color=s.tint
    )

    card_w, qr_size = 300, 210
    card_x = (w - card_w) / 2
    p.rect(card_x + 3, 290 + 4, card_w, 312, mix(s.brand, PAPER, 0.55), r=18)  # shadow
    p.rect(card_x, 290, card_w, 312, white, r=18)
    p.qr(s.url, (w - qr_size) / 2, 290 + 26, qr_size)
    used = p.text(
        s.call_to_action,
        card_x + 24,
        290 + 26 + qr_size + 16,
        card_w - 48,
        size=16,
        min_size=11,
        max_height=42,
        font=BOLD,
        color=s.brand,
        centred=True,
    )
    p.text(
        s.printed_url,
        card_x + 12,
        290 + 26 + qr_size + 22 + used,
        card_w - 24,
        size=9,
        min_size=6,
        max_height=12,
        color=MUTED,
        centred=True,
    )

    col = (inner - 24) / 2
    top = 628
    p.text(s.label("when"), margin, top, col, size=12, font=BOLD, color=s.brand)
    y = top + 20.0
    for line in s.hours:
        y += p.text(_capital(line), margin, y, col, size=14, min_size=10, max_height=40)
    if s.holidays:
        p.text(s.holidays, margin, y + 2, col, size=10, color=MUTED)
    right = margin + col + 24
    p.text(s.label("anonymous"), right, top, col, size=12, font=BOLD, color=s.brand)
    p.text(s.promise, right, top + 20, col, size=11, min_size=8, max_height=92)

    p.rect(margin, 748, inner, 0.8, mix(s.brand, PAPER, 0.6))
    used = p.text(s.help_now, margin, 758, inner, size=9.5, min_size=7.5, max_height=40, color=INK)
    p.text(
        s.footer,
        margin,
        758 + used + 6,
        inner,
        size=9,
        min_size=7,
        max_height=24,
        font=BOLD,
        color=MUTED,
    )


def card(sheet: Sheet, path: Path) -> None:
    """An A6 card: the code on the front, the hours, the promise and help on the back."""
    c = _canvas(path, A6, sheet, "kort A6")
    _card_front(Page(c, A6[1]), sheet)
    c.showPage()
    _card_back(Page(c, A6[1]), sheet)
    c.showPage()
    c.save()


def _card_front(p: Page, s: Sheet) -> None:
    w, h, margin = A6[0], A6[1], 22
    inner = w - 2 * margin
    p.rect(0, 0, w, h, s.brand)
    p.bubble(margin, 22, 16, s.tint, s.brand)
    p.spaced(s.service_name.upper(), margin + 23, 25, size=8.5, color=s.tint, spacing=0.9)
    p.text(
        s.headline,
        margin,
        52,
        inner,
        size=26,
        min_size=16,
        max_height=64,
        font=BOLD,
        color=white,
        leading=1.12,
    )
    card_w, qr_size = 192, 160
    p.rect((w - card_w) / 2, 128, card_w, card_w, white, r=12)
    p.qr(s.url, (w - qr_size) / 2, 128 + (card_w - qr_size) / 2, qr_size)
    used = p.text(
        s.call_to_action,
        margin,
        336,
        inner,
        size=11.5,
        min_size=8.5,
        max_height=30,
        font=BOLD,
        color=white,
        centred=True,
    )
    p.text(
        s.promise_short,
        margin,
        336 + used + 7,
        inner,
        size=8.5,
        min_size=7,
        max_height=34,
        color=s.tint,
        centred=True,
    )


def _card_back(p: Page, s: Sheet) -> None:
    w, h, margin = A6[0], A6[1], 22
    inner = w - 2 * margin
    p.rect(0, 0, w, h, PAPER)
    p.rect(0, 0, w, 6, s.brand)
    y = 28.0

    def heading(key: str) -> float:
        return p.text(s.label(key), margin, y, inner, size=12.5, font=BOLD, color=s.brand) + 3

    y += heading("open")
    for line in s.hours:
        y += p.text(_capital(line), margin, y, inner, size=11, min_size=8, max_height=28)
    if s.holidays:
        y += p.text(s.holidays, margin, y, inner, size=8.5, color=MUTED)
    y += 16
    y += heading("anonymous")
    y += p.text(s.promise, margin, y, inner, size=9.5, min_size=7, max_height=90) + 16
    y += heading("help")
    p.text(s.help_now, margin, y, inner, size=9.5, min_size=7, max_height=h - 74 - y)
    p.rect(margin, h - 60, inner, 0.6, mix(s.brand, PAPER, 0.6))
    used = p.text(
        s.footer, margin, h - 52, inner, size=7.5, min_size=6, max_height=20, font=BOLD, color=MUTED
    )
    p.text(
        s.printed_url,
        margin,
        h - 52 + used + 2,
        inner,
        size=7,
        min_size=5.5,
        max_height=10,
        color=MUTED,
    )


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
