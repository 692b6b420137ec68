"""Column types shared by the tables: timezone-aware UTC datetimes that survive SQLite."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Store aware datetimes as UTC; always return aware UTC datetimes.

    SQLite has no timezone support, so values are stored as naive UTC there and given back
    their ``UTC`` tzinfo on the way out. Naive datetimes are refused on the way in: every clock
    in this project is timezone-aware.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):  # type: ignore[override]
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime refused: {value!r}")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def result_processor(self, dialect, coltype):
        # PostgreSQL gives timestamptz values aware, in the session's time zone, which
        # ledger.db.make_engine pins to UTC: they are returned as they come, with no Python call
        # per value (tens of thousands per weekly export)
        if dialect.name == "postgresql":
            return None
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: datetime | None, dialect):  # type: ignore[override]
        if value is None or value.tzinfo is UTC:
            return value
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """The current instant, aware, in UTC. Only the composition root should call this."""
    return datetime.now(UTC)
