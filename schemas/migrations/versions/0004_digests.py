"""digests: the network digest posted once per period, whichever replica posts it

The bot posts the network's anonymous numbers of each week, month or quarter to a
sparring room. One row per (room, period) is the schedule's memory: inserted by the
first replica to see the period end, claimed (with a lease) by the one replica that
posts it, marked posted once the message is sent.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "digests",
        sa.Column("room", sa.String(length=64), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("room", "period_start", "period_end", name="pk_digests"),
    )


def downgrade() -> None:
    op.drop_table("digests")
