"""Reading the rendered report as a reader does: the text of each section's tables,
cards, introduction and figure captions, and its chart images; and numbers written the
Danish way read back ("1.706", "12 %", "0,4 %", "3,1", "4,2 min.")."""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Section:
    intro: str = ""
    tables: list[list[list[str]]] = field(default_factory=list)  # rows of cell texts
    cards: dict[str, str] = field(default_factory=dict)  # label → value
    captions: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)  # decoded SVG

    def table(self, index: int = 0) -> dict[str, list[str]]:
        """Rows by their first cell (the label), header row included."""
        return {row[0]: row[1:] for row in self.tables[index]}


class Page(HTMLParser):
    """Every <section id=…> of the page; content belongs to the innermost section."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.sections: dict[str, Section] = {}
        self._stack: list[str] = []
        self._text: list[str] | None = None
        self._into: str = ""
        self._card: dict[str, str] = {}
        self.feed(html)

    @property
    def _here(self) -> Section:
        return self.sections[self._stack[-1]]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        css = a.get("class") or ""
        if tag == "section":
            self._stack.append(str(a["id"]))
            self.sections[str(a["id"])] = Section()
        elif tag == "table":
            self._here.tables.append([])
        elif tag == "tr":
            self._here.tables[-1].append([])
        elif tag in ("td", "th") and self._here.tables and self._here.tables[-1]:
            self._start("cell")
        elif tag == "p" and css == "intro":
            self._start("intro")
        elif tag == "figcaption":
            self._start("caption")
        elif tag == "div" and css in ("card-value", "card-label"):
            self._start(css)
        elif tag == "img" and a.get("src", "").startswith("data:image/svg+xml;base64,"):
            encoded = str(a["src"]).split(",", 1)[1]
            self._here.images.append(base64.b64decode(encoded).decode())

    def _start(self, into: str) -> None:
        self._text, self._into = [], into

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._stack.pop()
            return
        if self._text is None:
            return
        ends = {"cell": ("td", "th"), "intro": ("p",), "caption": ("figcaption",)}
        if tag not in ends.get(self._into, ("div",)):
            return
        text = " ".join(" ".join(self._text).split())
        self._text = None
        if self._into == "cell":
            self._here.tables[-1][-1].append(text)
        elif self._into == "intro":
            self._here.intro = text
        elif self._into == "caption":
            self._here.captions.append(text)
        elif self._into == "card-value":
            self._card["value"] = text
        else:
            self._here.cards[text] = self._card.pop("value")


def number(text: str) -> int:
    """'1.706' → 1706."""
    assert re.fullmatch(r"\d{1,3}(\.\d{3})*", text), text
    return int(text.replace(".", ""))


def decimal(text: str) -> tuple[float, int]:
    """'12 %', '0,4 %', '3,1', '4,2 min.' → (value, decimals shown)."""
    bare = text.removesuffix(" %").removesuffix(" min.")
    assert re.fullmatch(r"\d+(,\d)?", bare), text
    return float(bare.replace(",", ".")), (1 if "," in bare else 0)


def close_to(text: str, value: float, slack: float = 0.0) -> bool:
    """The text is `value` rounded as shown (one decimal below 10, none from 10 on)."""
    shown, decimals = decimal(text)
    if decimals != (1 if 0 < round(value, 1) < 10 else 0):
        return False
    return math.isclose(shown, value, abs_tol=0.5 * 10**-decimals + slack + 1e-9)


def marks(svg: str, name: str) -> int:
    """How many cells a heatmap marks as hidden under `name` ("small" or "x")."""
    start = svg.find(f'<g id="hidden-{name}"')
    return 0 if start < 0 else svg[start : svg.index("</g>", start)].count("<use")
