"""the profile's content hash on patient states; missed-item fields on reminders

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

Every stored plan records the content hash of the rule profile that made it (next to its name,
already in ``patient_states.profile``): the clock recomputes the active patients whose hash is not
the running profile's. Existing states get none, so the first clock after this migration
recomputes every active patient once.

Open reminders carry the missed items before them (event-contract.md §2): ``overdue_since`` (the
due date of the first of the unbroken run of superseded items), ``missed`` (how many) and
``last_done_on`` (the latest fulfilment of that kind). A small partial index holds the open
reminders with ``overdue_since``, so the worklist lists them among the overdue ones from an index
range like the rest (docs/performance.md §4); they are few.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

MISSED = "status IN ('overdue', 'due', 'planned') AND overdue_since IS NOT NULL"
# (name, columns, included columns): a navigator's missed items, and everyone's.
INCLUDED = ["id", "kind", "patient_id", "status", "due_on"]
INDEXES = (
    ("ix_reminders_navigator_missed", ["navigator_id", "overdue_since"], INCLUDED),
    ("ix_reminders_missed", ["overdue_since"], INCLUDED),
)


def upgrade() -> None:
    with op.batch_alter_table("patient_states", schema=None) as batch_op:
        batch_op.add_column(sa.Column("profile_hash", sa.String(length=16), nullable=True))
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("overdue_since", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("missed", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("last_done_on", sa.Date(), nullable=True))
    for name, columns, include in INDEXES:
        op.create_index(
            name,
            "reminders",
            columns,
            unique=False,
            postgresql_include=include,
            sqlite_where=sa.text(MISSED),
            postgresql_where=sa.text(MISSED),
        )


def downgrade() -> None:
    for name, *_ in INDEXES:
        op.drop_index(name, table_name="reminders")
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.drop_column("last_done_on")
        batch_op.drop_column("missed")
        batch_op.drop_column("overdue_since")
    with op.batch_alter_table("patient_states", schema=None) as batch_op:
        batch_op.drop_column("profile_hash")
