"""Dates as the units see them: Vietnam time (UTC+7, no daylight saving), stored as naive UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

VN_TZ = timezone(timedelta(hours=7), "ICT")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def local_date(moment: datetime) -> date:
    """The calendar day in Vietnam of a stored (naive UTC) or aware timestamp."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(VN_TZ).date()


def local_datetime(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(VN_TZ)


def to_stored(moment: datetime) -> datetime:
    """Naive UTC from an aware timestamp (naive ones are taken as UTC already)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def vn_datetime(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """A stored timestamp for a Vietnam wall-clock time (used by the demo and tests)."""
    return to_stored(datetime(year, month, day, hour, minute, tzinfo=VN_TZ))
