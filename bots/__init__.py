"""ungechat's running service: the bot, the youth intake and what they share.

The layers, top to bottom (checked by import-linter, see docs/architecture.md): the
command line and the service; the intake (what a young person's browser talks to) and
the appservice endpoint (what the homeservers push); the counsellors' commands; the
sparring network; the conversation's state machine; statistics; the homeservers and the
database; the config.
"""
