"""Persistence: SQLAlchemy 2 typed rows, the stored status vocabularies, the engine/session set-up
and Alembic migrations. Imports no use case."""
