"""Persistence: SQLAlchemy 2 typed rows, the engine/session set-up and Alembic migrations."""
