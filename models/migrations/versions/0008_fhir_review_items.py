"""fhir_review_items: what a FHIR import could not map safely, kept for the navigators

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

Each item names its source resource version and the reason; ``key`` (a hash of both) is unique
so re-importing the same Bundle stores nothing twice.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fhir_review_items",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=True),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_fhir_review_patient", "fhir_review_items", ["patient_id", "resolved_at"])


def downgrade() -> None:
    op.drop_index("ix_fhir_review_patient", table_name="fhir_review_items")
    op.drop_table("fhir_review_items")
