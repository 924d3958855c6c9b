"""letters: the anonymous letterbox, and its anonymous stats rows

- `letters`: one row per letter in flight (bots/letters/): its state, room, Brevkasse
  entry, the pickup code's slow hash and the session token's hash, and the moments that
  decide when it is deleted. No text: the letter lives only in its Matrix room.
- `letter_stats`: one anonymous row per deleted letter, with no key back to it.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _moment(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "letters",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kommune", sa.String(length=64), nullable=False),
        sa.Column("homeserver", sa.String(length=64), nullable=False),
        sa.Column("kanal", sa.String(length=64), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("youth_user_id", sa.String(length=255), nullable=True),
        sa.Column("room_id", sa.String(length=255), nullable=True),
        sa.Column("entry_event_id", sa.String(length=255), nullable=True),
        sa.Column("topics", sa.JSON(), nullable=False),
        _moment("created_at", nullable=False),
        _moment("answered_at"),
        _moment("unread_since"),
        _moment("read_at"),
        _moment("youth_wrote_at"),
        _moment("pinged_at"),
        _moment("reminded_at"),
        _moment("closed_at"),
        sa.Column("ended_by", sa.String(length=16), nullable=True),
        sa.Column("hold_days", sa.Integer(), nullable=True),
        _moment("hold_until"),
        sa.PrimaryKeyConstraint("id", name="pk_letters"),
        sa.UniqueConstraint("code_hash", name="uq_letters_code_hash"),
    )
    op.create_index("ix_letters_kommune", "letters", ["kommune"])
    op.create_index("ix_letters_state", "letters", ["state"])
    op.create_index("ix_letters_room_id", "letters", ["room_id"])
    op.create_table(
        "letter_stats",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kommune", sa.String(length=64), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("kanal", sa.String(length=64), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("answer_seconds", sa.Integer(), nullable=True),
        sa.Column("answer_read", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("ended_by", sa.String(length=16), nullable=True),
        sa.Column("held", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_letter_stats"),
    )
    op.create_index("ix_letter_stats_kommune", "letter_stats", ["kommune"])


def downgrade() -> None:
    op.drop_index("ix_letter_stats_kommune", table_name="letter_stats")
    op.drop_table("letter_stats")
    op.drop_index("ix_letters_room_id", table_name="letters")
    op.drop_index("ix_letters_state", table_name="letters")
    op.drop_index("ix_letters_kommune", table_name="letters")
    op.drop_table("letters")
