"""Values as a reader reads them without a calculator: durations in human units, times, numbers, lists.

Owns: `format_duration` (`3 d 8 h`), `duration_unit` (a column named `*_seconds`, `*_minutes`,
`*_hours`, `*_days`, `days_of_*` or `days_since_*` holds a duration), `shown_value` (such a cell as a
duration), `cell_text` (any cell as one plain string) and `short_number` (`1.5k`, an axis label).
Pure and medium-free: what is escaped, and how, is the caller's medium's business (`render.escape`,
autoescape in templates).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

DURATION_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}  # a numeric column named for its unit is a duration
UNIT_SYMBOLS = {1: "s", 60: "min", 3600: "h", 86400: "d"}


def format_duration(seconds: float) -> str:
    """A duration in human units, the two largest that matter, rounded to the smaller one.

    >>> format_duration(4.84768e+06 * 60)
    '3,366 d 11 h'
    >>> [format_duration(value) for value in (0, 0.25, 42, 61, 3599.6, 7500, 288000)]
    ['0 s', '0.25 s', '42 s', '1 min 1 s', '1 h', '2 h 5 min', '3 d 8 h']
    """
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 10:
        return f"{seconds:.2g} s" if seconds < 1 else f"{seconds:.3g} s".replace(".0 s", " s")
    units = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))
    for index, (name, size) in enumerate(units[:-1]):
        if seconds >= size:
            smaller_name, smaller = units[index + 1]
            total = round(seconds / smaller)  # in the smaller unit
            if index and total * smaller >= units[index - 1][1]:  # rounding reached the larger unit: 3599.6 s is 1 h
                return format_duration(total * smaller)
            large, small = divmod(total, size // smaller)
            if large == 0:
                return f"{small:,} {smaller_name}"
            return f"{large:,} {name}" + (f" {small} {smaller_name}" if small else "")
    return f"{round(seconds)} s" if round(seconds) < 60 else "1 min"


def duration_unit(column: str) -> int | None:
    """Seconds per unit when the column's name says it holds a duration (`silence_minutes`, `days_of_history`), else None.

    >>> duration_unit("silence_minutes"), duration_unit("days_of_history"), duration_unit("days_with_events")
    (60, 86400, None)
    """
    for unit, size in DURATION_UNITS.items():
        if column.endswith("_" + unit) or column.startswith((unit + "_of_", unit + "_since_")):
            return size
    return None


def shown_value(column: str, value: Any) -> Any:
    """A cell as a reader should see it: a number of seconds, minutes, hours or days as a duration."""
    size = duration_unit(column)
    if size is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value * size) if value else f"0 {UNIT_SYMBOLS[size]}"  # 0 days rounded is not "0 s"
    return value


def cell_text(value: Any) -> str:
    """A cell as one plain string: times to the second, durations in human units, 4,847,680 rather than 4.84768e+06."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return format_duration(value.total_seconds())
    if isinstance(value, float):
        text = f"{value:g}"
        return f"{value:,.2f}".rstrip("0").rstrip(".") if "e" in text else text  # 4,847,680 rather than 4.84768e+06
    if isinstance(value, (list, tuple)):
        return ", ".join(cell_text(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def short_number(value: float) -> str:
    """`1.5k`, `2M`, `0.2`: an axis or bar label.

    >>> [short_number(value) for value in (0, 0.25, 500, 1500, 10_000, 2_000_000)]
    ['0', '0.25', '500', '1.5k', '10k', '2M']
    """
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{value / limit:.1f}".removesuffix(".0") + suffix
    return f"{value:g}"
