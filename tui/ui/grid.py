"""The quote grid: keyed rows, fixed-width columns, cell-level updates, flashes, staleness.

Columns have fixed widths (``update_width`` on the hot path is a known CPU trap) and the least
important drop first as the pane narrows. Only cells whose text changed are updated.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.engine.store import SPARK_SECONDS, MarketStore
from tui.portfolio.pnl import Figures
from tui.ui.columns import SORTS, Column, columns_for_width, sort_codes
from tui.ui.gridcells import Cells, RowCells
from tui.ui.render import Palette, fit_cells, fit_number


class QuoteGrid(RowCells, ScrollView, can_focus=True):
    """The watchlist as a table of live quotes, drawn line by line.

    Each row's strip is cached with a signature of its cells; an update re-renders only the
    rows whose text or style changed, and repaints only their lines. (Textual's DataTable
    re-renders every visible row on any ``update_cell``, which cost most of a core at 50
    symbols in the benchmark.)
    """

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "cursor(-10)", "Page up", show=False),
        Binding("pagedown", "cursor(10)", "Page down", show=False),
        Binding("home", "cursor(-100000)", "First", show=False),
        Binding("end", "cursor(100000)", "Last", show=False),
        Binding("enter", "select", "Chart symbol", show=False),
    ]
    COMPONENT_CLASSES = {"quote-grid--header", "quote-grid--cursor"}
    DEFAULT_CSS = """
    QuoteGrid { height: 1fr; scrollbar-size-vertical: 1; }
    QuoteGrid > .quote-grid--header { text-style: bold; background: $panel; }
    QuoteGrid > .quote-grid--cursor { background: $mp-cursor; }
    QuoteGrid:focus > .quote-grid--cursor { background: $mp-cursor; text-style: bold; }
    """

    class Selected(Message):
        """Enter (or a click) on a row."""

        def __init__(self, code: str) -> None:
            super().__init__()
            self.code = code

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.codes: list[str] = []
        """Rows in the order shown (the watchlist's, or sorted)."""
        self.watch_order: list[str] = []
        """The watchlist's own order."""
        self.sort = "watchlist"
        self.title = "Symbol"
        """The symbol column's header: the watchlist's name."""
        self.column_keys: list[str] | None = None
        """The config's ``display.columns`` (None: every column)."""
        self.columns_shown: list[Column] = []
        self.cells: dict[str, Cells] = {}
        self.row_seconds = 0.25
        """The least time between two draws of one row (``1 / display.row_hz``)."""
        self.drawn_at: dict[str, float] = {}
        """When each row's cells last changed on screen (monotonic)."""
        self.waiting: set[str] = set()
        """Rows with a change not drawn yet: their turn has not come (:meth:`draw_due`)."""
        self.on_wait: Callable[[], None] | None = None
        """Called when a row starts waiting (the app's timer that draws them on their turn)."""
        self.rows_drawn = 0
        """Rows repainted because their cells changed (the tests and the benchmark read it)."""
        self.strips: dict[str, Strip] = {}
        self.cursor_row = 0
        self._precision: dict[str, int] = {}
        self._keys: dict[str, tuple[object, ...] | None] = {}
        """What each row's cells were last computed from (:meth:`_row_key`)."""
        self.follow: str | None = None
        """A symbol the cursor moves to when it next appears (the row ``u`` brings back)."""
        self.compact = False
        self.palette = Palette.from_variables({})
        self.stale_after = 30.0
        self.feed_live = True
        self.marks: dict[str, str] = {}
        """Rows not subscribed, and why: drawn across the row in place of its values."""
        self.flashing: dict[str, float] = {}
        """Rows drawn with a price flash, and when it ends."""
        self.figures: dict[str, Figures] = {}
        """Positions valued at the last quotes, by symbol (the app recomputes them)."""
        self.private = False
        """Privacy mode (``*``): amounts drawn as ``•••``."""
        self.footer: list[tuple[str, dict[str, str]]] = []
        """Totals lines (label, cells by column key), drawn at the bottom, always visible."""
        self._base_style: Style | None = None

    # ---- structure ------------------------------------------------------------------------

    def set_layout(self, width: int, compact: bool) -> None:
        """Choose columns for ``width``; rebuild only when the set changes."""
        wanted = columns_for_width(
            max(10, width - 2), compact=compact, keys=self.column_keys, positions=bool(self.figures)
        )
        self.compact = compact
        if wanted == self.columns_shown:
            return
        self.columns_shown = wanted
        self._invalidate()

    def set_symbols(self, codes: list[str], store: MarketStore | None = None) -> None:
        """Show these symbols (the watchlist's order; sorted if a sort is chosen)."""
        self.watch_order = list(codes)
        self.resort(store)

    def resort(self, store: MarketStore | None) -> None:
        """Put the rows in the chosen order; the cursor stays on its symbol."""
        codes = sort_codes(self.watch_order, self.sort, store)
        if codes == self.codes:
            return
        current = self.highlighted_code
        added = [c for c in codes if c not in self.codes]
        self.codes = codes
        if self.follow is not None and self.follow in added:  # a row brought back (u)
            current, self.follow = self.follow, None
        if current in codes:
            self.cursor_row = codes.index(current)
        self.cursor_row = min(self.cursor_row, max(0, len(codes) - 1))
        self._invalidate()

    def cycle_sort(self, store: MarketStore | None) -> str:
        """Next sort; returns its words."""
        keys = [key for key, _ in SORTS]
        self.sort = keys[(keys.index(self.sort) + 1) % len(keys)]
        self.resort(store)
        self.refresh()  # the header shows the sort
        return dict(SORTS)[self.sort]

    def header_text(self) -> str:
        """The header: the watchlist's name over the symbols, the sort marked."""
        parts = []
        for column in self.columns_shown:
            label = self.title if column.key == "symbol" else column.label
            if column.key == self.sort:
                label = f"{label}{'▲' if column.key == 'symbol' else '▼'}"
            parts.append(fit_cells(label, column.width, right=column.right) + " ")
        return "".join(parts)

    def _invalidate(self) -> None:
        """Forget every cached row and repaint."""
        self.cells.clear()
        self.strips.clear()
        width = sum(c.width + 1 for c in self.columns_shown)
        self.virtual_size = Size(width, len(self.codes) + 1 + len(self.footer))
        self.refresh()

    def set_footer(self, lines: list[tuple[str, dict[str, str]]]) -> None:
        """The totals lines; repaint when they changed."""
        if lines != self.footer:
            resize = len(lines) != len(self.footer)
            self.footer = lines
            if resize:
                self._invalidate()
            else:
                self.refresh()

    def footer_text(self, label: str, cells: dict[str, str]) -> str:
        """A totals line: the label from the left (running into columns with no total, never
        cut), each total right-aligned in its column."""
        text = label + " "
        shown = {column.key for column in self.columns_shown}
        if not shown & set(cells):  # a narrow pane has no position columns: the P&L in words
            pnl = cells.get("pnl", "")
            return f"{label}  P&L {pnl}" if pnl else f"{label}  {cells.get('value', '')}"
        x = 0
        for column in self.columns_shown:
            value = cells.get(column.key) if column.key != "symbol" else None
            if value is not None and x >= cell_len(text):
                text += " " * (x - cell_len(text)) + fit_number(value, column.width)
            x += column.width + 1
        return text

    @property
    def highlighted_code(self) -> str | None:
        """The symbol under the cursor."""
        if not self.codes or not 0 <= self.cursor_row < len(self.codes):
            return None
        return self.codes[self.cursor_row]

    def move_cursor(self, *, row: int) -> None:
        """Put the cursor on ``row`` (clamped) and keep it visible."""
        if not self.codes:
            return
        old = self.cursor_row
        self.cursor_row = max(0, min(len(self.codes) - 1, row))
        for index in {old, self.cursor_row}:
            if 0 <= index < len(self.codes):
                self.strips.pop(self.codes[index], None)
                self._refresh_row(index)
        top = self.scroll_offset.y
        visible = max(1, self.size.height - 1 - len(self.footer))
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False)

    def on_focus(self) -> None:
        self.restyle()

    def on_blur(self) -> None:
        self.restyle()

    def notify_style_update(self) -> None:
        """Textual's hook after the CSS changed (theme, focus pseudo-classes)."""
        super().notify_style_update()
        self._forget_styles()

    def _forget_styles(self) -> None:
        self._base_style = None
        self.strips.clear()

    def restyle(self) -> None:
        """Forget the cached styles and strips (focus or theme changed) and repaint."""
        self._forget_styles()
        self.refresh()

    def action_cursor(self, step: int) -> None:
        self.move_cursor(row=self.cursor_row + step)

    def action_select(self) -> None:
        code = self.highlighted_code
        if code is not None:
            self.post_message(self.Selected(code))

    def on_click(self, event: events.Click) -> None:
        row = self.scroll_offset.y + event.y - 1
        if event.y >= 1 and 0 <= row < len(self.codes):
            self.move_cursor(row=row)
            self.action_select()

    def _refresh_row(self, index: int) -> None:
        y = index + 1 - self.scroll_offset.y
        if 1 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def _refresh_cells(self, index: int, old: Cells | None, new: Cells) -> None:
        """Repaint only the runs of cells that differ between ``old`` and ``new`` (the whole
        row when the columns differ): the dashboard's painter then writes just those."""
        y = index + 1 - self.scroll_offset.y
        if not 1 <= y < self.size.height:
            return
        if old is None or len(old) != len(new):
            self.refresh(Region(0, y, self.size.width, 1))
            return
        x = 0
        start: int | None = None
        regions: list[Region] = []
        for before, after in zip(old, new, strict=True):
            width = cell_len(after[0]) + 1
            if before != after:
                if start is None:
                    start = x
            elif start is not None:
                regions.append(Region(start, y, x - start, 1))
                start = None
            x += width
        if start is not None:
            regions.append(Region(start, y, min(x, self.size.width) - start, 1))
        if regions:
            self.refresh(*regions)  # one call a row: each costs Textual a walk to the screen

    # ---- content --------------------------------------------------------------------------

    def refresh_rows(
        self, codes: set[str] | list[str], store: MarketStore, now: float, *, paced: bool = False
    ) -> None:
        """Recompute the cells of ``codes``; repaint only rows whose cells changed. ``paced``
        (a batch's quotes): a row drawn less than ``1 / row_hz`` ago waits for its turn
        (:meth:`draw_due`), when it is drawn with the newest value."""
        positions = {code: i for i, code in enumerate(self.codes)}
        clock = time.monotonic()
        epoch = (id(self.palette), self.private, self.feed_live, self.stale_after,
                 id(self.figures), int(now // SPARK_SECONDS))  # fmt: skip
        for code in codes:
            index = positions.get(code)
            if index is None:  # no longer shown: nothing of it waits
                self.waiting.discard(code)
                self.drawn_at.pop(code, None)
                continue
            if (  # a row's first price is drawn at once: only a change to one shown waits
                paced
                and self._keys.get(code) is not None
                and clock - self.drawn_at.get(code, -1.0) < self.row_seconds
            ):
                if not self.waiting and self.on_wait is not None:
                    self.on_wait()
                self.waiting.add(code)
                continue
            self.waiting.discard(code)
            mark = self.marks.get(code)
            if mark is not None:
                self._keys.pop(code, None)
                cells = self._marked_cells(code, mark)
            else:
                row = store.quotes.get(code)
                key = self._row_key(code, row, now, epoch)
                if key is not None and key == self._keys.get(code) and code in self.cells:
                    continue  # nothing a cell shows has changed (most rows, once a second)
                self._keys[code] = key
                decimals = self.precision(code, row) if row is not None else 0
                cells = [self._cell(c, code, row, now, decimals) for c in self.columns_shown]
            old = self.cells.get(code)
            if old != cells:
                self.cells[code] = cells
                self.strips.pop(code, None)
                self.drawn_at[code] = clock
                self.rows_drawn += 1
                self._refresh_cells(index, old, cells)

    def render_lines(self, crop: Region) -> list[Strip]:
        """The grid's lines for ``crop``, each row's cached strip with the app's filters.

        Textual's styles cache builds two new strips a line (its own and the filtered copy),
        so even an unchanged row costs a strip and a filter pass. With no border, padding,
        tint or opacity that layer adds nothing to a row, and a cached row keeps its filtered
        copy; anything else goes through Textual as usual.
        """
        if not self._plain_box():
            return super().render_lines(crop)
        width = self.size.width
        background = self.background_colors[1]
        filters = self.get_line_filters()
        strips: list[Strip] = []
        for y in crop.line_range:
            strip = self.render_line(y).adjust_cell_length(width)
            for line_filter in filters:
                strip = strip.apply_filter(line_filter, background)
            strips.append(strip)
        if crop.column_span != (0, width):
            x1, x2 = crop.column_span
            strips = [strip.crop(x1, x2) for strip in strips]
        return strips

    def _plain_box(self) -> bool:
        """No border, outline, padding, tint, opacity or hatch: Textual's styling of a line
        would hand it back as it is."""
        styles = self.styles
        return (
            not any(edge for edge, _ in styles.border)
            and not any(edge for edge, _ in styles.outline)
            and not any(styles.padding)
            and not styles.tint.a
            and self.opacity == 1.0
            and styles.text_opacity == 1.0
            and not (styles.has_rule("hatch") and styles.hatch != "none")
        )  # (and no links to hover: the grid's segments carry none)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            style = self.get_component_rich_style("quote-grid--header")
            return Strip([Segment(fit_cells(self.header_text(), width), style)], width)
        from_bottom = self.size.height - y
        if 0 < from_bottom <= len(self.footer):  # totals stay in view however far it scrolls
            label, cells = self.footer[len(self.footer) - from_bottom]
            style = self.get_component_rich_style("quote-grid--header")
            return Strip([Segment(fit_cells(self.footer_text(label, cells), width), style)], width)
        index = self.scroll_offset.y + y - 1
        if not 0 <= index < len(self.codes):
            base = self._base_style
            if base is None:  # ``rich_style`` walks the DOM: once per style change, not per line
                base = self._base_style = self.rich_style
            return Strip.blank(width, base)
        code = self.codes[index]
        strip = self.strips.get(code)
        if strip is None or strip.cell_length != width:
            strip = self._row_strip(code, index, width)
            self.strips[code] = strip
        return strip

    def _row_strip(self, code: str, index: int, width: int) -> Strip:
        """Segments for one row, with the cursor style laid over when it is on the row."""
        base = self._base_style
        if base is None:  # ``rich_style`` is recomputed after every refresh(region): cache it
            base = self._base_style = self.rich_style
        cells = self.cells.get(code)
        if cells is None:
            cells = [self._cell(column, code, None, 0.0) for column in self.columns_shown]
        cursor = (
            self.get_component_rich_style("quote-grid--cursor")
            if (index == self.cursor_row)
            else None
        )
        segments: list[Segment] = []
        used = 0
        for text, style in cells:
            chunk = text + " "
            if cursor is not None and style is self.palette.stale:
                style = self.palette.cursor_dim  # readable on the cursor
            combined = base + style
            if cursor is not None:  # the theme's cursor colour keeps every cell at 4.5:1;
                combined = combined + Style(  # dim would undo that, so it is dropped
                    bgcolor=cursor.bgcolor, bold=bool(cursor.bold), dim=False
                )
            segments.append(Segment(chunk, combined))
            used += cell_len(chunk)
        if used < width:
            pad = base + Style(bgcolor=cursor.bgcolor) if cursor is not None else base
            segments.append(Segment(" " * (width - used), pad))
            return Strip(segments, width)
        # a segment a cell, not simplified: a repainted cell is written from its own first
        # column, and the painter writes no style code where a cell's style is its neighbour's
        return Strip(segments, used).crop(0, width)

    def row_text(self, code: str) -> str:
        """The plain text of a row (for tests)."""
        return " ".join(text for text, _ in self.cells.get(code, []))

    def draw_due(self, store: MarketStore, now: float) -> None:
        """Draw the rows whose changes waited for their turn and whose turn has come."""
        if not self.waiting:
            return
        clock = time.monotonic()
        due = [c for c in self.waiting if clock - self.drawn_at.get(c, -1.0) >= self.row_seconds]
        if due:
            self.refresh_rows(due, store, now)

    def tick_flashes(self, store: MarketStore, now: float) -> None:
        """Redraw only rows whose price flash has ended (a row still flashing is kept)."""
        due = [code for code, end in self.flashing.items() if end <= now]
        for code in due:
            del self.flashing[code]
        if due:
            self.refresh_rows(due, store, now)

    def tick(self, store: MarketStore, now: float) -> None:
        """Periodic redraw of ages, expiring flashes and staleness (unchanged rows cost a
        comparison, not a repaint)."""
        self.refresh_rows(self.codes, store, now)
