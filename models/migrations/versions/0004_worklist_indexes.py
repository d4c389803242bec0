"""worklist indexes: open reminders by patient and due date, patients by navigator, active alerts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

Why (docs/performance.md §4): with 100,000 patients and 3,000,000 reminders the worklist took
0.7–1.4 s, reading every reminder of a navigator's patients to test their status. The new
partial index of open reminders replaces the one on ``patient_id`` alone (which the planner kept
choosing while both existed; a patient's reminders are found through uq_reminders_patient_key);
the one on ``patients.navigator_id`` becomes (navigator_id, patient_id) so the worklist's scope
is read from the index alone.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OPEN_REMINDER = "status IN ('overdue', 'due', 'planned')"
ACTIVE = "is_active"
OPEN = "is_active AND acknowledged_at IS NULL"
ACKNOWLEDGED = "is_active AND acknowledged_at IS NOT NULL"
RANKED_BY = ["id", "acknowledged_at", "first_seen_at"]  # a navigator's alerts, ranked from the index alone


def upgrade() -> None:
    op.create_index(
        "ix_reminders_open",
        "reminders",
        ["patient_id", "due_on"],
        unique=False,
        postgresql_include=["id", "status", "kind"],
        sqlite_where=sa.text(OPEN_REMINDER),
        postgresql_where=sa.text(OPEN_REMINDER),
    )
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.drop_index("ix_reminders_patient_id")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_index("ix_patients_navigator", ["navigator_id", "patient_id"], unique=False)
        batch_op.drop_index("ix_patients_navigator_id")
    for name, columns, include, where in (
        ("ix_alerts_active_patient_severity", ["patient_id", "severity"], RANKED_BY, ACTIVE),
        ("ix_alerts_active_open", ["severity", "first_seen_at"], [], OPEN),
        ("ix_alerts_active_acknowledged", ["severity", "first_seen_at"], [], ACKNOWLEDGED),
    ):
        op.create_index(
            name,
            "alerts",
            columns,
            unique=False,
            postgresql_include=include,
            sqlite_where=sa.text(where),
            postgresql_where=sa.text(where),
        )


def downgrade() -> None:
    for name in (
        "ix_alerts_active_acknowledged",
        "ix_alerts_active_open",
        "ix_alerts_active_patient_severity",
    ):
        op.drop_index(name, table_name="alerts")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_index("ix_patients_navigator_id", ["navigator_id"], unique=False)
        batch_op.drop_index("ix_patients_navigator")
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.create_index("ix_reminders_patient_id", ["patient_id"], unique=False)
    op.drop_index("ix_reminders_open", table_name="reminders")
