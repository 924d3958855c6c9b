"""The conversations themselves, in a municipality's chapter: topics, waiting and what
became of the conversations, their duration, the young people's feedback, and the
answers to the other questions."""

from __future__ import annotations

from bots.stats import charts, labels
from bots.stats.cube import ALL, cell
from bots.stats.figures import HEARD_FROM, NO_FEEDBACK, Publication
from bots.stats.html import count, esc, figure, section, share, table


def topics(pub: Publication, k: str) -> str:
    c = pub.cells
    found = [(e, c.shown(cell("emne", k, emne=e))) for e in pub.cats("emne", k)]
    shown = sorted((x for x in found if isinstance(x[1], int)), key=lambda x: -int(x[1]))
    ordered = shown + [x for x in found if not isinstance(x[1], int)]
    base = cell("med_raadgiver", k)
    notes = [labels.percent(c.share(cell("emne", k, emne=e), base)) for e, _ in ordered]
    chart = charts.hbars(
        [labels.topic(e) for e, _ in ordered],
        [("Samtaler", [v for _, v in ordered])],
        xlabel="Samtaler med emnet",
        notes=notes,
    )
    return section(
        f"emner-{k}",
        "Hvad taler de unge om?",
        "Rådgiveren sætter et eller flere emner på samtalen, når den lukkes. Kun samtaler, "
        "hvor en rådgiver svarede, er talt med. Procenten er andelen af de besvarede "
        "samtaler; én samtale kan have flere emner, så de giver tilsammen mere end 100.",
        figure(chart, "Emner", "Samtaler pr. emne, og andelen af de besvarede samtaler."),
    )


def waiting(pub: Publication, k: str) -> str:
    c = pub.cells
    started = cell("samtaler", k)
    rows = [
        [
            esc(name),
            count(c.shown(cell("samtaler", k, udfald=o))),
            share(c.share(cell("samtaler", k, udfald=o), started)),
        ]
        for o, name in labels.OUTCOMES.items()
    ]
    rows.append([esc("I alt"), count(c.shown(started)), share(c.share(started, started))])
    waits = list(labels.WAIT)
    chart = charts.hbars(
        list(labels.WAIT.values()),
        [("Samtaler", [c.shown(cell("med_raadgiver", k, ventetid=w)) for w in waits])],
        xlabel="Besvarede samtaler",
    )
    median = labels.minutes(pub.medians[("ventetid", k)])
    return section(
        f"ventetid-{k}",
        "Ventetid, og hvem der gik uden svar",
        "Hvad blev der af samtalerne? »Gik, før en rådgiver kom« er unge, der gav op i køen; "
        "de er dem, flere rådgivere på vagt i de travle timer kan nå. »Ikke besvaret« er "
        f"samtaler, hvor ingen rådgiver kom, før chatten lukkede. Median ventetid: {median}",
        table(["Hvad skete der", "Samtaler", "Andel"], rows, total_last=True),
        figure(
            chart, "Ventetid", "Hvor længe de unge ventede på en rådgiver (besvarede samtaler)."
        ),
    )


def duration(pub: Publication, k: str) -> str:
    c = pub.cells
    chart = charts.hbars(
        list(labels.DURATION.values()),
        [("Samtaler", [c.shown(cell("med_raadgiver", k, varighed=d)) for d in labels.DURATION])],
        xlabel="Besvarede samtaler",
    )
    median = labels.minutes(pub.medians[("varighed", k)])
    return section(
        f"varighed-{k}",
        "Hvor lange er samtalerne?",
        f"Fra rådgiveren kom, til samtalen sluttede. Median: {median}",
        figure(chart, "Varighed", "Samtalernes længde (besvarede samtaler)."),
    )


def feedback(pub: Publication, k: str) -> str:
    c = pub.cells
    total, silent = c.count(cell("samtaler", k)), c.count(cell("samtaler", k, feedback=NO_FEEDBACK))
    answered = total - silent if total is not None and silent is not None else None
    rows = []
    for f, name in labels.FEEDBACK.items():
        n = c.shown(cell("samtaler", k, feedback=f))
        of_answers = (
            100.0 * n / answered if isinstance(n, int) and answered and f != NO_FEEDBACK else None
        )
        rows.append([esc(name), count(n), "" if f == NO_FEEDBACK else share(of_answers)])
    return section(
        f"hjaelp-{k}",
        "Fik du hjælp?",
        "Efter samtalen kan den unge svare med ét tryk. Svaret er anonymt og kan ikke føres "
        "tilbage til samtalen. Procenten er af dem, der svarede.",
        table(["Svar", "Samtaler", "Andel af svarene"], rows),
    )


def other_questions(pub: Publication, k: str) -> str:
    if k == ALL:
        return ""
    m = pub.municipality(k)
    c = pub.cells
    parts = []
    for q in m.questions:
        if q.id == HEARD_FROM:
            continue
        dim = f"svar:{q.id}"
        rows = [
            [
                esc(labels.option(m, q.id, o)),
                count(c.shown(cell("samtaler", k, **{dim: o}))),
                share(c.share(cell("samtaler", k, **{dim: o}), cell("samtaler", k))),
            ]
            for o in pub.cats(dim, k)
        ]
        parts.append(table([q.text.da, "Samtaler", "Andel"], rows))
    if not parts:
        return ""
    return section(
        f"svar-{k}",
        "De unges svar på de andre spørgsmål",
        "Spørgsmålene før chatten kan altid springes over.",
        *parts,
    )
