"""Small HTML building blocks for the report: escaped text, number cells, tables, cards."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from bots.stats.labels import number, percent
from bots.stats.suppression import HIDDEN, SMALL

SMALL_TITLE = "Under 5: vises ikke, så ingen kan genkendes"
HIDDEN_TITLE = "Skjult, så et tal under 5 ikke kan regnes ud af totalen"


def esc(text: object) -> str:
    return escape(str(text))


def count(value: int | str | None) -> str:
    """A count as a table cell's content: '1.706', or a marked '<5' / 'x'."""
    if value == SMALL:
        return f'<span class="hid" title="{SMALL_TITLE}">&lt;5</span>'
    if value == HIDDEN:
        return f'<span class="hid" title="{HIDDEN_TITLE}">x</span>'
    return esc(number(value))


def share(value: float | None) -> str:
    if value is None:
        return '<span class="hid" title="Kan ikke vises uden at afsløre et skjult tal">–</span>'
    return esc(percent(value))


def per_100(value: float | None) -> str:
    """A percentage written as 'per 100' (for "Startede pr. 100 besøg")."""
    return share(value).removesuffix(" %")


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    caption: str | None = None,
    total_last: bool = False,
    css: str = "",
) -> str:
    """Rows of already rendered cells; the first column is a label, the rest numbers."""
    head = "".join(
        f'<th scope="col"{" class=n" if i else ""}>{esc(h)}</th>' for i, h in enumerate(headers)
    )
    body = []
    for r, row in enumerate(rows):
        cls = ' class="total"' if total_last and r == len(rows) - 1 else ""
        cells = "".join(
            f'<th scope="row">{c}</th>' if i == 0 else f'<td class="n">{c}</td>'
            for i, c in enumerate(row)
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return (
        f'<div class="table-wrap"><table class="{css}">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def cards(items: Sequence[tuple[str, str, str]]) -> str:
    """Key numbers: (label, rendered value, small explanation)."""
    out = "".join(
        f'<div class="card"><div class="card-value">{value}</div>'
        f'<div class="card-label">{esc(label)}</div>'
        f'<div class="card-note">{esc(note)}</div></div>'
        for label, value, note in items
    )
    return f'<div class="cards">{out}</div>'


def figure(uri: str | None, alt: str, caption: str) -> str:
    if uri is None:
        return '<p class="note">Tallene er for små til at kunne vises som figur.</p>'
    return (
        f'<figure><img src="{uri}" alt="{esc(alt)}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def section(anchor: str, title: str, intro: str, *content: str, level: int = 3) -> str:
    return (
        f'<section id="{esc(anchor)}"><h{level}>{esc(title)}</h{level}>'
        f'<p class="intro">{esc(intro)}</p>{"".join(content)}</section>'
    )


CSS = """
:root { --ink:#222; --muted:#5f6368; --blue:#1d5b8c; --line:#dde3ea; --pale:#f4f7fa; }
* { box-sizing: border-box; }
body { margin:0; font-family:"DejaVu Sans","Segoe UI",Arial,sans-serif; color:var(--ink);
  background:#fff; line-height:1.5; font-size:15px; }
main { max-width: 980px; margin: 0 auto; padding: 28px 24px 60px; }
header.top { background: var(--blue); color: #fff; padding: 28px 24px; }
header.top div { max-width: 980px; margin: 0 auto; }
header.top h1 { margin: 0 0 4px; font-size: 26px; }
header.top p { margin: 0; opacity: .9; }
h2 { font-size: 22px; color: var(--blue); border-bottom: 2px solid var(--blue);
  padding-bottom: 4px; margin-top: 48px; }
h3 { font-size: 17px; margin: 32px 0 4px; }
p.intro { color: var(--muted); margin: 0 0 12px; max-width: 760px; }
.howto { background: var(--pale); border-left: 4px solid var(--blue); padding: 12px 16px;
  margin: 16px 0 8px; }
.howto p { margin: 4px 0; }
nav.toc ul { columns: 2; padding-left: 18px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr));
  gap: 12px; margin: 12px 0 8px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card-value { font-size: 24px; font-weight: bold; color: var(--blue); }
.card-label { font-weight: bold; }
.card-note { color: var(--muted); font-size: 13px; }
.table-wrap { overflow-x: auto; margin: 8px 0 16px; }
table { border-collapse: collapse; font-size: 14px; min-width: 50%; }
caption { text-align: left; color: var(--muted); padding-bottom: 4px; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left; }
thead th { border-bottom: 2px solid var(--ink); vertical-align: bottom; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tbody th { font-weight: normal; }
tr.total th, tr.total td { font-weight: bold; border-top: 2px solid var(--ink); }
table.cross { font-size: 13px; }
table.cross th, table.cross td { padding: 4px 6px; }
table.cross tbody th { white-space: normal; min-width: 130px; }
table.cross thead th:last-child { white-space: nowrap; }
table.wide { font-size: 13px; }
table.wide th, table.wide td { padding: 4px 6px; }
p.note { color: var(--muted); font-style: italic; }
small.rate { color: var(--muted); font-size: 12px; }
.hid { color: #8a8a8a; font-style: italic; cursor: help; }
figure { margin: 8px 0 20px; }
figure img { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 13px; }
footer { margin-top: 48px; color: var(--muted); font-size: 13px; border-top: 1px solid var(--line);
  padding-top: 12px; }
@media print { header.top { background: none; color: var(--ink); } h2 { break-before: page; } }
"""
