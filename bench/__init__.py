"""The benchmark harness: the bot measured against its homeserver's own floor.

`python -m bench` starts a real Synapse (SQLite, or PostgreSQL with `--postgres URL`),
provisions one municipality, runs the bot as its own process (`ungechat run`, as in
production) and measures, in one run, what docs/performance.md reports: opening a
conversation against the same homeserver requests made by a bare client, relaying
messages both ways against two plain Matrix clients, throughput and CPU per
conversation, memory and latency with many conversations open, closing and purging,
and the youth page in headless Chromium. `--quick` is the smoke run (under a minute);
the default run takes a few minutes; `--full` adds 5,000 open conversations.

Nothing in `bots` imports this package (the import contracts in pyproject.toml).
"""
