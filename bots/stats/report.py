"""The quarterly report: one self-contained HTML file for coordinators and politicians.

The network first (the municipalities side by side, and which channels work across
them), then a chapter per municipality. Every number comes from the suppressed
publication; nothing in the page is fetched from anywhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from bots.stats import chapter, chapter_talks, charts, labels
from bots.stats.cube import ALL, cell
from bots.stats.figures import Publication
from bots.stats.html import CSS, count, esc, figure, per_100, section, share, table
from bots.stats.period import danish_date, week_label

# Nothing may be fetched: the page is read offline, mailed, archived.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def render(pub: Publication, kommuner: Sequence[str], generated: dt.datetime) -> str:
    """The page for `kommuner` (all of them gives the network part too)."""
    network = len(kommuner) > 1
    names = [pub.municipality(k).name for k in kommuner]
    parts = [_network(pub, kommuner)] if network else []
    for k in kommuner:
        parts.append(_chapter(pub, k))
    toc = "".join(
        f'<li><a href="#kommune-{esc(k)}">{esc(pub.municipality(k).name)}</a></li>'
        for k in kommuner
    )
    if network:
        toc = '<li><a href="#netvaerket">Hele netværket</a></li>' + toc
    period = pub.period
    return f"""<!doctype html>
<html lang="da">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>Ungechat – statistik for {esc(period.title())}</title>
<style>{CSS}</style>
</head>
<body>
<header class="top"><div>
<h1>Ungechat – statistik for {esc(period.title())}</h1>
<p>{esc(danish_date(period.start))} – {esc(danish_date(period.end))} · {esc(", ".join(names))}</p>
</div></header>
<main>
<div class="howto">
<p><strong>Sådan læser du tallene.</strong> Alle tal er optællinger af anonyme samtaler.
Vi gemmer ikke, hvad der blev skrevet, og intet tal kan føres tilbage til en ung.</p>
<p><strong>&lt;5</strong> betyder, at tallet er under 5. Det vises ikke, så ingen ung kan
genkendes. <strong>x</strong> betyder, at et tal er skjult, fordi man ellers kunne regne et
tal under 5 ud fra totalen. <strong>–</strong> står, hvor en procent ville afsløre et
skjult tal.</p>
<p>En samtale tælles i den kommune, hvis link den unge kom ind ad — også hvis den blev
overdraget til en anden kommune, og også hvis den unge kom, mens chatten var lukket, og
blev besvaret af en åben partnerkommune (så tæller den som besvaret).</p>
</div>
<nav class="toc"><ul>{toc}</ul></nav>
{"".join(parts)}
<footer>
<p>Samtaler, der startede fra {esc(danish_date(period.start))} til og med
{esc(danish_date(period.end))} (dansk tid). Besøg på ungesiden tælles én gang pr. besøg,
pr. dag og kanal — uden noget om den besøgende. Lavet af ungechat
{esc(danish_date(generated.date()))}. Tallene findes også som CSV og JSON.</p>
</footer>
</main>
</body>
</html>
"""


def _chapter(pub: Publication, k: str) -> str:
    m = pub.municipality(k)
    body = [
        chapter.key_numbers(pub, k),
        chapter.channels(pub, k),
        chapter.self_reported(pub, k),
        chapter.when(pub, k),
        chapter.weeks(pub, k),
        chapter_talks.topics(pub, k),
        chapter_talks.waiting(pub, k),
        chapter_talks.duration(pub, k),
        chapter_talks.feedback(pub, k),
        chapter_talks.other_questions(pub, k),
    ]
    return f'<section id="kommune-{esc(k)}"><h2>{esc(m.name)}</h2>{"".join(body)}</section>'


def _network(pub: Publication, kommuner: Sequence[str]) -> str:
    c = pub.cells
    rows = []
    for k in kommuner:
        started = cell("samtaler", k)
        rows.append(
            [
                esc(pub.municipality(k).name),
                count(c.shown(started)),
                count(c.shown(cell("sidevisninger", k))),
                per_100(c.share(started, cell("sidevisninger", k))),
                share(c.share(cell("med_raadgiver", k), started)),
                share(c.share(cell("uden_raadgiver", k), started)),
                esc(labels.minutes(pub.medians[("ventetid", k)])),
                esc(labels.minutes(pub.medians[("varighed", k)])),
                share(chapter.helped(pub, k)),
                count(c.shown(cell("bevaret", k))),
                count(c.shown(cell("haster", k))),
                esc(labels.minutes(pub.medians[("ventetid_haster", k)])),
            ]
        )
    started = cell("samtaler", ALL)
    rows.append(
        [
            esc("Hele netværket"),
            count(c.shown(started)),
            count(c.shown(cell("sidevisninger", ALL))),
            per_100(c.share(started, cell("sidevisninger", ALL))),
            "",
            "",
            esc(labels.minutes(pub.medians[("ventetid", ALL)])),
            esc(labels.minutes(pub.medians[("varighed", ALL)])),
            "",
            count(c.shown(cell("bevaret", ALL))),
            count(c.shown(cell("haster", ALL))),
            esc(labels.minutes(pub.medians[("ventetid_haster", ALL)])),
        ]
    )
    comparison = section(
        "sammenligning",
        "Kommunerne side om side",
        "Kommunerne har forskellige åbningstider og størrelser, så sammenlign helst andele "
        "og ventetider frem for antal. »Bevaret« er samtaler, en rådgiver bevarede efter "
        "slut på grund af underretningspligt. »Haster« er samtaler, hvor den unge svarede, at "
        "den var i fare, eller en rådgiver skrev !haster; de kommer først i køen.",
        table(
            [
                "Kommune",
                "Samtaler",
                "Besøg på siden",
                "Startede pr. 100 besøg",
                "Fik en rådgiver",
                "Gik uden svar",
                "Ventetid (median)",
                "Varighed (median)",
                "Fik hjælp (ja)",
                "Bevaret",
                "Haster",
                "Ventetid, haster (median)",
            ],
            rows,
            total_last=True,
            css="wide",
        ),
    )
    weeks = pub.period.weeks()
    series = [
        (pub.municipality(k).name, [c.shown(cell("samtaler", k, uge=w)) for w in weeks])
        for k in kommuner
    ]
    names = [week_label(w, pub.period).split(" (")[0] for w in weeks]
    weekly = section(
        "uger-alle",
        "Samtaler uge for uge i hver kommune",
        "En linje pr. kommune. Hvor ugens tal er skjult, mangler punktet: enten var der "
        "under 5 samtaler (<5), eller tallet er skjult, så et tal under 5 ikke kan regnes "
        "ud af totalen (x). Tallene står i kommunernes egne kapitler.",
        figure(charts.weekly(names, series), "Samtaler pr. uge pr. kommune", "Samtaler pr. uge."),
    )
    return (
        '<section id="netvaerket"><h2>Hele netværket</h2>'
        + comparison
        + _channels_side_by_side(pub, kommuner)
        + weekly
        + "</section>"
    )


def _channels_side_by_side(pub: Publication, kommuner: Sequence[str]) -> str:
    """Each channel in each municipality: started conversations and per 100 visits."""
    c = pub.cells
    kanals = list(dict.fromkeys(v for k in kommuner for v in pub.cats("kanal", k)))
    rows = []
    for kanal in kanals:
        row = [esc(labels.channel(kanal))]
        for k in kommuner:
            if kanal not in pub.cats("kanal", k):
                row.append("")
                continue
            started = cell("samtaler", k, kanal=kanal)
            rate = per_100(c.share(started, cell("sidevisninger", k, kanal=kanal)))
            row.append(f'{count(c.shown(started))}<br><small class="rate">{rate} pr. 100</small>')
        rows.append(row)
    return section(
        "kanaler-alle",
        "Hvilke kanaler virker hvor?",
        "For hver kanal: startede samtaler og, under dem, hvor mange besøg på ungesiden der "
        "blev til en samtale (startede pr. 100 besøg). En tom celle: kommunen bruger ikke "
        "kanalen. Det, der virker i én kommune, virker ikke nødvendigvis i en anden — men "
        "en kanal, der virker flere steder, er værd at prøve.",
        table(["Kanal", *(pub.municipality(k).name for k in kommuner)], rows, css="cross"),
    )
