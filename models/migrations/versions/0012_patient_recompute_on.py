"""patient_states.recompute_on: the day a patient's plan can next change with no new event

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-09

The pure planner tells, beside each plan, the first day after its ``as_of`` on which the plan's
content can change with no new event (``Plan.changes_on``: an item entering the horizon, an alert's
time threshold, a fixed item superseded). Processing stores it here; the clock's daily recompute
queues only the patients whose day has come. Null means "recompute at the next tick": rows stored
before this column existed are treated as due, so the first tick after the upgrade recomputes
everyone once and fills the column in.
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


def downgrade() -> None:
    op.drop_index("ix_patient_states_recompute_on", table_name="patient_states")
    with op.batch_alter_table("patient_states", schema=None) as batch_op:
        batch_op.drop_column("recompute_on")
