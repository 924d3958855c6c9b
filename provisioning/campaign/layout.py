"""Drawing on a PDF page with y measured from the top: text boxes that shrink to fit
(and break lines only at plain spaces), rectangles, the QR code, the chat's bubble.

Bitstream Vera (it ships with reportlab; DejaVu is its descendant) is embedded, so æ, ø
and å print everywhere.
"""

from __future__ import annotations

from reportlab.lib.colors import Color, HexColor
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from provisioning.campaign import qr

REGULAR, BOLD = "UngechatVera", "UngechatVeraBold"
INK, MUTED, PAPER = HexColor("#1d2724"), HexColor("#56625e"), HexColor("#f6f3ee")


def register_fonts() -> None:
    if REGULAR not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(REGULAR, "Vera.ttf"))
        pdfmetrics.registerFont(TTFont(BOLD, "VeraBd.ttf"))


def mix(a: Color, b: Color, share_b: float) -> Color:
    """`a` with `share_b` of `b` mixed in (0.86 of white makes a soft tint)."""
    return Color(*(x + (y - x) * share_b for x, y in zip(a.rgb(), b.rgb(), strict=True)))


class Page:
    """A canvas with y measured from the top, and text boxes that shrink to fit."""

    def __init__(self, canvas: Canvas, height: float) -> None:
        self.c = canvas
        self.h = height

    def text(
        self,
        text: str,
        x: float,
        top: float,
        width: float,
        *,
        size: float,
        min_size: float | None = None,
        max_height: float | None = None,
        font: str = REGULAR,
        color: Color = INK,
        leading: float = 1.3,
        centred: bool = False,
    ) -> float:
        """Set `text` in the box; returns the height used."""
        size, lines = _fit(text, font, size, min_size or size, width, max_height, leading)
        self.c.setFont(font, size)
        self.c.setFillColor(color)
        for i, line in enumerate(lines):
            baseline = self.h - top - size * (0.9 + i * leading)
            if centred:
                self.c.drawCentredString(x + width / 2, baseline, line)
            else:
                self.c.drawString(x, baseline, line)
        return len(lines) * size * leading

    def spaced(
        self, text: str, x: float, top: float, *, size: float, color: Color, spacing: float
    ) -> None:
        """One line of letter-spaced capitals, as a label."""
        self.c.saveState()  # the spacing would otherwise stay for all later text
        line = self.c.beginText(x, self.h - top - size * 0.9)
        line.setFont(BOLD, size)
        line.setCharSpace(spacing)
        line.setFillColor(color)
        line.textLine(text)
        self.c.drawText(line)
        self.c.restoreState()

    def rect(self, x: float, top: float, w: float, h: float, color: Color, r: float = 0) -> None:
        self.c.setFillColor(color)
        if r:
            self.c.roundRect(x, self.h - top - h, w, h, r, stroke=0, fill=1)
        else:
            self.c.rect(x, self.h - top - h, w, h, stroke=0, fill=1)

    def qr(self, url: str, x: float, top: float, size: float) -> None:
        qr.draw(self.c, url, x, self.h - top - size, size, dark=INK)

    def bubble(self, x: float, top: float, size: float, color: Color, dots: Color) -> None:
        """The chat's speech bubble (as bots/intake/static/icon.svg), `size` wide."""
        u = size / 16
        base = self.h - top
        self.c.setFillColor(color)
        self.c.roundRect(x, base - 13 * u, 16 * u, 13 * u, 2.5 * u, stroke=0, fill=1)
        tail = self.c.beginPath()
        tail.moveTo(x + 3 * u, base - 12 * u)
        tail.lineTo(x + 3 * u, base - 17 * u)
        tail.lineTo(x + 8 * u, base - 12 * u)
        tail.close()
        self.c.drawPath(tail, stroke=0, fill=1)
        self.c.setFillColor(dots)
        for i in range(3):
            self.c.circle(x + (4.5 + 3.5 * i) * u, base - 6.5 * u, 1.4 * u, stroke=0, fill=1)


def _fit(
    text: str,
    font: str,
    size: float,
    min_size: float,
    width: float,
    max_height: float | None,
    leading: float,
) -> tuple[float, list[str]]:
    while True:
        lines = _wrap(text, font, size, width)
        fits = all(stringWidth(line, font, size) <= width for line in lines) and (
            max_height is None or len(lines) * size * leading <= max_height
        )
        if fits:
            return size, lines
        if size <= min_size:
            return size, _cut(lines, font, size, width, max_height, leading)
        size = max(min_size, size - 0.5)


def _cut(
    lines: list[str], font: str, size: float, width: float, room: float | None, leading: float
) -> list[str]:
    """What fits in the box at the smallest size, ending in '…' where text was left out."""
    keep = max(1, int((room or 0) // (size * leading))) if room is not None else len(lines)
    if keep >= len(lines):
        return lines
    last = lines[keep - 1]
    while last and stringWidth(last + " …", font, size) > width:
        last = last.rsplit(" ", 1)[0] if " " in last else last[:-1]
    return [*lines[: keep - 1], f"{last} …"]


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Greedy line breaking at plain spaces only, so 'kl.\u00a018–21' stays together."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            trial = f"{line} {word}" if line else word
            if not line or stringWidth(trial, font, size) <= width:
                line = trial
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines
