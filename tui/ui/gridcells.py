"""What each cell of a grid row says and how it looks: the text (padded to its column) and
style of every column, from a quote row, the clock and the grid's settings; and the key that
says when a row's cells would come out the same (so a row is recomputed only when needed)."""

from __future__ import annotations

from rich.cells import cell_len
from rich.style import Style

from tui.engine.store import QuoteRow, trend_points
from tui.portfolio.pnl import Figures
from tui.ui.columns import NUMERIC_COLUMNS, Column
from tui.ui.positions import POSITION_KEYS, cell_text, direction
from tui.ui.prices import instrument_decimals, price_text
from tui.ui.render import (
    Palette,
    arrow,
    compact_number,
    delay_badge,
    fit_cells,
    fit_number,
    signed,
    sparkline,
)
from tui.ui.timetext import closed_time_text, quote_age_text

FLASH_SECONDS = 0.6
"""How long a changed price stays highlighted."""
STATUS_SHORT = {"PRE": "PRE", "REG": "REG", "POST": "POST", "CLOSED": "CLSD"}
"""Session status labels."""
NO_STYLE = Style()
"""A cell with the widget's own style."""

Cells = list[tuple[str, Style]]
"""A row's cells: each one's text (padded to its column) and style."""


def short_code(code: str, width: int) -> str:
    """The code, or just the symbol part when the column is narrow."""
    return code if cell_len(code) <= width else code.split(":", 1)[-1]


class RowCells:
    """The cells of the quote grid's rows (the grid's settings are its own attributes)."""

    columns_shown: list[Column]
    palette: Palette
    feed_live: bool
    stale_after: float
    flashing: dict[str, float]
    figures: dict[str, Figures]
    private: bool
    _precision: dict[str, int]

    def _row_key(
        self, code: str, row: QuoteRow | None, now: float, epoch: tuple[object, ...]
    ) -> tuple[object, ...] | None:
        """Everything a row's cells are drawn from, as of ``now``: equal keys, equal cells.
        The clock enters only through what it changes (staleness, the age's words, the
        flash, the Trend's minute in ``epoch``)."""
        if row is None:
            return None
        closed = row.get("status") == "CLOSED"
        stale = not self.feed_live or (not closed and now - row.updated_at > self.stale_after)
        if closed:
            age = closed_time_text(row.get("lp_time"), now)
        else:
            age = quote_age_text(now - row.updated_at) if row.updated_at else "—"
        flash = now < row.changed_at.get("last_price", 0.0) + FLASH_SECONDS
        return (dict(row.values), tuple(row.spark), row.direction, row.updated_at, stale, age,
                flash, epoch, id(self.figures.get(code)))  # fmt: skip

    def _cell(
        self, column: Column, code: str, row: QuoteRow | None, now: float, decimals: int = 0
    ) -> tuple[str, Style]:
        """One cell's text (padded to the column width) and style; ``decimals``: the row's
        price precision (:meth:`precision`, found once a row)."""
        width = column.width
        palette = self.palette
        if row is None:
            placeholder = {"symbol": short_code(code, width), "last": "…"}
            text = placeholder.get(column.key, "")
            return (fit_cells(text, width, right=column.right), palette.stale)
        # Stale means "should be moving and is not": a closed market's quiet row is not stale
        # (it shows its last trade's time instead of an age); a feed that is down makes
        # every row stale.
        closed = row.get("status") == "CLOSED"
        stale = not self.feed_live or (not closed and now - row.updated_at > self.stale_after)
        change = row.get("change")
        key = column.key
        style = NO_STYLE
        if key == "symbol":
            text = short_code(code, width)
        elif key == "last":
            text = price_text(row.get("last_price"), decimals)
            flash_end = row.changed_at.get("last_price", 0.0) + FLASH_SECONDS
            if now < flash_end and not stale and row.direction:
                style = palette.up_flash if row.direction > 0 else palette.down_flash
                self.flashing[code] = flash_end
        elif key == "pct":
            pct = row.get("change_percent")
            text = f"{arrow(pct)}{signed(pct, '%')}" if pct is not None else "—"
            style = palette.direction(pct)
        elif key == "chg":  # at the price's own precision, beside it
            text = signed(change, decimals=decimals)
            style = palette.direction(change)
        elif key == "spark":  # the window's own direction: a line that rises is never red
            points = trend_points(row, now)
            text = sparkline(points, width)
            style = palette.direction(points[-1] - points[0] if points else None)
        elif key == "bid":
            text = price_text(row.get("bid"), decimals)
        elif key == "ask":
            text = price_text(row.get("ask"), decimals)
        elif key == "volume":
            text = compact_number(row.get("volume"))
        elif key in POSITION_KEYS:
            figures = self.figures.get(code)
            text = cell_text(key, figures, private=self.private)
            move = direction(key, figures)
            if move is not None:
                style = palette.direction(float(move))
        elif key == "status":
            text = STATUS_SHORT.get(str(row.get("status")), str(row.get("status") or "—"))
        elif key == "delay":
            text = delay_badge(row.get("delay_seconds"))
        elif closed:  # age: the last trade of a closed session (``Fri``)
            text = closed_time_text(row.get("lp_time"), now)
            style = palette.flat
        else:  # age
            text = quote_age_text(now - row.updated_at) if row.updated_at else "—"
            style = palette.flat
        if stale:
            style = palette.stale
        if key in NUMERIC_COLUMNS:
            return (fit_number(text, width), style)
        return (fit_cells(text, width, right=column.right), style)

    def precision(self, code: str, row: QuoteRow) -> int:
        """The decimals of ``code``'s prices: the most its feed has sent in any price (so
        ``1.05418`` / ``1.05422`` never both read ``1.0542``), at least what the price's size
        asks for; it only grows, so a column never jumps between widths."""
        prices = (row.get(name) for name in ("last_price", "bid", "ask"))
        decimals = instrument_decimals(prices, self._precision.get(code, 0))
        self._precision[code] = decimals
        return decimals

    def precision_of(self, code: str) -> int:
        """The decimals ``code``'s row is drawn with (0 before its first price)."""
        return self._precision.get(code, 0)

    def _marked_cells(self, code: str, mark: str) -> list[tuple[str, Style]]:
        """A row that is not subscribed: its symbol, then why, across the other columns."""
        first, *rest = self.columns_shown
        symbol = (fit_cells(short_code(code, first.width), first.width), self.palette.stale)
        if not rest:
            return [symbol]
        room = sum(c.width + 1 for c in rest) - 1
        return [symbol, (fit_cells(mark, room), self.palette.down)]
