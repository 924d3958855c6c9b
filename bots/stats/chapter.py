"""The first half of a municipality's chapter of the report (or the network's, for
kommune "*"): its key numbers and channels — the question every municipality asks —
then when the young people come. The conversations themselves (what about, waiting,
duration, feedback) are chapter_talks.py; report.py puts the chapter together."""

from __future__ import annotations

from bots.config.model import UNKNOWN_CHANNEL
from bots.stats import charts, labels
from bots.stats.cube import ALL, Cell, cell
from bots.stats.figures import HEARD_FROM, NO_FEEDBACK, Publication
from bots.stats.html import cards, count, esc, figure, per_100, section, share, table
from bots.stats.period import week_label
from bots.stats.suppression import SMALL


def key_numbers(pub: Publication, k: str) -> str:
    c = pub.cells
    started, answered = cell("samtaler", k), cell("med_raadgiver", k)
    missed, views = cell("uden_raadgiver", k), cell("sidevisninger", k)
    return cards(
        [
            ("Samtaler", count(c.shown(started)), "startede i perioden"),
            ("Besøg på ungesiden", count(c.shown(views)), "gange siden blev åbnet"),
            ("Fik en rådgiver", _card_share(pub, answered, started), "af samtalerne"),
            ("Gik uden svar", _card_share(pub, missed, started), "gik, før en rådgiver kom"),
            (
                "Ventetid",
                esc(labels.minutes(pub.medians[("ventetid", k)])),
                "halvdelen ventede kortere (median)",
            ),
            ("Fik hjælp", _or_hidden(share(helped(pub, k))), "svarede ja til »Fik du hjælp?«"),
        ]
    )


def _card_share(pub: Publication, part: Cell, whole: Cell) -> str:
    value = pub.cells.share(part, whole)
    if value is not None:
        return share(value)
    if pub.cells.shown(part) == SMALL:
        return '<span class="hid">under 5</span>'
    return _or_hidden(share(None))


def _or_hidden(rendered: str) -> str:
    return rendered if "–" not in rendered else '<span class="hid">skjult</span>'


def helped(pub: Publication, k: str) -> float | None:
    """Share of 'yes' among those who answered 'Fik du hjælp?' (published numbers only)."""
    c = pub.cells
    yes = c.count(cell("samtaler", k, feedback="ja"))
    total = c.count(cell("samtaler", k))
    silent = c.count(cell("samtaler", k, feedback=NO_FEEDBACK))
    if yes is None or total is None or silent is None or total == silent:
        return None
    return 100.0 * yes / (total - silent)


def channels(pub: Publication, k: str) -> str:
    c = pub.cells
    kanals = pub.cats("kanal", k)
    rows = []
    for kanal in [*kanals, ALL]:
        started = cell("samtaler", k, kanal=kanal)
        rows.append(
            [
                esc("I alt" if kanal == ALL else labels.channel(kanal)),
                count(c.shown(cell("sidevisninger", k, kanal=kanal))),
                count(c.shown(started)),
                per_100(c.share(started, cell("sidevisninger", k, kanal=kanal))),
                count(c.shown(cell("med_raadgiver", k, kanal=kanal))),
                share(c.share(started, cell("samtaler", k))),
            ]
        )
    chart = charts.hbars(
        [labels.channel(kanal) for kanal in kanals],
        [
            ("Startede samtaler", [c.shown(cell("samtaler", k, kanal=v)) for v in kanals]),
            ("Fik en rådgiver", [c.shown(cell("med_raadgiver", k, kanal=v)) for v in kanals]),
        ],
        xlabel="Samtaler",
    )
    return section(
        f"kanaler-{k}",
        "Hvilke kanaler bringer de unge til chatten?",
        "Hvert link, opslag, plakat og kort har sit eget mærke (?kanal=…). Tragten viser for "
        "hver kanal, hvor mange der åbnede ungesiden, hvor mange der startede en samtale, og "
        "hvor mange der fik en rådgiver. »Startede pr. 100 besøg« fortæller, hvor godt kanalen "
        "omsætter opmærksomhed til samtaler: en kanal med få besøg kan være den, der virker."
        + best_channels(pub, k),
        table(
            [
                "Kanal",
                "Besøg på siden",
                "Startede samtaler",
                "Startede pr. 100 besøg",
                "Fik en rådgiver",
                "Andel af samtalerne",
            ],
            rows,
            total_last=True,
        ),
        figure(chart, "Samtaler pr. kanal", "Startede samtaler og besvarede samtaler pr. kanal."),
    )


def best_channels(pub: Publication, k: str) -> str:
    """The answer in one sentence, from published numbers only; channels with under 50
    visits are left out of the rate, where chance weighs too much."""
    c = pub.cells
    named = [v for v in pub.cats("kanal", k) if v != UNKNOWN_CHANNEL]
    started = {v: n for v in named if (n := c.count(cell("samtaler", k, kanal=v)))}
    rates = {
        v: rate
        for v in started
        if (c.count(cell("sidevisninger", k, kanal=v)) or 0) >= 50
        and (rate := c.share(cell("samtaler", k, kanal=v), cell("sidevisninger", k, kanal=v)))
    }
    text = ""
    if started:
        most = max(started, key=lambda v: started[v])
        text += f" Flest samtaler kom via {labels.channel(most)} ({labels.number(started[most])})."
    if rates:
        best = max(rates, key=lambda v: rates[v])
        per = labels.percent(rates[best]).removesuffix(" %")
        text += f" Flest samtaler pr. besøg gav {labels.channel(best)}: {per} pr. 100 besøg."
    return text


def self_reported(pub: Publication, k: str) -> str:
    dim = f"svar:{HEARD_FROM}"
    if k == ALL or not pub.cats(dim, k):
        return ""
    m = pub.municipality(k)
    c = pub.cells
    kanals = pub.cats("kanal", k)
    rows = []
    for option in [*pub.cats(dim, k), ALL]:
        row = [esc("I alt" if option == ALL else labels.option(m, HEARD_FROM, option))]
        for kanal in [*kanals, ALL]:
            row.append(count(c.shown(cell("samtaler", k, kanal=kanal, **{dim: option}))))
        rows.append(row)
    headers = ["Svar ↓ / link →", *(labels.channel(v) for v in kanals), "I alt"]
    return section(
        f"selv-{k}",
        "Linket og det, de unge selv svarer",
        f"Kolonnerne er det link, den unge kom ind ad; rækkerne er svaret på »"
        f"{labels.question(m, HEARD_FROM)}«. Når linket og svaret peger samme vej, er kanalen "
        "sikker. Kom mange ind via Facebook-linket, men svarer »En ven«, er det måske vennen, "
        "der delte opslaget — begge dele har virket.",
        table(headers, rows, total_last=True, css="cross"),
    )


def when(pub: Publication, k: str) -> str:
    if k == ALL:
        return ""
    m = pub.municipality(k)
    c = pub.cells
    grid = [[c.shown(cell("samtaler", k, tid=f"{d}-{h}")) for h in range(24)] for d in range(7)]
    opening = [
        (day, iv.start.hour + iv.start.minute / 60, iv.end_minutes / 60)
        for day, intervals in enumerate(m.opening_hours.weekly)
        for iv in intervals
    ]
    busiest = sorted(
        ((v, d, h) for d, row in enumerate(grid) for h, v in enumerate(row) if isinstance(v, int)),
        reverse=True,
    )[:3]
    names = ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag")
    top = ", ".join(f"{names[d]} kl. {h}–{h + 1} ({labels.number(v)})" for v, d, h in busiest)
    hours = (
        "Chatten er døgnåben."
        if m.opening_hours.always_open
        else "Den orange ramme er den faste åbningstid. De få samtaler uden for den er fra "
        "dage med særlige åbningstider, eller unge, der kom, mens chatten var lukket, og "
        "fik en åben partnerkommunes chat."
    )
    text = (
        f"Hvornår startede de unge deres samtaler? Jo mørkere felt, jo flere. {hours} "
        "Læg gerne annoncerne lige før de travle timer — de unge skriver, når de ser dem."
    )
    if top:
        text += f" De travleste timer: {top}."
    return section(
        f"hvornaar-{k}",
        "Hvornår kommer de unge?",
        text,
        figure(
            charts.heatmap(grid, opening, m.opening_hours.always_open),
            "Ugedag og time",
            "Samtaler efter ugedag og klokkeslæt. <5: under 5 samtaler; x: skjult, så et tal "
            "under 5 ikke kan regnes ud af totalen.",
        ),
    )


def weeks(pub: Publication, k: str) -> str:
    keys = pub.period.weeks()
    values = [pub.cells.shown(cell("samtaler", k, uge=w)) for w in keys]
    names = [week_label(w, pub.period).split(" (")[0] for w in keys]
    return section(
        f"uger-{k}",
        "Samtaler uge for uge",
        "Antal samtaler, der startede i hver uge. Ferieuger og kampagner kan ses her. "
        "Første og sidste uge kan være delvise.",
        figure(
            charts.weekly(names, [("Samtaler", values)]), "Samtaler pr. uge", "Samtaler pr. uge."
        ),
    )
