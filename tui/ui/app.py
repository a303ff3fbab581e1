"""The marketpane Textual view: keys become session commands, session batches become pixels.

The view holds no dashboard state of its own beyond layout and focus: the watchlists, the
focused symbol, chart settings and modes live in the session (``tui/session/``), which may run
in this process or another. Batches are applied to a :class:`StoreMirror` the widgets draw
from; the next batch is asked for only once this one is on screen.
"""

from __future__ import annotations

import datetime as dt
import gc
import time
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import App, ComposeResult
from textual.containers import Container
from textual.worker import Worker, WorkerState

from tui.engine.status import Notice
from tui.portfolio.model import Portfolio
from tui.portfolio.pnl import portfolio_figures
from tui.secrets import mask_secrets
from tui.session.values import SessionBatch, SetTheme, ViewState
from tui.ui.alerts import AlertListScreen
from tui.ui.commands import MarketpaneCommands
from tui.ui.dashboard import (
    STATUS_TICK_SECONDS,
)
from tui.ui.grid import QuoteGrid
from tui.ui.holdings import SymbolDetailScreen
from tui.ui.layout import LaidOutApp
from tui.ui.link import BatchReady, SessionLink, ViewOptions
from tui.ui.panels import ChartView, NewsList, NewsTicker, StatusBar
from tui.ui.positions import totals_lines

__all__ = ["BatchReady", "MarketpaneApp", "SessionLink", "ViewOptions"]


class MarketpaneApp(LaidOutApp):
    """Live quotes, chart and news in one keyboard-driven screen."""

    TITLE = "marketpane"
    COMMANDS: ClassVar = App.COMMANDS | {MarketpaneCommands}
    CSS_PATH = "app.tcss"

    # ---- setup ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Container(id="main"):
            yield QuoteGrid(id="grid")
            yield ChartView(id="chart")
            yield NewsList(id="news")
        yield NewsTicker(id="ticker")
        yield StatusBar(id="status")

    def on_load(self) -> None:
        """The session starts before the screen is built: its connections are made while
        Textual composes and draws the first frame (its batches wait in the app's queue
        until the dashboard is mounted)."""
        self.session_worker = self.run_worker(
            self.session.run(self._post_batch), name="engine", group="engine", exit_on_error=False
        )

    def on_mount(self) -> None:
        self._load_themes()
        self.theme_changed_signal.subscribe(self, self._on_theme_changed)
        self._on_theme_changed(self.current_theme)
        grid = self.query_one(QuoteGrid)
        grid.stale_after = self.display_config.stale_after_seconds
        grid.column_keys = self.display_config.columns
        grid.row_seconds = 1.0 / self.display_config.row_hz
        self._apply_layout(self.size.width, self.size.height)
        self.set_interval(STATUS_TICK_SECONDS / 2, self._tick_if_due)
        # draws rows on their turn; it runs only while one waits (no wake-ups when quiet)
        self._waiting_timer = self.set_interval(
            grid.row_seconds / 2, self._draw_waiting_rows, pause=True
        )
        grid.on_wait = self._waiting_timer.resume
        self._tick_status()
        if self.options.startup_notice:
            self.notify(self.options.startup_notice, severity="warning", timeout=10)
            self.notice_log.append(Notice("warning", self.options.startup_notice, time.time()))
        if self.options.settle_heap:
            self.call_after_refresh(gc.freeze)
        if self.options.first_frame_file is not None:
            self.call_after_refresh(self._first_frame, self.options.first_frame_file)

    def _first_frame(self, path: Path) -> None:
        """Record when the first frame was drawn, then quit (benchmark only)."""
        path.write_text(f"{time.time():.6f}")
        self.run_worker(self.action_quit(), exit_on_error=False)

    def palette_changed(self) -> None:
        grid = self.query_one(QuoteGrid)
        grid.palette = self.palette
        grid.cells.clear()
        grid.restyle()
        self.query_one(ChartView).palette = self.palette
        self.query_one(NewsList).palette = self.palette
        grid.refresh_rows(grid.codes, self.store, self.now())
        self._update_chart()
        self._refresh_news()

    def theme_chosen(self, name: str) -> None:
        self.session.send(SetTheme(name))

    # ---- batches ----------------------------------------------------------------------------

    @on(BatchReady)
    def _on_batch(self, message: BatchReady) -> None:
        batch = message.batch
        try:
            for notice in batch.notices:
                self._show_notice(notice)
                self.notice_log.append(notice)
            if batch.portfolio is not None:
                self.portfolio = batch.portfolio
            if batch.alerts is not None:
                self.alert_views = batch.alerts
                if isinstance(self.screen, AlertListScreen):
                    self.screen.show(batch.alerts)
            if isinstance(self.screen, SymbolDetailScreen) and (
                batch.quotes or batch.series or batch.news or batch.portfolio is not None
            ):
                self.screen.refresh_content()
            self.store.apply_batch(batch)
            self.statuses, self.budget_text = batch.statuses, batch.budget
            self.pending = batch.pending
            self.replay_text = batch.replay
            self.warning = batch.warning
            self.plan = batch.plan
            self.via = batch.via
            self._apply_marks(batch)
            if batch.portfolio is not None or self._holds(batch):
                self.update_positions()
            if batch.state is not None:
                self._show_state(batch.state)
            elif not self.paused:
                self._show_changes(batch)
            if self.options.probe is not None:
                self.call_after_refresh(self.options.probe.drawn, self, batch)
        finally:  # the next batch once this one is on screen
            self.call_after_refresh(self.session.batch_done)

    def _show_state(self, state: ViewState) -> None:
        """A new view state: the watchlist, focus, chart settings or a mode changed."""
        self.state = state
        grid = self.query_one(QuoteGrid)
        if grid.title != state.watchlist_name:
            grid.title = state.watchlist_name or "Symbol"
            grid.refresh()
        grid.set_symbols(state.codes, self.store)
        if self.portfolio.portfolios:
            self.update_positions()  # the positions view has totals, a watchlist none
        if not state.paused:
            grid.feed_live = self._live_ok()
            grid.refresh_rows(grid.codes, self.store, self.now())
            self._update_chart()
            self._refresh_news()
        self._tick_status()

    def _show_changes(self, batch: SessionBatch) -> None:
        """Draw what a batch changed, in one frame."""
        now = self.now()
        grid = self.query_one(QuoteGrid)
        grid.feed_live = self._live_ok()
        with self.batch_update():
            if batch.quotes:
                grid.refresh_rows({q.code for q in batch.quotes}, self.store, now, paced=True)
            grid.draw_due(self.store, now)  # rows whose turn came, at their newest value
            grid.tick_flashes(self.store, now)  # end flashes in the same frame
            if any(delta.code == self.focused_code for delta in batch.series):
                self._update_chart()
            if batch.news:
                self._refresh_news()
            if time.monotonic() - self._last_tick >= STATUS_TICK_SECONDS - 0.1:
                self._tick_status()  # in the batch's frame rather than a frame of its own

    def update_positions(self) -> None:
        """Value every position at the mirror's quotes; totals per portfolio in the
        positions view (``P``). New columns appear when the first lot does."""
        grid = self.query_one(QuoteGrid)
        book = self.portfolio
        had = bool(grid.figures)
        quotes = self.store.quotes

        def values(code: str) -> dict[str, object] | None:
            row = quotes.get(code)
            return row.values if row is not None else None

        today = dt.date.today()
        held = Portfolio(name="all", lots=[lot for p in book.portfolios for lot in p.lots])
        rows, _ = portfolio_figures(held, values, today)
        grid.figures = {r.position.symbol: r for r in rows}
        footer: list[tuple[str, dict[str, str]]] = []
        if self.state is not None and self.state.positions:
            for portfolio in book.portfolios:
                _, totals = portfolio_figures(
                    portfolio, values, today, base_currency=book.base_currency
                )
                footer += totals_lines(totals, private=grid.private)
        grid.set_footer(footer)
        if bool(grid.figures) != had:
            self._apply_layout(self.size.width, self.size.height)
        else:
            grid.refresh_rows(list(grid.figures), self.store, self.now())

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name == "engine" and event.state is WorkerState.ERROR:
            error = event.worker.error
            self.notify(
                mask_secrets(f"The feed engine failed: {error!r}. Press r to restart."),
                severity="error",
                timeout=15,
            )
