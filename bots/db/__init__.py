"""The bot's database: the engine with its migrations, the tables, dialect helpers."""
