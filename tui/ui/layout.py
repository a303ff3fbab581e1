"""The dashboard's layouts: wide (grid, chart and news side by side), medium (grid above,
chart and news below) and compact (one panel at a time, ``c`` and ``n`` to switch), chosen
from the terminal's size unless the config or ``--layout`` forces one."""

from __future__ import annotations

from textual import events

from tui.ui.columns import natural_width
from tui.ui.dashboard import DashboardApp
from tui.ui.grid import QuoteGrid
from tui.ui.panels import NewsList

WIDE_MIN_COLUMNS = 140
"""At least this wide: grid, chart and news side by side."""
WIDE_SIDE_MIN = 40
"""Columns the chart and news keep beside the grid in the wide layout."""
MEDIUM_MIN_COLUMNS = 80
"""At least this wide (and 20 rows): grid above, chart and news below."""
MEDIUM_MIN_ROWS = 20
"""Fewer rows than this use the compact pane layout."""


class LaidOutApp(DashboardApp):
    """Fits the panels to the terminal, and the compact layout's panel switches."""

    def on_resize(self, event: events.Resize) -> None:
        self._apply_layout(event.size.width, event.size.height)

    def _apply_layout(self, width: int, height: int) -> None:
        forced = self.options.layout or self.display_config.layout
        if forced and forced != "auto":
            name = forced
        elif width >= WIDE_MIN_COLUMNS and height >= MEDIUM_MIN_ROWS:
            name = "wide"
        elif width >= MEDIUM_MIN_COLUMNS and height >= MEDIUM_MIN_ROWS:
            name = "medium"
        else:
            name = "compact"
        self.layout_name = name
        main = self.query_one("#main")
        for candidate in ("wide", "medium", "compact"):
            main.set_class(candidate == name, f"-{candidate}")
            self.screen.set_class(candidate == name, f"-{candidate}")
        main.set_class(name == "compact" and self.chart_forced, "-chart")
        main.set_class(name == "compact" and self.news_forced, "-news")
        grid = self.query_one(QuoteGrid)
        grid_width = width
        if name == "wide":  # the grid gets what its columns need, the chart above the news
            # the rest (at least WIDE_SIDE_MIN): wider never shows fewer columns
            grid_width = min(
                natural_width(grid.column_keys, positions=bool(grid.figures)) + 2,
                width - WIDE_SIDE_MIN,
            )
            main.styles.grid_columns = f"{grid_width} 1fr"
            main.styles.grid_rows = f"{max(8, (height - 1) * 3 // 5)} 1fr"
        grid.set_layout(grid_width, compact=name == "compact")
        grid.refresh_rows(grid.codes, self.store, self.now())
        self.call_after_refresh(self._after_layout)

    def _after_layout(self) -> None:
        """Re-fit width-dependent text once the new sizes are known."""
        self._refresh_news()
        self._tick_status()

    def action_toggle_chart(self) -> None:
        self.chart_forced = not self.chart_forced
        self.news_forced = False
        self._apply_layout(self.size.width, self.size.height)

    def action_focus_news(self) -> None:
        """Focus the news list; in the compact layout, ``n`` shows it in place of the grid
        (and again goes back)."""
        if self.layout_name == "compact":
            self.news_forced = not self.news_forced
            self.chart_forced = False
            self._apply_layout(self.size.width, self.size.height)
            if not self.news_forced:
                self.query_one(QuoteGrid).focus()
                return
        news = self.query_one(NewsList)

        def focus_news() -> None:
            news.focus()
            if news.highlighted is None and news.items:
                news.highlighted = 0  # Enter opens a story at once

        self.call_after_refresh(focus_news)
