"""What counsellors tell the bot from Element: `!` commands, read the same way as the
youth page reads a counsellor's text, in groups by where they work."""
