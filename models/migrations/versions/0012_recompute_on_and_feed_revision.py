"""The change-driven clock and cheap feed ETags: patient_states.recompute_on and planner_hash,
reminders.overdue_from, patients.feed_revision

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-09

The pure planner tells, beside each plan, the first day after its ``as_of`` on which the plan's
content can change with no new event (``Plan.changes_on``: an item entering the horizon, an alert's
time threshold, a fixed item superseded). Processing stores it in ``patient_states.recompute_on``;
the clock's daily run queues only the patients whose day has come. Null means "recompute at the
next daily run": rows stored before this column existed are treated as due, so the first run
after the upgrade recomputes everyone once and fills the column in. ``planner_hash`` is the hash of
the planner's code that made the stored plan: after a release that changes it, the clock
recomputes every active patient, as after a profile change.

What the date alone moves (an open reminder planned → due → overdue) is then set by one UPDATE a
day instead of a recompute per patient. ``reminders.overdue_from`` (due_on + window_days + 1, the
first day the item is overdue) lets that UPDATE compare dates on SQLite and PostgreSQL alike, and
``ix_reminders_due_overdue_from`` finds the due ones whose window has closed without reading every
due reminder; it
is filled in here for the stored rows; a row written without it (by a worker of an older release
during an upgrade) is found through the small partial index ``ix_reminders_overdue_from_missing``
and filled in by the daily run before it moves statuses.

``patients.feed_revision`` is raised to a fresh value whenever one of the patient's reminder rows
changes or the patient changes navigator; a navigator feed's ETag is the count, sum and maximum of
its patients' revisions, read from ``ix_patients_navigator_feed`` alone instead of aggregating
every listed reminder.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

OVERDUE_FROM = {
    "postgresql": "UPDATE reminders SET overdue_from = due_on + window_days + 1",
    "sqlite": "UPDATE reminders SET overdue_from = date(due_on, '+' || (window_days + 1) || ' days')",
}


MISSING = "overdue_from IS NULL"
DUE = "status = 'due'"


def upgrade() -> None:
    with op.batch_alter_table("patient_states", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recompute_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("planner_hash", sa.String(length=16), nullable=True))
    op.create_index("ix_patient_states_recompute_on", "patient_states", ["recompute_on"])
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("overdue_from", sa.Date(), nullable=True))
    op.execute(OVERDUE_FROM[op.get_bind().dialect.name])
    op.create_index(
        "ix_reminders_due_overdue_from",
        "reminders",
        ["overdue_from"],
        sqlite_where=sa.text(DUE),
        postgresql_where=sa.text(DUE),
    )
    op.create_index(
        "ix_reminders_overdue_from_missing",
        "reminders",
        ["id"],
        sqlite_where=sa.text(MISSING),
        postgresql_where=sa.text(MISSING),
    )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("feed_revision", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_index("ix_patients_navigator_feed", "patients", ["navigator_id", "feed_revision"])


def downgrade() -> None:
    # Not batch operations: on SQLite those would copy tables that other tables reference.
    op.drop_index("ix_patients_navigator_feed", table_name="patients")
    op.execute("ALTER TABLE patients DROP COLUMN feed_revision")  # SQLite ≥ 3.35 and PostgreSQL
    op.drop_index("ix_reminders_overdue_from_missing", table_name="reminders")
    op.drop_index("ix_reminders_due_overdue_from", table_name="reminders")
    op.execute("ALTER TABLE reminders DROP COLUMN overdue_from")
    op.drop_index("ix_patient_states_recompute_on", table_name="patient_states")
    with op.batch_alter_table("patient_states", schema=None) as batch_op:
        batch_op.drop_column("planner_hash")
        batch_op.drop_column("recompute_on")
