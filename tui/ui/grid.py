"""The quote grid: keyed rows, fixed-width columns, cell-level updates, flashes, staleness.

Columns have fixed widths (``update_width`` on the hot path is a known CPU trap) and the least
important drop first as the pane narrows. Only cells whose text changed are updated.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from tui.engine.store import MarketStore, QuoteRow
from tui.ui.render import (
    Palette,
    age_text,
    arrow,
    compact_number,
    delay_badge,
    price_text,
    signed,
    sparkline,
)

FLASH_SECONDS = 0.6
"""How long a changed price stays highlighted."""
STATUS_SHORT = {"PRE": "PRE", "REG": "REG", "POST": "POST", "CLOSED": "CLSD"}
"""Session status labels."""


@dataclass(frozen=True)
class Column:
    """One grid column: key, header, width, and keep-priority (lower is kept longer)."""

    key: str
    label: str
    width: int
    priority: int
    right: bool = True


COLUMNS = (
    Column("symbol", "Symbol", 12, 0, right=False),
    Column("last", "Last", 10, 1),
    Column("pct", "Chg%", 8, 2),
    Column("spark", "Trend", 10, 3, right=False),
    Column("chg", "Chg", 9, 4),
    Column("age", "Age", 4, 5),
    Column("status", "Sess", 4, 6, right=False),
    Column("delay", "Dly", 3, 7, right=False),
    Column("volume", "Volume", 7, 8),
    Column("bid", "Bid", 10, 9),
    Column("ask", "Ask", 10, 10),
)
"""Every column in display order."""
COMPACT_KEYS = ("symbol", "last", "pct", "spark")
"""Compact pane mode: symbol, last, change %, sparkline."""


COMPACT_WIDTHS = {"symbol": 8, "last": 10, "pct": 8}
"""Narrower fixed widths in compact mode; the sparkline takes what is left (4 to 12)."""


def columns_for_width(width: int, *, compact: bool) -> list[Column]:
    """The columns that fit ``width`` cells, most important kept, display order preserved."""
    if compact:
        fixed = [
            Column(c.key, c.label, COMPACT_WIDTHS[c.key], c.priority, c.right)
            for c in COLUMNS
            if c.key in COMPACT_WIDTHS
        ]
        left = width - sum(c.width + 1 for c in fixed) - 1
        if left >= 4:
            fixed.insert(3, Column("spark", "Trend", min(12, left), 3, right=False))
        return fixed
    candidates = list(COLUMNS)
    chosen: list[Column] = []
    used = 0
    for column in sorted(candidates, key=lambda c: c.priority):
        cost = column.width + 1
        if used + cost <= width or not chosen:
            chosen.append(column)
            used += cost
    order = {c.key: i for i, c in enumerate(COLUMNS)}
    return sorted(chosen, key=lambda c: order[c.key])


class QuoteGrid(DataTable[Text]):
    """The watchlist as a table of live quotes."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    DEFAULT_CSS = """
    QuoteGrid { height: 1fr; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", cell_padding=0, zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self.codes: list[str] = []
        self.columns_shown: list[Column] = []
        self.rendered: dict[tuple[str, str], str] = {}
        self.compact = False
        self.palette = Palette.from_variables({})
        self.stale_after = 30.0
        self.feed_live = True

    # ---- structure ------------------------------------------------------------------------

    def set_layout(self, width: int, compact: bool) -> None:
        """Choose columns for ``width``; rebuild only when the set changes."""
        wanted = columns_for_width(max(10, width - 2), compact=compact)
        self.compact = compact
        if wanted == self.columns_shown:
            return
        self.columns_shown = wanted
        self._rebuild()

    def set_symbols(self, codes: list[str]) -> None:
        """Show these symbols, in order."""
        if codes == self.codes:
            return
        self.codes = list(codes)
        self._rebuild()

    def _rebuild(self) -> None:
        cursor = self.cursor_row
        self.clear(columns=True)
        self.rendered.clear()
        for column in self.columns_shown:
            header = column.label.rjust(column.width) if column.right else column.label
            label = Text(header[: column.width])
            self.add_column(label, width=column.width + 1, key=column.key)
        for code in self.codes:
            self.add_row(*[Text("") for _ in self.columns_shown], key=code)
        if self.codes:
            self.move_cursor(row=min(max(cursor, 0), len(self.codes) - 1))

    @property
    def highlighted_code(self) -> str | None:
        """The symbol under the cursor."""
        if not self.codes or self.cursor_row < 0 or self.cursor_row >= len(self.codes):
            return None
        return self.codes[self.cursor_row]

    # ---- content --------------------------------------------------------------------------

    def refresh_rows(self, codes: set[str] | list[str], store: MarketStore, now: float) -> None:
        """Redraw the cells of ``codes`` that changed."""
        for code in codes:
            if code not in self.codes:
                continue
            row = store.quotes.get(code)
            for column in self.columns_shown:
                cell = self._cell(column, code, row, now)
                key = (code, column.key)
                signature = f"{cell.plain}|{cell.style}|{[s.style for s in cell.spans]}"
                if self.rendered.get(key) != signature:
                    self.rendered[key] = signature
                    self.update_cell(code, column.key, cell)

    def _cell(self, column: Column, code: str, row: QuoteRow | None, now: float) -> Text:
        """One cell's text and style."""
        width = column.width
        justify = "right" if column.right else "left"
        palette = self.palette
        if row is None:
            text = (
                _short_code(code, width)
                if column.key == "symbol"
                else ("…" if column.key == "last" else "")
            )
            return Text(text.rjust(width) if column.right else text, style=palette.stale)
        stale = (now - row.updated_at > self.stale_after) or not self.feed_live
        change = row.get("change")
        key = column.key
        style: Style | str = ""
        if key == "symbol":
            text = _short_code(code, width)
            style = palette.stale if stale else ""
        elif key == "last":
            text = price_text(row.get("last_price"))
            changed = now - row.changed_at.get("last_price", 0.0) < FLASH_SECONDS
            if changed and not stale and row.direction:
                style = palette.up_flash if row.direction > 0 else palette.down_flash
            else:
                style = palette.stale if stale else ""
        elif key == "pct":
            pct = row.get("change_percent")
            text = f"{arrow(pct)}{signed(pct, '%')}" if pct is not None else "—"
            style = palette.stale if stale else palette.direction(pct)
        elif key == "chg":
            text = signed(change, decimals=2 if abs(change or 0) >= 0.01 else 5)
            style = palette.stale if stale else palette.direction(change)
        elif key == "spark":
            text = sparkline(row.spark, width)
            style = palette.stale if stale else palette.direction(change)
        elif key == "bid":
            text = price_text(row.get("bid"))
        elif key == "ask":
            text = price_text(row.get("ask"))
        elif key == "volume":
            text = compact_number(row.get("volume"))
        elif key == "status":
            text = STATUS_SHORT.get(str(row.get("status")), str(row.get("status") or "—"))[:width]
        elif key == "delay":
            text = delay_badge(row.get("delay_seconds"))
        else:  # age
            text = age_text(now - row.updated_at) if row.updated_at else "—"
            style = palette.stale if stale else palette.flat
        if stale and not style:
            style = palette.stale
        text = text[:width]
        return Text(text.rjust(width) if justify == "right" else text.ljust(width), style=style)

    def tick(self, store: MarketStore) -> None:
        """Periodic redraw of ages, expiring flashes and staleness."""
        self.refresh_rows(self.codes, store, time.time())


def _short_code(code: str, width: int) -> str:
    """The code, or just the symbol part when the column is narrow."""
    return code if len(code) <= width else code.split(":", 1)[-1][:width]
