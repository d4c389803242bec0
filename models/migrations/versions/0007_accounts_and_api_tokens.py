"""API tokens with expiry and revocation; forced password change; session idle time; audit subject

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

A user's API tokens move to ``api_tokens`` (a user may hold several, each with an optional expiry,
revocable one by one): the digests in ``users.token_hash`` so far are copied there, without
expiry, so every existing token keeps working. ``users.token_hash`` stays (dropping it on SQLite
means rebuilding a table other tables refer to) but is no longer read: new users get the digest
of a random value nobody holds. After a downgrade only the tokens made before 0007 answer.
``users.must_change_password`` is set by an admin's password reset; ``web_sessions.last_seen_at``
carries the idle timeout; ``audit_events.subject`` names the account an account change is about.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)
    op.execute(
        "INSERT INTO api_tokens (user_id, token_hash, created_at) "
        "SELECT id, token_hash, created_at FROM users WHERE token_hash IS NOT NULL"
    )
    # Plain ALTER TABLE on both backends: a batch rebuild of ``users`` on SQLite would trip the
    # foreign keys of the tables that refer to it.
    op.add_column(
        "users",
        sa.Column("must_change_password", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column("web_sessions", sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("audit_events", sa.Column("subject", sa.String(length=64), nullable=True))


def downgrade() -> None:
    for table, column in (
        ("audit_events", "subject"),
        ("web_sessions", "last_seen_at"),
        ("users", "must_change_password"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")  # SQLite ≥ 3.35 and PostgreSQL
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))
    op.drop_table("api_tokens")
