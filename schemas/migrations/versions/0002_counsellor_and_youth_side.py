"""counsellor and youth side: duty, holds, transfers, reminders, typing and read marks, feedback

Counsellors go on duty (`duty`) and are recorded as they join (`counsellors`); a youth's
place in the queue counts from `waiting_since`; a transfer to another homeserver records
it in `homeservers` so closing purges every copy. Counsellors may keep a conversation
after its end for the duty to notify (`hold_until`, counted as `held`), hand it to
another municipality
(`transferred_from` / `transferred_to`), and are reminded of waiting youths
(`reminded_at`) and of the end of opening hours (`hours_warned_at`). The youth page shows
when a counsellor types or has read (`counsellor_typing_until`, `counsellor_read_event_id`)
and may give one-tap feedback after the end through a short-lived token on the stats row.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("counsellors", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("homeservers", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("counsellor_typing_until", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("counsellor_read_event_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("transferred_from", sa.String(64), nullable=True))
        batch.add_column(sa.Column("previous_kommune", sa.String(64), nullable=True))
        batch.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("hours_warned_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("hold_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("ended_by", sa.String(16), nullable=True))
    # The default only fills rows that exist now; new rows get theirs from the code.
    with op.batch_alter_table("conversations") as batch:
        batch.alter_column("counsellors", server_default=None)
        batch.alter_column("homeservers", server_default=None)
    with op.batch_alter_table("conversation_stats") as batch:
        batch.add_column(sa.Column("ended_by", sa.String(16), nullable=True))
        batch.add_column(sa.Column("transferred_to", sa.String(64), nullable=True))
        batch.add_column(sa.Column("held", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("feedback", sa.String(16), nullable=True))
        batch.add_column(sa.Column("feedback_token_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("feedback_until", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_conversation_stats_feedback_token_hash", ["feedback_token_hash"])
    op.create_table(
        "duty",
        sa.Column("kommune", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kommune", "user_id", name="pk_duty"),
    )


def downgrade() -> None:
    op.drop_table("duty")
    with op.batch_alter_table("conversation_stats") as batch:
        batch.drop_index("ix_conversation_stats_feedback_token_hash")
        for column in (
            "feedback_until",
            "feedback_token_hash",
            "feedback",
            "held",
            "transferred_to",
            "ended_by",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("conversations") as batch:
        for column in (
            "ended_by",
            "hold_until",
            "hours_warned_at",
            "reminded_at",
            "previous_kommune",
            "transferred_from",
            "counsellor_read_event_id",
            "counsellor_typing_until",
            "waiting_since",
            "homeservers",
            "counsellors",
        ):
            batch.drop_column(column)
