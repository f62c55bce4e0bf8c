"""Local-time windows: is an instant inside the allowed hours of the recipient's zone, and if
not, the next instant that is. DST-correct through `zoneinfo` (local wall times are turned
into instants day by day, never by adding fixed hours). Pure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_MINUTES = 1440


def zone(name: str | None) -> ZoneInfo | None:
    """The IANA zone, or None when missing or unknown (the caller denies; never a default)."""
    if not name or name.startswith(("/", ".")) or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


@lru_cache(maxsize=8192)
def local_instant(day: dt.date, minute: int, tz: ZoneInfo) -> dt.datetime:
    """The instant at which the wall clock of `tz` shows `minute` (0–1440) on `day`.

    A wall time inside a spring-forward gap maps to the later side; an ambiguous one (fall
    back) to its first occurrence — both err towards the shorter window. Cached: every
    decision asks for the same few window edges and midnights of the same few days.
    """
    if minute >= DAY_MINUTES:
        day, minute = day + dt.timedelta(days=1), 0
    naive = dt.datetime.combine(day, dt.time(minute // 60, minute % 60))
    aware = naive.replace(tzinfo=tz, fold=0)
    # Normalise through UTC so that gap times land after the gap.
    return aware.astimezone(dt.UTC).astimezone(tz)


def local_midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return local_instant(day, 0, tz)


def next_allowed(
    at: dt.datetime,
    tz: ZoneInfo,
    windows: Sequence[tuple[int, int]],
    *,
    quiet_weekdays: Iterable[int] = (),
    quiet_dates: Iterable[dt.date] = (),
    horizon_days: int = 62,
) -> dt.datetime | None:
    """The earliest instant ≥ `at` inside every window (minutes [start, end) of the local
    day) and not on a quiet day; `at` itself when it is allowed; None if none in the horizon.
    """
    qw = set(quiet_weekdays)
    qd = set(quiet_dates)
    lo = max((w[0] for w in windows), default=0)
    hi = min((w[1] for w in windows), default=DAY_MINUTES)
    if lo >= hi:
        return None
    first = at.astimezone(tz).date()
    for offset in range(horizon_days):
        day = first + dt.timedelta(days=offset)
        if day.isoweekday() in qw or day in qd:
            continue
        start = local_instant(day, lo, tz)
        end = local_instant(day, hi, tz)
        if start >= end:
            continue
        if at < end:
            found = max(at, start)
            loc = found.astimezone(tz)
            if lo <= loc.hour * 60 + loc.minute < hi:
                return found
            # a boundary inside a DST gap shifted the window out of its wall-clock hours
    return None
