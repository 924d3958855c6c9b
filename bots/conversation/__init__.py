"""A conversation's life, as one persisted state machine: its states and moves, the
machine, the room's Matrix shape, what the bot says and sets in it, the lobby entry, the
duty roster and queue, transfers, deletion and holds, the anonymous record, and what the
bot does on a clock."""
