"""patient_states.recompute_on, patients.feed_revision: change-driven clock and cheap feed ETags

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-09

The pure planner tells, beside each plan, the first day after its ``as_of`` on which the plan's
content can change with no new event (``Plan.changes_on``: an item entering the horizon, an alert's
time threshold, a fixed item superseded). Processing stores it here; the clock's daily recompute
queues only the patients whose day has come. Null means "recompute at the next tick": rows stored
before this column existed are treated as due, so the first tick after the upgrade recomputes
everyone once and fills the column in.

``patients.feed_revision`` is raised whenever one of the patient's reminder rows changes or the
patient changes navigator; a navigator feed's ETag is the count and sum of its patients' revisions,
read from ``ix_patients_navigator_feed`` alone instead of aggregating every listed reminder.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patient_states", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recompute_on", sa.Date(), nullable=True))
    op.create_index("ix_patient_states_recompute_on", "patient_states", ["recompute_on"])
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("feed_revision", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_patients_navigator_feed", "patients", ["navigator_id", "feed_revision"])


def downgrade() -> None:
    op.drop_index("ix_patients_navigator_feed", table_name="patients")
    # Not a batch operation: on SQLite that would copy ``patients``, which other tables reference.
    op.execute("ALTER TABLE patients DROP COLUMN feed_revision")  # SQLite ≥ 3.35 and PostgreSQL
    op.drop_index("ix_patient_states_recompute_on", table_name="patient_states")
    with op.batch_alter_table("patient_states", schema=None) as batch_op:
        batch_op.drop_column("recompute_on")
