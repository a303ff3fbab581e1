"""The grid's columns: what each shows, how wide, which a width keeps, and the sort orders."""

from __future__ import annotations

from dataclasses import dataclass

from tui.engine.store import SPARK_POINTS, SPARK_SECONDS, MarketStore
from tui.ui.positions import POSITION_KEYS

TREND_MINUTES = SPARK_POINTS * SPARK_SECONDS // 60
"""The Trend column's window, in minutes (said in its header and the help)."""


@dataclass(frozen=True)
class Column:
    """One grid column: key, header, width, and keep-priority (lower is kept longer)."""

    key: str
    label: str
    width: int
    priority: float
    right: bool = True


COLUMNS = (
    Column("symbol", "Symbol", 12, 0, right=False),
    Column("last", "Last", 10, 1),
    Column("pct", "Chg%", 8, 2),
    Column("spark", f"Trend {TREND_MINUTES}m", 10, 3, right=False),
    Column("chg", "Chg", 9, 4),
    Column("age", "Age", 4, 5),
    Column("status", "Sess", 4, 6, right=False),
    Column("delay", "Dly", 3, 7, right=False),
    Column("volume", "Volume", 7, 8),
    Column("bid", "Bid", 10, 9),
    Column("ask", "Ask", 10, 9),
    Column("qty", "Qty", 8, 4.4),  # a position's Value is never shown without its Qty
    Column("avg", "Avg cost", 10, 9.5),
    Column("value", "Value", 12, 4.5),
    Column("dpnl", "Day P&L", 11, 3.5),
    Column("pnl", "P&L", 11, 2.5),
    Column("pnlpct", "P&L%", 8, 5.5),
    Column("weight", "Wt", 4, 10),
)
"""Every column in its default order; priority decides what a narrow pane keeps."""


PAIRED = {"bid": "ask", "ask": "bid"}
"""Columns shown together or not at all (a bid without its ask misleads)."""


SORTS = (
    ("watchlist", "watchlist order"),
    ("pct", "change %"),
    ("volume", "volume"),
    ("symbol", "symbol"),
)
"""What ``s`` cycles through: key and words for the notice."""


COMPACT_WIDTHS = {"symbol": 8, "last": 10, "pct": 8}
"""Narrower fixed widths in compact mode; the sparkline takes what is left (4 to 12)."""


def _wanted(column: Column, keys: list[str] | None, positions: bool) -> bool:
    """``keys`` (the config's choice) decides; by default the position columns show only
    when something is held."""
    if keys is not None:
        return column.key in keys
    return positions or column.key not in POSITION_KEYS


def natural_width(keys: list[str] | None = None, *, positions: bool = False) -> int:
    """Cells the grid needs to show every one of ``keys`` (default: every column)."""
    return sum(c.width + 1 for c in COLUMNS if _wanted(c, keys, positions))


def columns_for_width(
    width: int, *, compact: bool, keys: list[str] | None = None, positions: bool = False
) -> list[Column]:
    """The columns that fit ``width`` cells: the most important kept (bid and ask together),
    in the order of ``keys`` (the config's ``display.columns``) or the default order."""
    if compact:
        fixed = [
            Column(c.key, c.label, COMPACT_WIDTHS[c.key], c.priority, c.right)
            for c in COLUMNS
            if c.key in COMPACT_WIDTHS and (keys is None or c.key in keys)
        ]
        left = width - sum(c.width + 1 for c in fixed) - 1
        if left >= 4 and (keys is None or "spark" in keys):
            fixed.insert(
                min(3, len(fixed)),
                Column("spark", f"{TREND_MINUTES}m", min(12, left), 3, right=False),
            )
        return fixed
    pool = {c.key: c for c in COLUMNS if _wanted(c, keys, positions)}
    chosen: dict[str, Column] = {}
    used = 0
    for column in sorted(pool.values(), key=lambda c: c.priority):
        if column.key in chosen:
            continue
        partner = pool.get(PAIRED.get(column.key, ""))
        group = [column] + ([partner] if partner is not None else [])
        cost = sum(c.width + 1 for c in group)
        if used + cost <= width or not chosen:
            for member in group:
                chosen[member.key] = member
            used += cost
    order = keys or [c.key for c in COLUMNS]
    return sorted(chosen.values(), key=lambda c: order.index(c.key))


NUMERIC_COLUMNS = frozenset(
    {"last", "pct", "chg", "bid", "ask", "volume", "qty", "avg", "value", "dpnl", "pnl", "pnlpct"}
)
"""Columns whose values are never cut: one that does not fit shows as ``####``."""


def sort_codes(codes: list[str], sort: str, store: MarketStore | None) -> list[str]:
    """``codes`` in the order of ``sort``: the watchlist's, change % or volume (largest first,
    symbols with no value last), or symbol (A to Z)."""
    if sort == "watchlist" or (store is None and sort != "symbol"):
        return list(codes)
    if sort == "symbol":
        return sorted(codes, key=lambda c: c.split(":", 1)[-1])
    field = "change_percent" if sort == "pct" else "volume"

    def value(code: str) -> tuple[bool, float]:
        row = store.quotes.get(code) if store is not None else None
        number = row.get(field) if row is not None else None
        return (number is None, -(number or 0.0))

    return sorted(codes, key=value)
