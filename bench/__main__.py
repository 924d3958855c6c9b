"""`python -m bench [--quick | --full] [--postgres URL] [--only SECTION,...]`

Starts the stack (bench/stack.py), runs the sections (bench/sections.py), prints a table
and writes the JSON to bench/results/ (`--out` elsewhere). The default run also writes
its figures into docs/performance.md between the harness's markers (`--no-docs` not).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.report import table, write_docs
from bench.sections import SECTIONS, Bench, Settings, now_iso
from bench.stack import running_stack
from bots.db.engine import make_engine

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def machine() -> dict[str, Any]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    try:
        import synapse

        synapse_version = synapse.__version__
    except ImportError:  # pragma: no cover - the synapse extra is installed
        synapse_version = "?"
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "synapse": synapse_version,
    }


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    mode = "quick" if args.quick else "full" if args.full else "default"
    settings = Settings.for_mode(mode)
    wanted = args.only.split(",") if args.only else list(SECTIONS)
    unknown = set(wanted) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown sections: {', '.join(sorted(unknown))}")
    result: dict[str, Any] = {
        "mode": mode,
        "database": "postgresql" if args.postgres else "sqlite",
        "started": now_iso(),
        "machine": machine(),
        "load_before": load(),
        "label": args.label,
        "sections": {},
        "seconds": {},
    }
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ungechat-bench-") as tmp_dir:
        tmp = args.state_dir or tmp_dir
        profile = RESULTS / "bot.prof" if args.profile else None
        async with running_stack(Path(tmp), args.postgres, profile) as stack:
            result["seconds"]["stack"] = round(time.monotonic() - began, 1)
            print(f"-- stack up in {result['seconds']['stack']} s", file=sys.stderr, flush=True)
            engine = make_engine(stack.bot_database)
            bench = Bench(stack, engine, settings)
            try:
                for name in wanted:
                    t0 = time.monotonic()
                    print(f"-- {name} …", file=sys.stderr, flush=True)
                    result["sections"][name] = await SECTIONS[name](bench)
                    result["seconds"][name] = round(time.monotonic() - t0, 1)
                    print(f"   {result['seconds'][name]} s", file=sys.stderr, flush=True)
            finally:
                await bench.close()
                await engine.dispose()
    result["seconds"]["total"] = round(time.monotonic() - began, 1)
    result["load_after"] = load()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="the smoke run: small, < 1 minute")
    size.add_argument("--full", action="store_true", help="also 5,000 open conversations")
    parser.add_argument("--postgres", metavar="URL", help="Synapse and the bot on PostgreSQL")
    parser.add_argument("--only", metavar="SECTIONS", help=f"some of: {','.join(SECTIONS)}")
    parser.add_argument("--out", type=Path, help="where the JSON goes (default bench/results/)")
    parser.add_argument(
        "--profile", action="store_true", help="the bot under cProfile (bench/results/bot.prof)"
    )
    parser.add_argument(
        "--state-dir", type=Path, help="keep Synapse's and the bot's files here (a new directory)"
    )
    parser.add_argument("--label", default="", help="a note kept with the figures")
    parser.add_argument("--no-docs", action="store_true", help="don't write docs/performance.md")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    out = args.out or RESULTS / f"{result['mode']}-{result['started'].replace(':', '')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(table(result))
    print(f"\nJSON: {out}")
    if result["mode"] != "quick" and not args.no_docs and not args.only:
        write_docs(ROOT / "docs" / "performance.md", result)
        print("figures written to docs/performance.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
