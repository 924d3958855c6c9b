"""page views: youth-page visits per municipality, channel and day, for the channel funnel

The quarterly report reads each marketing channel as a funnel, page views → started →
answered. Visits are counted, never recorded: one row per (municipality, channel, local
day) holding a number that every intake replica increments with an atomic upsert. There
is no time finer than the day and nothing about the visitor.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "page_views",
        sa.Column("kommune", sa.String(length=64), nullable=False),
        sa.Column("kanal", sa.String(length=64), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kommune", "kanal", "date", name="pk_page_views"),
    )


def downgrade() -> None:
    op.drop_table("page_views")
