"""Column types that behave the same on SQLite and PostgreSQL.

SQLite has no time zone type: it keeps the text SQLAlchemy writes and gives back naive
datetimes. PostgreSQL's `timestamptz` gives aware ones in the session's zone. `UTCDateTime`
makes both sides agree: only aware values go in (a naive one is a bug, refused loudly),
and UTC-aware values always come out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

#: JSON documents: JSONB on PostgreSQL (indexable, compact), JSON text on SQLite.
JSONDoc = JSON().with_variant(JSONB(), "postgresql")
#: 64-bit keys on PostgreSQL; SQLite only autoincrements an INTEGER PRIMARY KEY (its rowid).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Encoded:
    """A JSON document already serialised: bulk writers encode a value shared by many rows
    (an occurrence's reminders, a duty's source) once, and `json_dumps` passes the text on.

    `value` keeps the document itself, for comparisons."""

    __slots__ = ("text", "value")

    def __init__(self, value: Any):
        self.value = value
        self.text = json.dumps(value, ensure_ascii=False)

    def __eq__(self, other: object) -> bool:
        return bool(self.value == (other.value if isinstance(other, Encoded) else other))

    __hash__ = None  # type: ignore[assignment]


def json_dumps(value: Any) -> str:
    """The engines' JSON serializer: Vietnamese stays readable; Encoded text passes as is."""
    if isinstance(value, Encoded):
        return value.text
    return json.dumps(value, ensure_ascii=False)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError(f"thời điểm không có múi giờ: {value!r} (cần datetime có tzinfo)")
        return value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def to_text(value: datetime | None) -> str | None:
            """SQLAlchemy's own SQLite format, in one C call instead of three Python ones:
            a million-step load writes four datetimes per step."""
            if value is None:
                return None
            if value.utcoffset() is None:
                raise ValueError(f"thời điểm không có múi giờ: {value!r} (cần datetime có tzinfo)")
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

        return to_text

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        assert isinstance(moment, datetime)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
