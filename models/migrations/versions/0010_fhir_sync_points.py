"""fhir_sync_points: where the next `gistsched fhir pull` from a server starts, per patient

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-07

One row per (server, patient): the server's clock at the start of the last complete pull, less the
overlap setting. A patient without a row for a server is read whole on the next pull.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fhir_sync_points",
        sa.Column("server", sa.String(500), primary_key=True),
        sa.Column("patient_id", sa.String(64), primary_key=True),
        sa.Column("read_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pulled_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("fhir_sync_points")
