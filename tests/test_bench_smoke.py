"""The benchmark harness (bench/, docs/performance.md), run as its smoke run: the one
documented command with `--quick`, so the harness cannot rot. It asserts that every
section produced its figures, never what they are: speed is measured by the harness
and reported, not a test's verdict on a machine shared with other work."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.synapse, pytest.mark.browser]

ROOT = Path(__file__).resolve().parent.parent


def test_the_quick_run_reports_every_section(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(out.read_text())
    s = result["sections"]
    assert set(s) == {"open", "relay", "throughput", "scale", "close", "page"}
    assert result["load_before"] and result["machine"]["cores"]

    # 1–2: open and both floors at each concurrency, with their ratios.
    levels = [c for c, f in s["open"].items() if isinstance(f, dict) and "open" in f]
    assert len(levels) >= 2
    for level in levels:
        figures = s["open"][level]
        for name in ("open", "floor", "floor_parallel"):
            assert figures[name]["n"] >= 1 and figures[name]["p50"] > 0
        assert figures["open/floor"]["p50"] > 0
    assert s["open"]["synapse_timings"], "Synapse's own timings were read from its log"
    # 3: relay both ways, against two plain clients.
    for key in ("youth_to_counsellor", "counsellor_to_youth", "direct_a_to_b", "direct_b_to_a"):
        assert s["relay"][key]["p50"] > 0
    assert s["relay"]["counsellor_to_youth/direct"]["p50"] > 0
    # 4: throughput and CPU per conversation, the bot's and Synapse's.
    assert s["throughput"]["conversations"] >= 1
    assert s["throughput"]["synapse_cpu_seconds_per_conversation"] > 0
    assert s["throughput"]["bot_cpu/synapse_cpu"] is not None
    # 5: memory, idle cost and open latency at each level of open conversations.
    assert len(s["scale"]["levels"]) >= 2
    for figures in s["scale"]["levels"].values():
        assert figures["bot_rss_mb"] > 0 and figures["open_ms"]["p50"] > 0
        assert figures["streams"] >= 1
    # 6: close, one at a time and a batch.
    assert s["close"]["luk_to_gone_ms"]["p50"] > 0 and s["close"]["purges_per_second"] > 0
    # 7: the youth page in Chromium.
    assert s["page"]["bytes"] > 0 and s["page"]["usable_ms"]["p50"] > 0
    # The table is printed, and the quick run leaves docs/performance.md alone.
    assert "Open against the floor" in run.stdout
    assert "docs/performance.md" not in run.stdout
