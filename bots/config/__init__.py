"""The config file: what it may say (model), reading and checking it (load, checks,
rules), opening hours, the 98 municipalities, the bot's namespaces on a homeserver."""
