"""The report's charts, drawn with matplotlib (Agg, no pyplot state) as SVG images
embedded in the page as data URIs, so the report is one self-contained file.

Charts only ever get published values: a hidden number is written as "<5" or "skjult"
where its bar would be, never drawn at a guessed height.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib import colormaps, rc_context
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from bots.stats.labels import WEEKDAYS_SHORT, number
from bots.stats.suppression import HIDDEN, SMALL

BLUE = "#1d5b8c"
LIGHT_BLUE = "#8fb8da"
ORANGE = "#d1603d"
GREY = "#8a8a8a"
PALE = "#ececec"
INK = "#222222"
SERIES = ("#1d5b8c", "#d1603d", "#3a9d7a", "#8e5ea2", "#c9a227", "#5c6b73")
STYLE: Any = {
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#bbbbbb",
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "svg.fonttype": "path",
    "svg.hashsalt": "ungechat",
}
Value = int | str


def to_data_uri(fig: Figure) -> str:
    buffer = io.StringIO()
    with rc_context(STYLE):
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    encoded = base64.b64encode(buffer.getvalue().encode()).decode()
    return f"data:image/svg+xml;base64,{encoded}"


def _hidden_text(value: Value) -> str:
    return "<5" if value == SMALL else "skjult"


def hbars(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[Value]]],
    *,
    xlabel: str,
    width: float = 7.5,
    notes: Sequence[str] | None = None,
) -> str | None:
    """Horizontal bars, one group per label, first label on top; `notes` are written
    after the number of the first series (e.g. a share). None when nothing may be shown."""
    if not any(isinstance(v, int) for _, values in series for v in values):
        return None
    with rc_context(STYLE):
        height = 0.9 + 0.32 * len(labels) * max(1, len(series))
        fig = Figure(figsize=(width, height))
        ax = fig.add_subplot()
        n = len(series)
        bar = 0.8 / n
        top = max([v for _, vs in series for v in vs if isinstance(v, int)] or [1])
        for s, (name, values) in enumerate(series):
            color = (BLUE, LIGHT_BLUE, ORANGE)[s % 3]
            for i, value in enumerate(values):
                y = len(labels) - 1 - i + (n - 1 - 2 * s) * bar / 2
                if isinstance(value, int):
                    ax.barh(y, value, height=bar * 0.9, color=color, label=name if i == 0 else None)
                    note = f" · {notes[i]}" if notes and s == 0 and notes[i] != "–" else ""
                    ax.text(value + top * 0.01, y, number(value) + note, va="center", fontsize=8.5)
                else:
                    if i == 0:
                        ax.barh(y, 0, height=bar * 0.9, color=color, label=name)
                    ax.text(
                        top * 0.01, y, _hidden_text(value), va="center", fontsize=8.5, color=GREY
                    )
        ax.set_yticks(range(len(labels)), list(reversed(labels)))
        ax.set_xlim(0, top * (1.25 if notes else 1.15))
        ax.set_xlabel(xlabel)
        ax.tick_params(axis="y", length=0)
        ax.grid(axis="x", color=PALE)
        ax.set_axisbelow(True)
        if n > 1:
            ax.legend(frameon=False, loc="lower right")
    return to_data_uri(fig)


def weekly(weeks: Sequence[str], series: Sequence[tuple[str, Sequence[Value]]]) -> str | None:
    """Conversations per week: a line per municipality; a hidden week ("<5" or "x")
    leaves a gap (marked under the line when there is one line)."""
    if not any(isinstance(v, int) for _, values in series for v in values):
        return None
    with rc_context(STYLE):
        fig = Figure(figsize=(8.5, 3.2))
        ax = fig.add_subplot()
        x = list(range(len(weeks)))
        for s, (name, values) in enumerate(series):
            color = SERIES[s % len(SERIES)]
            ys = [v if isinstance(v, int) else None for v in values]
            ax.plot(
                x,
                [float("nan") if y is None else y for y in ys],
                marker="o",
                ms=4,
                color=color,
                label=name,
                lw=2,
            )
            for xi, v in zip(x, values, strict=True):
                if len(series) == 1 and not isinstance(v, int):
                    ax.annotate(
                        _hidden_text(v),
                        (xi, 0),
                        textcoords="offset points",
                        xytext=(0, 3),
                        ha="center",
                        fontsize=7,
                        color=color,
                    )
        ax.set_xticks(x, weeks, rotation=0, fontsize=8)
        ax.set_ylim(bottom=0)
        ax.set_ylabel("Samtaler")
        ax.grid(axis="y", color=PALE)
        ax.set_axisbelow(True)
        if len(series) > 1:
            ax.legend(
                frameon=False,
                ncols=min(4, len(series)),
                loc="upper left",
                bbox_to_anchor=(0, -0.12),
            )
    return to_data_uri(fig)


def heatmap(
    cells: Sequence[Sequence[Value]],
    opening: Sequence[tuple[int, float, float]],
    always_open: bool,
) -> str:
    """Weekday × hour. Shade = conversations started, hidden cells pale and marked "<5"
    or "x"; an orange frame = the weekly opening hours."""
    with rc_context(STYLE):
        fig = Figure(figsize=(9.0, 3.4))
        ax = fig.add_subplot()
        shown = [v for row in cells for v in row if isinstance(v, int)]
        norm = Normalize(vmin=0, vmax=max(shown or [5]))
        cmap = colormaps["Blues"]
        hidden: dict[str, list[tuple[float, float]]] = {SMALL: [], HIDDEN: []}
        for day, row in enumerate(cells):
            for hour, value in enumerate(row):
                if isinstance(value, int):
                    color = cmap(0.15 + 0.85 * norm(value))
                    ax.add_patch(Rectangle((hour, day), 1, 1, color=color, ec="white", lw=0.8))
                    light = norm(value) > 0.55
                    ax.text(
                        hour + 0.5,
                        day + 0.52,
                        number(value),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if light else INK,
                    )
                else:
                    ax.add_patch(Rectangle((hour, day), 1, 1, color=PALE, ec="white", lw=0.8))
                    hidden[str(value)].append((hour + 0.5, day + 0.5))
        # Hidden cells are marked as the tables mark them; one marker collection each,
        # as a text per cell would make 168 of them.
        marks = (
            (SMALL, "small", r"$\mathregular{<\!\!5}$", 60),
            (HIDDEN, "x", r"$\mathregular{x}$", 26),
        )
        for value, name, marker, size in marks:
            if hidden[value]:
                xs, ys = zip(*hidden[value], strict=True)
                ax.scatter(
                    xs,
                    ys,
                    marker=marker,
                    s=size,
                    c=GREY,
                    linewidths=0,
                    zorder=2,
                    gid=f"hidden-{name}",
                )
        if not always_open:
            for day, start, end in opening:
                ax.add_patch(
                    Rectangle((start, day), end - start, 1, fill=False, ec=ORANGE, lw=2.2, zorder=3)
                )
        ax.set_xlim(0, 24)
        ax.set_ylim(7, 0)
        ax.set_xticks([h + 0.5 for h in range(24)], [f"{h:02d}" for h in range(24)], fontsize=8)
        ax.set_yticks([d + 0.5 for d in range(7)], WEEKDAYS_SHORT)
        ax.tick_params(length=0)
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
        ax.set_xlabel("Klokkeslæt (samtalen startede i timen)")
    return to_data_uri(fig)
