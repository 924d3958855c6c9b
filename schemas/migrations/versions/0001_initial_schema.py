"""initial schema: conversations in flight, anonymous stats rows, handled appservice transaction ids

`conversations` drives the persisted state machine and holds no message text; its Matrix
ids are cleared when a conversation is purged. `conversation_stats` is the anonymous row
kept after a conversation ends, with no key back to a conversation, room or person.
`appservice_transactions` remembers which homeserver pushes were handled, so a retried
push is not handled twice.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 04:34:23.689583
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kommune", sa.String(length=64), nullable=False),
        sa.Column("homeserver", sa.String(length=64), nullable=False),
        sa.Column("kanal", sa.String(length=64), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("youth_user_id", sa.String(length=255), nullable=True),
        sa.Column("room_id", sa.String(length=255), nullable=True),
        sa.Column("lobby_event_id", sa.String(length=255), nullable=True),
        sa.Column("claimed_by", sa.String(length=255), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_conversations"),
    )
    op.create_index("ix_conversations_kommune", "conversations", ["kommune"])
    op.create_index("ix_conversations_state", "conversations", ["state"])
    op.create_index("ix_conversations_room_id", "conversations", ["room_id"])

    op.create_table(
        "conversation_stats",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kommune", sa.String(length=64), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("kanal", sa.String(length=64), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("wait_seconds", sa.Integer(), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_conversation_stats"),
    )
    op.create_index("ix_conversation_stats_kommune", "conversation_stats", ["kommune"])

    op.create_table(
        "appservice_transactions",
        sa.Column("homeserver", sa.String(length=64), nullable=False),
        sa.Column("txn_id", sa.String(length=255), nullable=False),
        sa.Column(
            "handled_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("homeserver", "txn_id", name="pk_appservice_transactions"),
    )
    op.create_index(
        "ix_appservice_transactions_handled_at", "appservice_transactions", ["handled_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_appservice_transactions_handled_at", table_name="appservice_transactions")
    op.drop_table("appservice_transactions")
    op.drop_index("ix_conversation_stats_kommune", table_name="conversation_stats")
    op.drop_table("conversation_stats")
    op.drop_index("ix_conversations_room_id", table_name="conversations")
    op.drop_index("ix_conversations_state", table_name="conversations")
    op.drop_index("ix_conversations_kommune", table_name="conversations")
    op.drop_table("conversations")
