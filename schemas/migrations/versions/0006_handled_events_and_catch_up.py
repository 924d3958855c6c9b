"""handled events by id, and the catch-up's horizon per homeserver

- `appservice_transactions` is replaced by `handled_events`. Deduplicating pushes by the
  homeserver's transaction id lost everything after a Synapse restart: Synapse on SQLite
  numbers transactions from 1 again, so new transactions were taken for old ones and
  acknowledged unhandled (the claim, the messages, `!luk`). Event ids cannot repeat;
  they are kept per homeserver, since a transferred room's events come from two.
- `catch_up_horizons`: the bot reads its rooms itself for events the homeserver never
  pushed (a transaction lost in a crash); events from before it first did so on a
  homeserver were handled before ids were recorded, and are left alone.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_appservice_transactions_handled_at", table_name="appservice_transactions")
    op.drop_table("appservice_transactions")
    op.create_table(
        "handled_events",
        sa.Column("homeserver", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("homeserver", "event_id", name="pk_handled_events"),
    )
    op.create_index("ix_handled_events_handled_at", "handled_events", ["handled_at"])
    op.create_table(
        "catch_up_horizons",
        sa.Column("homeserver", sa.String(length=64), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("homeserver", name="pk_catch_up_horizons"),
    )


def downgrade() -> None:
    op.drop_table("catch_up_horizons")
    op.drop_index("ix_handled_events_handled_at", table_name="handled_events")
    op.drop_table("handled_events")
    op.create_table(
        "appservice_transactions",
        sa.Column("homeserver", sa.String(length=64), nullable=False),
        sa.Column("txn_id", sa.String(length=255), nullable=False),
        sa.Column(
            "handled_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("homeserver", "txn_id", name="pk_appservice_transactions"),
    )
    op.create_index(
        "ix_appservice_transactions_handled_at", "appservice_transactions", ["handled_at"]
    )
