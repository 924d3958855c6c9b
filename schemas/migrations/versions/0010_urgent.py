"""urgency: a conversation marked urgent goes first in the queue, and is counted

- `conversations.urgent_at`: when the youth answered the municipality's "Er du i fare
  lige nu?" with yes, or a counsellor typed `!haster` (bots/conversation/urgency.py).
  Forgotten at purge.
- `conversation_stats.urgent`: the anonymous record says whether it was urgent, so the
  report can count urgent conversations and how fast they were answered.
- On PostgreSQL the change trigger (0007) also wakes the municipality's queue when a
  conversation becomes urgent: the places behind it moved.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


NOTIFY_FUNCTION = """
CREATE OR REPLACE FUNCTION ungechat_notify_conversation() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('ungechat_conversation', NEW.id);
    IF NEW.state IS DISTINCT FROM OLD.state
       OR NEW.urgent_at IS DISTINCT FROM OLD.urgent_at THEN
        PERFORM pg_notify('ungechat_queue', NEW.kommune);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("urgent_at", sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(NOTIFY_FUNCTION)
    with op.batch_alter_table("conversation_stats") as batch:
        batch.add_column(
            sa.Column("urgent", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":  # back to 0007's: state changes only
        op.execute(
            NOTIFY_FUNCTION.replace("\n       OR NEW.urgent_at IS DISTINCT FROM OLD.urgent_at", "")
        )
    with op.batch_alter_table("conversation_stats") as batch:
        batch.drop_column("urgent")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("urgent_at")
