"""patient_notes: the navigators' notes and call log; patients.phone from the registration

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-08

``patient_notes`` holds what staff write about a patient outside the clinical record: a note or
a call (reached, no answer, message left), who wrote it and when. Rows are only added, never
edited. ``patients.phone`` is the optional ``phone`` of the latest ``patient_registered``, kept
by processing like the name and email.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0008"
branch_labels = None
depends_on = None


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


def downgrade() -> None:
    op.drop_index("ix_patient_notes_patient", table_name="patient_notes")
    op.drop_table("patient_notes")
    # Not a batch operation: on SQLite that would copy ``patients``, which other tables reference.
    op.execute("ALTER TABLE patients DROP COLUMN phone")  # SQLite ≥ 3.35 and PostgreSQL
