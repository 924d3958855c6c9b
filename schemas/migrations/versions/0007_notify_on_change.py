"""PostgreSQL tells every replica at once when a conversation changed

A trigger on `conversations` sends `NOTIFY` when a row's `event_seq` moves (every change
a youth's event stream shows bumps it): channel `ungechat_conversation` with the
conversation's id, and, when its state changed too, `ungechat_queue` with its
municipality, since the places in that municipality's queue may have moved. A NOTIFY is
delivered when the transaction commits, so a replica woken by one always reads the new
row. bots/signals.py listens; SQLite has no such thing and keeps polling.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = """
CREATE OR REPLACE FUNCTION ungechat_notify_conversation() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('ungechat_conversation', NEW.id);
    IF NEW.state IS DISTINCT FROM OLD.state THEN
        PERFORM pg_notify('ungechat_queue', NEW.kommune);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""

TRIGGER = """
CREATE TRIGGER ungechat_conversation_changed
AFTER UPDATE ON conversations
FOR EACH ROW WHEN (NEW.event_seq IS DISTINCT FROM OLD.event_seq)
EXECUTE FUNCTION ungechat_notify_conversation()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    op.execute(TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS ungechat_conversation_changed ON conversations")
    op.execute("DROP FUNCTION IF EXISTS ungechat_notify_conversation()")
