"""reminders: the navigator's booking, snooze and waiver of an item; ix_reminders_snoozed

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-10

A navigator acts on a reminder with events (``reminder_booked``, ``reminder_snoozed``,
``reminder_waived``); the plan carries the result on the item and processing stores it here:
``appointment_on`` and ``appointment_place`` (the latest booking of an open item),
``snoozed_until`` (an open item is off the worklist until that day) and ``waiver`` (a waived,
cancelled item: ``{reason, waived_on, done_on, note}``). All null on rows stored before.

``ix_reminders_snoozed`` holds the reminders with a snooze (open ones: the plan drops the snooze of
a closed item): the worklist finds those still snoozed (``snoozed_until > today``) as one short
range of it and leaves them out by id, so its other statements stay index-only scans of the
open-reminder indexes. For that, on PostgreSQL, ``ix_reminders_status_due`` and
``ix_reminders_soon`` (a clinician's worklist) are rebuilt with ``INCLUDE (id)`` (a few seconds per
million reminders; the table stays readable, writes wait).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

SNOOZED = "snoozed_until IS NOT NULL"
SOON = "status IN ('due', 'planned') AND overdue_since IS NULL"
COLUMNS = ("appointment_on", "appointment_place", "snoozed_until", "waiver")


def upgrade() -> None:
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("appointment_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("appointment_place", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("snoozed_until", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("waiver", sa.JSON(), nullable=True))
    op.create_index(
        "ix_reminders_snoozed",
        "reminders",
        ["snoozed_until", "navigator_id"],
        postgresql_include=["id"],
        sqlite_where=sa.text(SNOOZED),
        postgresql_where=sa.text(SNOOZED),
    )
    _status_indexes(include=["id"])


def downgrade() -> None:
    _status_indexes(include=None)
    op.drop_index("ix_reminders_snoozed", table_name="reminders")
    # Not a batch operation: on SQLite that would copy ``reminders``, which the outbox references.
    for column in COLUMNS:
        op.execute(f"ALTER TABLE reminders DROP COLUMN {column}")  # SQLite ≥ 3.35 and PostgreSQL


def _status_indexes(include: list[str] | None) -> None:
    """On PostgreSQL, ``ix_reminders_status_due`` and ``ix_reminders_soon`` rebuilt with (or
    without) ``INCLUDE (id)``; SQLite's indexes hold the rowid (``id``) already."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_reminders_status_due", table_name="reminders")
    op.create_index("ix_reminders_status_due", "reminders", ["status", "due_on"], postgresql_include=include)
    op.drop_index("ix_reminders_soon", table_name="reminders")
    op.create_index(
        "ix_reminders_soon",
        "reminders",
        ["status", "due_on"],
        postgresql_include=include,
        postgresql_where=sa.text(SOON),
    )
