"""The benchmark's figures as a table (printed) and as a section of docs/performance.md
(between the BEGIN and END markers; the prose around them is written by people)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

BEGIN = "<!-- bench:figures:begin (written by `python -m bench`) -->"
END = "<!-- bench:figures:end -->"


def _p(figures: dict[str, Any], key: str = "p50") -> str:
    value = figures.get(key)
    return "–" if value is None else f"{value:g}"


def rows(result: dict[str, Any]) -> list[tuple[str, list[list[str]]]]:
    """(heading, table rows; the first row is the header) for each section present."""
    out: list[tuple[str, list[list[str]]]] = []
    s = result["sections"]
    if "open" in s:
        t = [
            [
                "concurrency",
                "open p50/p95/p99 ms",
                "floor p50/p95/p99 ms",
                "open÷floor p50/p95",
                "parallel floor p50/p95 ms",
                "open÷parallel p50/p95",
            ]
        ]
        for c, f in s["open"].items():
            if not isinstance(f, dict) or "open" not in f:
                continue
            o, fl, fp = f["open"], f["floor"], f["floor_parallel"]
            t.append(
                [
                    c,
                    f"{_p(o)} / {_p(o, 'p95')} / {_p(o, 'p99')}",
                    f"{_p(fl)} / {_p(fl, 'p95')} / {_p(fl, 'p99')}",
                    f"{_p(f['open/floor'])} / {_p(f['open/floor'], 'p95')}",
                    f"{_p(fp)} / {_p(fp, 'p95')}",
                    f"{_p(f['open/floor_parallel'])} / {_p(f['open/floor_parallel'], 'p95')}",
                ]
            )
        out.append(("1–2. Open against the floor", t))
    if "relay" in s:
        r = s["relay"]
        t = [["direction", "via the bot p50/p95 ms", "direct p50/p95 ms", "ratio p50/p95"]]
        for name, direct, ratio in (
            ("youth → counsellor", "direct_a_to_b", "youth_to_counsellor/direct"),
            ("counsellor → youth", "direct_b_to_a", "counsellor_to_youth/direct"),
        ):
            key = "youth_to_counsellor" if name.startswith("youth") else "counsellor_to_youth"
            t.append(
                [
                    name,
                    f"{_p(r[key])} / {_p(r[key], 'p95')}",
                    f"{_p(r[direct])} / {_p(r[direct], 'p95')}",
                    f"{_p(r[ratio])} / {_p(r[ratio], 'p95')}",
                ]
            )
        out.append(("3. Relay", t))
    if "throughput" in s:
        th = s["throughput"]
        t = [["figure", "value"]] + [[k, f"{v}"] for k, v in th.items()]
        out.append(("4. Throughput and CPU", t))
    if "scale" in s:
        sc = s["scale"]
        t = [
            [
                "open conversations (streams)",
                "bot RSS MB",
                "idle bot CPU %",
                "idle Synapse CPU %",
                "open p50 ms",
                "÷ at first level",
                "connect s",
            ]
        ]
        for level, f in sc["levels"].items():
            t.append(
                [
                    level,
                    f"{f['bot_rss_mb']}",
                    f"{f['idle_bot_cpu_percent']}",
                    f"{f['idle_synapse_cpu_percent']}",
                    _p(f["open_ms"]),
                    f"{f.get('open_p50/at_first_level', '–')}",
                    f"{f['seconds_to_connect_new_streams']}",
                ]
            )
        out.append((f"5. Scale ({sc['real_rooms']} real rooms behind the population)", t))
    if "close" in s:
        c = s["close"]
        t = [
            ["figure", "value"],
            [
                "!luk → room gone p50/p95 ms",
                f"{_p(c['luk_to_gone_ms'])} / {_p(c['luk_to_gone_ms'], 'p95')}",
            ],
            [f"{c['batch']} closed at once: seconds", f"{c['batch_seconds']}"],
            ["purges per second", f"{c['purges_per_second']}"],
        ]
        out.append(("6. Close", t))
    if "page" in s:
        pg = s["page"]
        t = [
            ["figure", "value"],
            ["bytes transferred (cold load)", f"{pg['bytes']}"],
            ["requests", f"{pg['requests']}"],
            ["usable p50 ms", _p(pg["usable_ms"])],
        ]
        out.append(("7. Youth page", t))
    return out


def table(result: dict[str, Any]) -> str:
    lines = [
        f"ungechat bench ({result['mode']}, {result['database']}) {result['started']}",
        f"load before: {result['load_before']}",
        f"load after: {result['load_after']}",
    ]
    for heading, t in rows(result):
        widths = [max(len(r[i]) for r in t) for i in range(len(t[0]))]
        lines += ["", heading]
        for r in t:
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)))
    lines.append(f"\nseconds: {result['seconds']}")
    return "\n".join(lines)


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"Run `{result['mode']}` on {result['database']}, {result['started']}"
        + (f" ({result['label']})" if result.get("label") else "")
        + f": {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, Python {m['python']},"
        f" Synapse {m['synapse']}; {result['seconds'].get('total')} s in all.",
        "",
        f"Load before: `{result['load_before']}`; after: `{result['load_after']}`.",
    ]
    for heading, t in rows(result):
        lines += ["", f"**{heading}**", ""]
        lines.append("| " + " | ".join(t[0]) + " |")
        lines.append("|" + "---|" * len(t[0]))
        lines += ["| " + " | ".join(r) + " |" for r in t[1:]]
    return "\n".join(lines)


def write_docs(path: Path, result: dict[str, Any]) -> None:
    text = (
        path.read_text(encoding="utf-8") if path.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    )
    if BEGIN not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{markdown(result)}\n{END}{tail}", encoding="utf-8")
