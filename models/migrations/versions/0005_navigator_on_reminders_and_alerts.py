"""navigator_id on reminders and alerts (a navigator's worklist is one index range); failed emails indexed

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

Why (docs/performance.md §4): with 100,000 patients the navigator's worklist found their open
reminders by probing ``ix_reminders_open`` once for each of their 2,000 patients (20–28 ms of a
100 ms budget). Each reminder and alert now carries a copy of its patient's ``navigator_id``
(written by ``scheduler.patients.processing``, which alone sets ``patients.navigator_id``), and the
partial indexes lead with it, so the navigator's open reminders and active alerts are each one
range of one index. The copies are filled here from ``patients``. The worklist's failed emails get
a partial index of their own (counted and scoped without reading the outbox's rows).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OPEN_REMINDER = "status IN ('overdue', 'due', 'planned')"
ACTIVE = "is_active"
FAILED = "status = 'failed'"
BACKFILL = (
    "UPDATE {table} SET navigator_id = "
    "(SELECT patients.navigator_id FROM patients WHERE patients.patient_id = {table}.patient_id)"
)
# (name, table, columns, included columns, partial-index predicate). The old ones are written out
# as 0004 made them (a migration does not import another), for the downgrade.
ADDED = (
    ("ix_reminders_navigator_open", "reminders", ["navigator_id", "status", "due_on"],
     ["id", "kind", "patient_id"], OPEN_REMINDER),
    ("ix_alerts_active_navigator", "alerts", ["navigator_id", "severity"],
     ["id", "acknowledged_at", "first_seen_at"], ACTIVE),
    ("ix_notifications_failed", "notifications", ["updated_at", "id"],
     ["patient_id", "navigator_id"], FAILED),
)  # fmt: skip
REPLACED = (
    ("ix_reminders_open", "reminders", ["patient_id", "due_on"], ["id", "status", "kind"], OPEN_REMINDER),
    ("ix_alerts_active_patient_severity", "alerts", ["patient_id", "severity"],
     ["id", "acknowledged_at", "first_seen_at"], ACTIVE),
)  # fmt: skip
Spec = tuple[str, str, list[str], list[str], str]


def _create(specs: tuple[Spec, ...]) -> None:
    for name, table, columns, include, where in specs:
        op.create_index(
            name,
            table,
            columns,
            unique=False,
            postgresql_include=include,
            sqlite_where=sa.text(where),
            postgresql_where=sa.text(where),
        )


def _drop(specs: tuple[Spec, ...]) -> None:
    for name, table, *_ in specs:
        op.drop_index(name, table_name=table)


def upgrade() -> None:
    for table in ("reminders", "alerts"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("navigator_id", sa.String(length=128), nullable=True))
        op.execute(BACKFILL.format(table=table))
    _create(ADDED)
    _drop(REPLACED)


def downgrade() -> None:
    _create(REPLACED)
    _drop(ADDED)
    for table in ("alerts", "reminders"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("navigator_id")
