"""What the homeservers tell the bot: the application service endpoint they push to,
the router from a room event to the part of the bot it concerns, the record of events
already handled, and the catch-up that reads back what a homeserver never pushed."""
