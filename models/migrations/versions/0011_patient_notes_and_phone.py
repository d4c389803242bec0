"""patient_notes: the navigators' notes and call log; patients.phone; ix_reminders_soon

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08

``patient_notes`` holds what staff write about a patient outside the clinical record: a note or
a call (reached, no answer, message left), who wrote it and when. Rows are only added, never
edited. ``patients.phone`` is the optional ``phone`` of the latest ``patient_registered``, kept
by processing like the name and email.

``ix_reminders_soon`` holds the reminders due now or planned with no missed item before them: the
worklist of a caller who sees everyone counts and lists its "due soon" section from it alone (with
``ix_reminders_status_due`` the missed ones had to be read from the table to be left out, and the
planner, misjudging how few planned reminders fall before the horizon, scanned the whole table).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SOON = "status IN ('due', 'planned') AND overdue_since IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=32), nullable=True))
    op.create_table(
        "patient_notes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("patient_id", sa.String(64), sa.ForeignKey("patients.patient_id"), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_patient_notes_patient", "patient_notes", ["patient_id", "created_at"])
    op.create_index(
        "ix_reminders_soon",
        "reminders",
        ["status", "due_on"],
        sqlite_where=sa.text(SOON),
        postgresql_where=sa.text(SOON),
    )


def downgrade() -> None:
    op.drop_index("ix_reminders_soon", table_name="reminders")
    op.drop_index("ix_patient_notes_patient", table_name="patient_notes")
    op.drop_table("patient_notes")
    # Not a batch operation: on SQLite that would copy ``patients``, which other tables reference.
    op.execute("ALTER TABLE patients DROP COLUMN phone")  # SQLite ≥ 3.35 and PostgreSQL
