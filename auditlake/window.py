"""User times → one [since, until) window: `7d`, `24h`, `now`, `today`, `yesterday`, ISO dates and times, all UTC.

Owns: reading the times people type (`parse_time`), the durations of `interval` parameters
(`parse_interval`, `relative`), the default lookback (`DEFAULT_SINCE`) and the rule that a window's
start comes before its end (`window`, `require_order`). Pure: no SQL, no files, no lake.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from auditlake.errors import QueryError

DEFAULT_SINCE = "7d"  # the lookback of a saved query whose header gives none
_RELATIVE = re.compile(r"^(\d+)\s*(s|m|h|d|w)$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def relative(text: Any) -> tuple[int, str] | None:
    """`7d` → `(7, "days")`; None when `text` is not a relative duration.

    >>> relative("24h"), relative("now")
    ((24, 'hours'), None)
    """
    match = _RELATIVE.match(str(text).strip().lower())
    return (int(match.group(1)), UNITS[match.group(2)]) if match else None


def parse_time(text: str | datetime | date, now: datetime | None = None) -> datetime:
    """`7d`/`24h`/`30m`/`2w` ago, `now`, `today`, `yesterday`, or an ISO date or time (UTC unless it says)."""
    now = now or datetime.now(UTC)
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=UTC)
    if isinstance(text, date):
        return datetime(text.year, text.month, text.day, tzinfo=UTC)
    value = str(text).strip().lower()
    if value == "now":
        return now
    if value in ("today", "yesterday"):
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight - timedelta(days=1 if value == "yesterday" else 0)
    ago = relative(value)
    if ago:
        return now - timedelta(**{ago[1]: ago[0]})
    try:
        parsed = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(f"not a time: {text!r}", hint="use 7d, 24h, 30m, 2w, now, today, 2026-11-01 or 2026-11-01T10:00:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_interval(raw: Any) -> timedelta:
    """`30m`, `2h`, `7d` as a duration (a timedelta passes through); ValueError for anything else."""
    if isinstance(raw, timedelta):
        return raw
    amount = relative(raw)
    if not amount:
        raise ValueError(raw)
    return timedelta(**{amount[1]: amount[0]})


def require_order(start: datetime, end: datetime) -> None:
    """Refuse a window that ends before it starts (it would read nothing and look clean)."""
    if start >= end:
        raise QueryError(f"--since ({start:%Y-%m-%d %H:%M}) must be before --until ({end:%Y-%m-%d %H:%M})")


def window(since: Any, until: Any, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The window [since, until) as UTC datetimes; `until` defaults to now."""
    now = now or datetime.now(UTC)
    start, end = parse_time(since, now), parse_time(until or "now", now)
    require_order(start, end)
    return start, end
