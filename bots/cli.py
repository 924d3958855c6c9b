"""The `ungechat` command."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from bots.config.load import ConfigError, load_config
from bots.config.model import Config
from bots.logs import configure_logging

DESCRIPTION = """\
ungechat: anonymous chat counselling for young people, run by municipalities on Matrix.

  up               run everything locally (Synapse, bot, youth page, demo municipalities);
                   --scale: on PostgreSQL, Redis, Synapse workers, replicas and nginx
  run              run the bot and youth intake for a config file
  init             write a starting config for one municipality
  provision        show (plan) or carry out (apply) what a config needs on its homeservers
  links            the tagged youth links, QR codes, posters, cards and embed snippet
  db upgrade       bring the bot's database to the newest schema
  check-config     validate a config file without starting anything
  stats            the quarterly report (HTML) and its figures (CSV, JSON)
"""


def _load(path: Path) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"{path}: invalid config, nothing was started or changed:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def _until_signal(main: Callable[[asyncio.Event], Awaitable[None]]) -> int:
    """Run `main(stop)`; Ctrl-C or SIGTERM sets `stop` so everything shuts down in order."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("synapse") is None:
        # The homeserver is an extra: say how to get it rather than fail on an import.
        print(
            "Synapse (hjemmeserveren) er ikke installeret / is not installed. Installer den:\n"
            f"  {sys.executable} -m pip install 'matrix-synapse>=1.120'\n"
            "eller / or, in the project: pip install -e '.[synapse]'",
            file=sys.stderr,
        )
        return 1
    if args.scale:
        if args.replicas < 1:
            print(f"--replicas must be at least 1, not {args.replicas}", file=sys.stderr)
            return 2
        from deploy.local.scale import up_scaled

        return _until_signal(
            lambda stop: up_scaled(Path(args.state_dir), stop, replicas=args.replicas)
        )
    from deploy.local.up import up

    return _until_signal(lambda stop: up(Path(args.state_dir), stop))


def cmd_run(args: argparse.Namespace) -> int:
    from bots.db.engine import SchemaTooNew
    from bots.service import running

    config = _load(Path(args.config))

    async def main(stop: asyncio.Event) -> None:
        port = args.port if args.port is not None else config.listen_port
        async with running(config, config.listen_host, port):
            await stop.wait()

    try:
        return _until_signal(main)
    except SchemaTooNew as exc:
        print(f"not started: {exc}", file=sys.stderr)
        return 2


def cmd_provision(args: argparse.Namespace) -> int:
    from provisioning.command import provision

    config = _load(Path(args.config))  # validated before any request
    return asyncio.run(provision(config, args.action))


def cmd_init(args: argparse.Namespace) -> int:
    from provisioning.init import init

    return init(
        args.kommune,
        Path(args.output),
        admin_token=args.admin_token,
        server_name=args.server_name,
        homeserver_url=args.homeserver_url,
        public_url=args.public_url,
    )


def cmd_links(args: argparse.Namespace) -> int:
    from provisioning.campaign.material import listing, write_material

    config = _load(Path(args.config))
    print(listing(config))
    written = write_material(config, Path(args.output), print_sheets=not args.no_print)
    print(f"Skrev / wrote {len(written)} files in {Path(args.output).resolve()}")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from bots.db.engine import SchemaTooNew, upgrade

    url = args.url or _load(Path(args.config)).database
    try:
        revision = asyncio.run(upgrade(url))
    except SchemaTooNew as exc:
        print(f"database not changed: {exc}", file=sys.stderr)
        return 2
    print(f"database at revision {revision}")
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    from bots.config.summary import check_config

    return check_config(Path(args.file))


def cmd_stats(args: argparse.Namespace) -> int:
    from bots.stats.command import run_stats

    return run_stats(_load(Path(args.config)), args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ungechat", description=DESCRIPTION, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    parser.add_argument("--log-json", action="store_true", help="log as JSON lines")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("up", help="run the whole system locally on the demo config")
    p.add_argument(
        "--state-dir", default=".ungechat", help="where state is kept (default ./.ungechat)"
    )
    p.add_argument(
        "--scale",
        action="store_true",
        help="the scale-out shape instead: Synapse on PostgreSQL with Redis and workers,\n"
        "several ungechat replicas, nginx in front (deploy/local/scale.py)",
    )
    p.add_argument(
        "--replicas", type=int, default=2, help="with --scale: ungechat replicas (default 2)"
    )
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("run", help="run the bot and youth intake")
    p.add_argument("-c", "--config", required=True, help="config file (YAML)")
    p.add_argument(
        "--port",
        type=int,
        help="listen on this port instead of the config's listen.port (one per replica)",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("init", help="write a starting config for one municipality")
    p.add_argument("--kommune", required=True, help="the municipality's slug, e.g. halsnaes")
    p.add_argument("-o", "--output", default="ungechat.yaml", help="file (default ungechat.yaml)")
    p.add_argument("--admin-token", help="a Synapse admin access token (else a placeholder)")
    p.add_argument("--server-name", help="the homeserver's server name (default SLUG.dk)")
    p.add_argument("--homeserver-url", help="its client API (default https://matrix.SLUG.dk)")
    p.add_argument("--public-url", help="the youth page's address (default https://chat.SLUG.dk)")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser(
        "provision",
        help="plan or apply the homeserver objects a config needs",
        description="plan shows, per homeserver, what apply would create, change or remove "
        "(and says 'no changes' when all is in place); apply does it, idempotently, and "
        "writes the appservice registration file with the lines for homeserver.yaml.",
    )
    p.add_argument("action", choices=["plan", "apply"], help="plan: only show; apply: do it")
    p.add_argument("-c", "--config", required=True, help="config file (YAML)")
    p.set_defaults(func=cmd_provision)

    p = sub.add_parser("links", help="youth links, QR codes, print sheets and embed snippet")
    p.add_argument("-c", "--config", required=True, help="config file (YAML)")
    p.add_argument("-o", "--output", default="kampagne", help="folder (default ./kampagne)")
    p.add_argument(
        "--no-print",
        action="store_true",
        help="only links, QR codes and the embed snippet; no PDFs",
    )
    p.set_defaults(func=cmd_links)

    p = sub.add_parser("db", help="database maintenance")
    p.add_argument("action", choices=["upgrade"], help="upgrade: migrate to the newest schema")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("-c", "--config", help="config file naming the database")
    group.add_argument("--url", help="database URL, e.g. postgresql+asyncpg://user@host/db")
    p.set_defaults(func=cmd_db_upgrade)

    p = sub.add_parser("check-config", help="validate a config file; changes nothing")
    p.add_argument("file", help="config file (YAML)")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("stats", help="the report and its figures for a period (quarter)")
    from bots.stats.command import add_arguments as add_stats_arguments

    add_stats_arguments(p)
    p.set_defaults(func=cmd_stats)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level, args.log_json)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
