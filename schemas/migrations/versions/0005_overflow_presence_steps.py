"""overflow flag, youth presence, pending steps

- `conversations.overflow`: a conversation the youth started at an open partner when
  their own municipality's chat was closed. It used to be recorded like a transfer, so an
  answered overflow chat counted as "overdraget" instead of answered.
- `conversations.youth_seen_at`: the youth's page marks that it is still connected, so a
  youth waiting in the queue with the page open is not ended as idle.
- `conversations.hold_days`: `!bevar N` keeps a conversation N days after it ends; the
  end was not known when the command was given, so the days are kept until then.
- `pending_steps`: side effects of a recorded change (a counsellor left, a second one
  joined) that a crash must not lose; written with the change, deleted when done.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(
            sa.Column("overflow", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(sa.Column("youth_seen_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("hold_days", sa.Integer(), nullable=True))
    op.create_table(
        "pending_steps",
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=96), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", "key", name="pk_pending_steps"),
    )
    op.create_index("ix_pending_steps_created_at", "pending_steps", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_pending_steps_created_at", table_name="pending_steps")
    op.drop_table("pending_steps")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("hold_days")
        batch.drop_column("youth_seen_at")
        batch.drop_column("overflow")
