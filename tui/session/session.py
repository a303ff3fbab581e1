"""The dashboard's state and actions, with no Textual in it.

A :class:`Session` owns the watchlists (from the config, or the ``--symbols`` list as an
unsaved watchlist: one code path for both), the focused symbol and its chart settings, the
display modes, the desired subscription set, saving to the config file, and the feed engine.
A view sends it :mod:`commands <tui.session.values>` and receives :class:`SessionBatch` values
through ``on_batch``; the next batch comes only after the view calls :meth:`batch_done`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import assert_never

from tui.config import (
    Watchlist,
    WatchSymbol,
)
from tui.engine.engine import Engine
from tui.engine.replay import ReplayClock, replay_into
from tui.engine.rest import RestError
from tui.engine.status import Batch, Notice
from tui.engine.store import SeriesChange
from tui.portfolio.model import (
    PortfolioError,
    PortfolioFile,
    load_portfolio,
    portfolio_path,
)
from tui.protocol.live import Subscription
from tui.protocol.rest import SymbolInfo
from tui.session.early import StartsEarly
from tui.session.filewatch import FileWatch
from tui.session.forward import Forwarding
from tui.session.state import (
    INTERVALS,
    REPLAY_HZ,
    SYMBOLS_WATCHLIST,
    SearchError,
    SessionOptions,
)
from tui.session.values import (
    AddAlert,
    AddLot,
    AddSymbol,
    Command,
    CycleInterval,
    FocusSymbol,
    MoveSymbol,
    PauseAlert,
    Reconnect,
    RemoveAlert,
    RemoveLot,
    RemoveSymbol,
    ReplaceAlert,
    ReplaceLot,
    SeekReplay,
    SetTheme,
    ShowPositions,
    SwitchWatchlist,
    TestAlert,
    ToggleChartMode,
    ToggleGapFill,
    ToggleNewsFilter,
    TogglePause,
    UndoRemove,
)

__all__ = ["INTERVALS", "SearchError", "Session", "SessionOptions"]


class Session(StartsEarly, Forwarding):
    """The dashboard's state and actions over one feed engine."""

    def __init__(
        self,
        options: SessionOptions,
        *,
        engine: Engine | None = None,
        desired_sink: Callable[[list[Subscription]], str | None] | None = None,
        mark_note: Callable[[], str] | None = None,
    ) -> None:
        """``engine``, ``desired_sink`` and ``mark_note``: a pane's session inside the hub
        shares the hub's engine, hands its desired set to the hub (which subscribes the union
        of every pane's), and asks it who uses a full plan (``in use by pane 1 (...)``), to add
        to this pane's marks of the rows and charts the plan left out. Its batches are taken
        with :meth:`deliver`; a session of its own sends them to :meth:`run`'s callback."""
        self.options = options
        self.shared = engine is not None
        self.desired_sink = desired_sink
        self.mark_note = mark_note
        self.config = options.config
        self.on_batch = None
        self.transient = None
        if options.symbols is not None:
            symbols = [WatchSymbol(code=c) for c in options.symbols]
            self.transient = Watchlist(name=SYMBOLS_WATCHLIST, symbols=symbols)
        self.focused_code = None
        self.chart_mode = "candles"
        self.fill_gaps = False
        self.news_filter = self.config.display.news_filter
        self.paused = False
        self.removed = []
        self._forget = []
        self._state_dirty = True
        self._notices = []
        self.engine = engine if engine is not None else self._own_engine()
        self._alerts_version = -1
        self.portfolio_path = portfolio_path(options.config_path) if options.config_path else None
        self.portfolio = options.portfolio or PortfolioFile()
        self._portfolio_dirty = True
        self._saved_transient = None
        self._config_watch = (
            FileWatch(options.config_path) if options.config_path and options.persist else None
        )
        """The config file: watchlists another pane saved are taken on the next switch."""
        self._news_forms = {}
        """Every form of every story sent to the view, by key (oldest keys dropped first)."""
        self._rewinds_sent = 0
        """Seeks back of a replay the view has been told of (each empties its store)."""
        self.replay_clock = ReplayClock()
        """A replay's position: paused with ``p``, skipped ahead with ``>``."""
        self._checks = set()
        """Symbol checks in flight (a reference keeps each alive)."""
        self._portfolio_watch = None
        """The portfolio file, reloaded when another process (the CLI, another pane) changes
        it."""
        if options.portfolio is None and self.portfolio_path is not None:
            self._portfolio_watch = FileWatch(self.portfolio_path)
            try:
                self.portfolio = load_portfolio(self.portfolio_path)
            except PortfolioError as exc:
                self._notices.append(Notice("error", f"Positions not loaded: {exc}", time.time()))
        self._refocus()
        self._update_desired()

    # ---- commands ---------------------------------------------------------------------------

    def send(self, command: Command) -> None:
        """Carry out one command from a view (mypy checks every command has its case)."""
        match command:
            case AddSymbol():
                self._on_AddSymbol(command)
            case RemoveSymbol():
                self._on_RemoveSymbol(command)
            case UndoRemove():
                self._on_UndoRemove(command)
            case MoveSymbol():
                self._on_MoveSymbol(command)
            case SwitchWatchlist():
                self._on_SwitchWatchlist(command)
            case FocusSymbol():
                self._on_FocusSymbol(command)
            case CycleInterval():
                self._on_CycleInterval(command)
            case ToggleChartMode():
                self._on_ToggleChartMode(command)
            case ToggleGapFill():
                self._on_ToggleGapFill(command)
            case ToggleNewsFilter():
                self._on_ToggleNewsFilter(command)
            case TogglePause():
                self._on_TogglePause(command)
            case SetTheme():
                self._on_SetTheme(command)
            case Reconnect():
                self._on_Reconnect(command)
            case SeekReplay():
                self._on_SeekReplay(command)
            case AddAlert():
                self._on_AddAlert(command)
            case ReplaceAlert():
                self._on_ReplaceAlert(command)
            case RemoveAlert():
                self._on_RemoveAlert(command)
            case PauseAlert():
                self._on_PauseAlert(command)
            case TestAlert():
                self._on_TestAlert(command)
            case ShowPositions():
                self._on_ShowPositions(command)
            case AddLot():
                self._on_AddLot(command)
            case ReplaceLot():
                self._on_ReplaceLot(command)
            case RemoveLot():
                self._on_RemoveLot(command)
            case _:
                assert_never(command)

    def _on_FocusSymbol(self, command: FocusSymbol) -> None:
        if command.code == self.focused_code or self.entry(command.code) is None:
            return
        self.focused_code = command.code
        self._update_desired()
        self._changed()

    def _on_CycleInterval(self, command: CycleInterval) -> None:
        entry = self.entry(self.focused_code)
        if entry is None:
            return
        current = next(
            (
                i
                for i, (bt, bi, _) in enumerate(INTERVALS)
                if bt == entry.bar_type and bi == entry.bar_interval
            ),
            -1,
        )
        chosen = next((i for i, (_, _, label) in enumerate(INTERVALS) if label == command.to), None)
        if command.to is not None and chosen is None:
            self.notice("error", f"There is no interval {command.to!r}")
            return
        index = (current + 1) % len(INTERVALS) if chosen is None else chosen
        bar_type, interval, _ = INTERVALS[index]
        entry.bar_type, entry.bar_interval = bar_type, interval  # type: ignore[assignment]
        self._edited()  # the chart's title says the interval; no toast per key press

    def _on_ToggleChartMode(self, command: ToggleChartMode) -> None:
        self.chart_mode = "bars" if self.chart_mode == "candles" else "candles"
        self._changed()

    def _on_ToggleGapFill(self, command: ToggleGapFill) -> None:
        entry = self.entry(self.focused_code)
        if entry is None or entry.bar_type != "second":
            self.notice("information", "Gap filling applies to second bars")
            return
        self.fill_gaps = not self.fill_gaps
        self._changed()

    def _on_ToggleNewsFilter(self, command: ToggleNewsFilter) -> None:
        self.news_filter = not self.news_filter
        self._changed()

    def _on_TogglePause(self, command: TogglePause) -> None:
        self.paused = not self.paused
        if self.options.replay is not None:  # a replay's clock stops too, not only the view
            self.replay_clock.toggle()
        self._changed()

    def _on_SeekReplay(self, command: SeekReplay) -> None:
        if self.options.replay is None:
            self.notice("information", "< and > move a replay (marketpane replay FILE)")
            return
        self.replay_clock.seek(command.seconds)
        self.notice("information", f"Replay: {command.seconds:+.0f} s")

    def _on_SetTheme(self, command: SetTheme) -> None:
        if self.config.display.theme == command.name:
            return
        self.config.display.theme = command.name
        self._save()

    def _on_Reconnect(self, command: Reconnect) -> None:
        if self.engine is not None:
            self.engine.reconnect()
            self.notice("information", "Reconnecting…")

    async def search(self, query: str) -> list[SymbolInfo]:
        """Symbols matching ``query`` (REST, cached by the engine's client)."""
        if self.engine is None:
            return []
        try:
            return await self.engine.rest.search(query)
        except RestError as exc:
            raise SearchError(str(exc)) from None

    # ---- running ----------------------------------------------------------------------------

    def _own_engine(self) -> Engine | None:
        """The engine this session runs when it shares none (a snapshot's session has
        none, and shows a fixed store)."""
        options = self.options
        return Engine(
            options.runtime_config or options.config,
            options.keys,
            settings=options.engine_settings,
            state_dir=options.state_dir,
            on_batch=self._forward,
            record_path=options.record_path,
            persist_alerts=self._save_alerts,
        )

    async def _run(self) -> None:
        """Run the engine (or replay a recording, or show a static store) until closed."""
        if self.engine is None:
            self.publish_static()
            return
        if self.options.replay is None:
            await self.engine.run()
            return
        rows, speed = self.options.replay
        publisher = asyncio.create_task(self._replay_publisher())
        try:
            await replay_into(
                self.engine, rows, speed, self.replay_clock, hold=True, on_end=self._replay_ended
            )
        finally:
            publisher.cancel()
        self.engine.publish_now()

    def _replay_ended(self, frames: int) -> None:
        self.notice("information", f"replay finished: {frames} frames (< goes back a minute)")

    async def _replay_publisher(self) -> None:
        assert self.engine is not None
        while True:
            await asyncio.sleep(1 / REPLAY_HZ)
            self.engine.publish_now()

    def publish_static(self) -> None:
        """With no engine: one batch with everything the shown store holds."""
        store = self.shown_store()
        batch = Batch(
            quotes=set(store.quotes),
            series={code: SeriesChange(reloaded=True, appended=0) for code in store.series},
            news=list(store.news),
        )
        self._forward(batch)

    def batch_done(self) -> None:
        """The view has drawn the last batch; the next may come (the hub paces a shared
        engine itself)."""
        if self.engine is not None and not self.shared:
            self.engine.batch_done()

    async def close(self, timeout: float = 1.0) -> None:
        """Close every socket with 1000 (waiting at most ``timeout``); a pane's session in the
        hub leaves the shared engine to the hub."""
        if self.engine is not None and not self.shared:
            await self.engine.close(timeout)

    def stop(self) -> None:
        """Ask the engine to stop at once (a signal); :meth:`close` waits for it."""
        if self.engine is not None and not self.shared:
            self.engine.stop()
