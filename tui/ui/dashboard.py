"""The dashboard's state as the view holds it (what the session last sent) and how it is
shown: notices, marks, positions, the chart, the news and the once-a-second status."""

from __future__ import annotations

import time
from collections import deque

from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer

from tui.alerts.model import AlertView
from tui.engine.capacity import PlanUse
from tui.engine.status import FeedState, FeedStatus, Notice
from tui.engine.stories import NewsItem
from tui.portfolio.model import PortfolioFile
from tui.session.mirror import StoreMirror
from tui.session.values import SessionBatch, ViewState
from tui.ui.alerts import osc_notification
from tui.ui.grid import QuoteGrid
from tui.ui.keys import KeyedApp
from tui.ui.link import BatchReady, SessionLink, ViewOptions
from tui.ui.painter import PaneScreen
from tui.ui.panels import PAUSED, ChartView, NewsList, NewsTicker, StatusBar
from tui.ui.screens import NoticeHistoryScreen

STATUS_TICK_SECONDS = 1.0
"""Ages, staleness and the status bar refresh this often (inside a batch's frame when one
comes, so the tick costs no frame of its own)."""
NOTICES_KEPT = 500
"""Notices the history screen keeps."""


class DashboardApp(KeyedApp):
    """The view's copy of the dashboard and the widgets it updates."""

    def __init__(self, session: SessionLink, options: ViewOptions) -> None:
        super().__init__(session, options)
        self.store = StoreMirror()
        self.state = ViewState("", [], [], None, "", None, None)
        self.statuses: list[FeedStatus] = []
        self.budget_text = ""
        self.via: str | None = None
        """``leader on HOST`` when the hub is a fleet follower."""
        self.pending: str | None = None
        self.warning: str | None = None
        self.replay_text: str | None = None
        """Where a replay is, from the session (None: not a replay)."""
        self.plan: PlanUse | None = None
        self.marks: dict[str, str] = {}
        self.series_marks: dict[str, str] = {}
        self.layout_name = "medium"
        self.chart_forced = False
        self.news_forced = False
        """Compact layout: the news list in place of the grid (``n``)."""
        self.notice_log: deque[Notice] = deque(maxlen=NOTICES_KEPT)
        """Every notice shown, for the history screen (``N``)."""
        self.portfolio = PortfolioFile()
        """Every portfolio and its lots, as the session last sent them."""
        self.alert_views: list[AlertView] = []
        """Every alert and its state, as the last batch that carried them said."""
        self._last_tick = 0.0
        self._waiting_timer: Timer | None = None
        """Draws rows whose turn has come; paused while none waits."""

    def get_default_screen(self) -> Screen[None]:
        """The dashboard's screen writes only what changed (see :mod:`tui.ui.painter`)."""
        return PaneScreen(id="_default")

    @property
    def focused_code(self) -> str | None:
        """The session's focused symbol, as last told."""
        return self.state.focused_code

    @property
    def paused(self) -> bool:
        """Whether the display is frozen, as last told."""
        return self.state.paused

    def now(self) -> float:
        """Wall clock, or the pinned time of a snapshot test."""
        return self.options.frozen_time if self.options.frozen_time is not None else time.time()

    def _post_batch(self, batch: SessionBatch) -> None:
        """Called by the session (same event loop): hand the batch to the message pump."""
        self.post_message(BatchReady(batch))

    def _show_notice(self, notice: Notice) -> None:
        """A notice as a toast; an alert's also rings the bell and sends a desktop
        notification (OSC 777, for a terminal that shows them) when its flags say so."""
        if not notice.alert:
            self.notify(notice.text, severity=notice.level, timeout=6)
            return
        if notice.show:
            self.notify(notice.text, title="Alert", severity=notice.level, timeout=12)
        if notice.bell:
            self.bell()
        if notice.desktop:
            self.write_osc(osc_notification(notice.text))

    def write_osc(self, sequence: str) -> None:
        """Write a terminal control sequence we made (never feed text: see
        :func:`osc_notification`) straight to the terminal."""
        driver = self._driver
        if driver is not None:
            driver.write(sequence)

    def _apply_marks(self, batch: SessionBatch) -> None:
        """Rows and charts not subscribed (plan full, or rejected by the server), and why."""
        if batch.marks != self.marks:
            self.marks = batch.marks
            grid = self.query_one(QuoteGrid)
            grid.marks = batch.marks
            grid.refresh_rows(grid.codes, self.store, self.now())
        if batch.series_marks != self.series_marks:
            self.series_marks = batch.series_marks
            self._update_chart()

    def _holds(self, batch: SessionBatch) -> bool:
        """Whether ``batch`` brings a quote a position is valued at (or an FX rate)."""
        figures = self.query_one(QuoteGrid).figures
        return bool(figures) and any(
            q.code in figures or q.code.startswith("FX:") for q in batch.quotes
        )

    def _draw_waiting_rows(self) -> None:
        """Rows that changed faster than ``display.row_hz`` are drawn on their turn even when
        no batch comes then (a quiet market sends one a second)."""
        try:
            grid = self.query_one(QuoteGrid)
        except NoMatches:  # the app is closing: the dashboard's screen is gone
            return
        if grid.waiting and not self.paused:
            with self.batch_update():
                grid.draw_due(self.store, self.now())
        if not grid.waiting and self._waiting_timer is not None:
            self._waiting_timer.pause()  # a batch that leaves a row waiting resumes it

    def _live_ok(self) -> bool:
        live = [s for s in self.statuses if s.name == "live"]
        return not live or live[0].state is FeedState.LIVE

    def _update_chart(self) -> None:
        chart = self.query_one(ChartView)
        state = self.state
        chart.mode = state.chart_mode
        chart.fill_gaps_seconds = state.fill_gaps_seconds
        code = state.focused_code
        gaps = "gaps filled" if state.fill_gaps_seconds else ""
        label = " · ".join(p for p in (state.interval_label, state.adjustment, gaps) if p)
        chart.mark = self.series_marks.get(code or "")
        chart.decimals = self.query_one(QuoteGrid).precision_of(code or "")
        chart.show(code, self.store.series.get(code or ""), label)

    def _news_items(self) -> list[NewsItem]:
        items = list(reversed(self.store.news))
        if self.state.news_filter and self.focused_code:
            symbol = self.focused_code.split(":", 1)[-1]
            items = [i for i in items if symbol in i.tickers]
        return items

    def _refresh_news(self) -> None:
        items = self._news_items()
        self.query_one(NewsList).show(items)
        self.query_one(NewsTicker).show(items[0] if items else None, self.palette)

    def _tick_if_due(self) -> None:
        """The once-a-second status tick, when no batch has carried it lately (a silent feed,
        a replay, a paused screen)."""
        if time.monotonic() - self._last_tick >= STATUS_TICK_SECONDS * 1.5:
            try:
                self._tick_status()
            except NoMatches:  # the app is closing: the dashboard's widgets are gone
                return

    def _tick_status(self) -> None:
        """Ages, staleness and the status bar."""
        self._last_tick = time.monotonic()
        if not self.paused:
            grid = self.query_one(QuoteGrid)
            grid.feed_live = self._live_ok()
            grid.resort(self.store)  # a sorted grid re-sorts once a second, not per tick
            grid.tick(self.store, self.now())  # ages and staleness, once a second
        extra: list[str] = []
        if self.paused:
            extra.append(PAUSED)
        if self.state.demo:
            extra.append("DEMO data (simulator)")
        if self.state.replay:
            extra.append(self.replay_text or "REPLAY of a recording")
        if self.plan is not None:
            extra.append(("!" if self.plan.left_out else "") + self.plan.describe())
        if self.pending:
            extra.append(self.pending)
        if self.warning:
            extra.append(self.warning)
        if self.via is not None:  # a fleet follower: another host's hub holds the upstream
            extra.append(f"via {self.via}")
        elif getattr(self.session, "hub_pid", None) is not None:
            extra.append("via hub")  # one upstream shared with the account's other panes
        if self.budget_text:  # parts that do not fit are dropped from the end, whole
            extra.append(self.budget_text)
        if self.state.news_filter:
            extra.append(f"news: {self.focused_code or 'all'}")
        self.query_one(StatusBar).show(self.statuses, extra, self.palette, self.now())

    def action_notice_history(self) -> None:
        self.push_screen(NoticeHistoryScreen(list(self.notice_log)))
