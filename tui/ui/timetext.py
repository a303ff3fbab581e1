"""Times in words that fit a grid cell: a quote's age, and when a closed market last traded."""

from __future__ import annotations

import time

FRESH_SECONDS = 5.0
"""Quote ages under this show as ``<5s``: a ticking symbol's age then stays put on screen."""


def quote_age_text(seconds: float | None) -> str:
    """A quote's age in steps coarse enough not to change every second: ``<5s``, then 5 s
    steps to a minute (``15s`` means 15 to 20 s), then whole minutes, hours, days (floored,
    so an age is never shown younger than it is)."""
    if seconds is None:
        return "—"
    seconds = max(0.0, seconds)
    if seconds < FRESH_SECONDS:
        return "<5s"
    if seconds < 60:
        return f"{int(seconds // 5 * 5)}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"


def closed_time_text(lp_time: object, now: float) -> str:
    """When a closed market last traded, in the Age column's four cells: its weekday
    (``Fri``, local time) within the last six days, else its month (``Nov``); ``—`` if the
    feed gave no time. The detail view (``v``) shows the whole time."""
    if not isinstance(lp_time, int | float) or lp_time <= 0:
        return "—"
    moment = time.localtime(lp_time)
    return time.strftime("%a" if now - lp_time < 6 * 86400 else "%b", moment)
