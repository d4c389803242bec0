"""Column types shared by the rows (portable between SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from sqlalchemy import DateTime, Dialect, String, TypeDecorator
from sqlalchemy.orm import mapped_column


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on both backends (SQLite would otherwise hand back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


PatientId = Annotated[str, mapped_column(String(64), index=True)]
EventId = Annotated[str, mapped_column(String(128))]
Timestamp = Annotated[dt.datetime, mapped_column(UtcDateTime())]
