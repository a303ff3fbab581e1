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
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from tui.alerts.model import AlertRule
from tui.config import (
    Config,
    ConfigError,
    Watchlist,
    WatchSymbol,
    alert_rules_saved,
    load_config,
    resolve_ticker,
    save_config_keeping_alerts,
)
from tui.engine.engine import Engine, EngineSettings
from tui.engine.replay import ReplayClock, replay_into
from tui.engine.rest import RestError
from tui.engine.status import Batch, FeedStatus, Notice
from tui.engine.store import MarketStore, NewsItem, SeriesChange
from tui.portfolio.model import (
    Lot,
    Portfolio,
    PortfolioError,
    PortfolioFile,
    load_portfolio,
    portfolio_path,
    save_portfolio,
)
from tui.protocol.live import Subscription
from tui.protocol.rest import SymbolInfo
from tui.protocol.rules import SubscriptionRuleError, is_continuous_future, validate_symbol_code
from tui.secrets import Keys, mask_secrets
from tui.session.filewatch import FileWatch
from tui.session.mirror import quote_state
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
    SeriesDelta,
    SessionBatch,
    SetTheme,
    ShowPositions,
    SwitchWatchlist,
    TestAlert,
    ToggleChartMode,
    ToggleGapFill,
    ToggleNewsFilter,
    TogglePause,
    UndoRemove,
    ViewState,
)

NEWS_FORMS_KEPT = 2_000
"""Stories whose sent forms a session remembers (twice the store's news)."""
INTERVALS: tuple[tuple[str, int, str], ...] = (
    ("minute", 1, "1m"),
    ("minute", 5, "5m"),
    ("minute", 15, "15m"),
    ("hour", 1, "1h"),
    ("day", 1, "1D"),
    ("second", 1, "1s"),
    ("second", 5, "5s"),
    ("tick", 1, "tick"),
)
"""Bar settings the interval command cycles through."""
SYMBOLS_WATCHLIST = "--symbols"
POSITIONS_WATCHLIST = "positions"
"""Name of the unsaved watchlist ``P`` makes of the symbols held."""
"""Name of the unsaved watchlist that ``--symbols`` makes."""
REPLAY_HZ = 20.0
"""Batches a second while a recording is replayed."""


class SearchError(Exception):
    """A symbol search failed; the message says why, in words for the user."""


@dataclass
class SessionOptions:
    """What a session runs on."""

    config: Config
    keys: Keys
    config_path: Path | None = None
    runtime_config: Config | None = None
    """The config the engine uses (the demo points it at the simulator); default ``config``."""
    symbols: list[str] | None = None
    persist: bool = True
    demo: bool = False
    engine_settings: EngineSettings = field(default_factory=EngineSettings)
    state_dir: Path | None = None
    record_path: Path | None = None
    replay: tuple[list[tuple[float, str, str]], float] | None = None
    static_store: MarketStore | None = None
    """Show this store and never connect (snapshot tests)."""
    static_statuses: list[FeedStatus] | None = None
    portfolio: PortfolioFile | None = None
    """The portfolios to show (default: ``portfolio.toml`` beside the config file)."""
    extra_subscriptions: list[Subscription] = field(default_factory=list)
    """Sent beside the watchlist's (the benchmark subscribes series for every symbol)."""


class Session:
    """The dashboard's state and actions over one feed engine."""

    def __init__(
        self,
        options: SessionOptions,
        on_batch: Callable[[SessionBatch], None] | None = None,
        *,
        engine: Engine | None = None,
        desired_sink: Callable[[list[Subscription]], str | None] | None = None,
    ) -> None:
        """``engine`` and ``desired_sink``: a pane's session inside the hub shares the hub's
        engine, and hands its desired set to the hub, which subscribes the union of every
        pane's."""
        self.options = options
        self.shared = engine is not None
        self.desired_sink = desired_sink
        self.mark_note: Callable[[], str] | None = None
        """In a hub: who uses a full plan (``in use by pane 1 (...)``), added to this pane's
        marks of rows and charts the plan left out."""
        self.config = options.config
        self.on_batch = on_batch
        self.transient: Watchlist | None = None
        if options.symbols is not None:
            symbols = [WatchSymbol(code=c) for c in options.symbols]
            self.transient = Watchlist(name=SYMBOLS_WATCHLIST, symbols=symbols)
        self.focused_code: str | None = None
        self.chart_mode = "candles"
        self.fill_gaps = False
        self.news_filter = self.config.display.news_filter
        self.paused = False
        self.removed: list[tuple[str, int, WatchSymbol]] = []
        self._forget: list[str] = []
        self._state_dirty = True
        self._notices: list[Notice] = []
        self.engine: Engine | None = engine
        if engine is None and options.static_store is None:
            self.engine = Engine(
                options.runtime_config or options.config,
                options.keys,
                settings=options.engine_settings,
                state_dir=options.state_dir,
                on_batch=self._forward,
                record_path=options.record_path,
            )
        self._alerts_version = -1
        self.portfolio_path = portfolio_path(options.config_path) if options.config_path else None
        self.portfolio = options.portfolio or PortfolioFile()
        self._portfolio_dirty = True
        self._saved_transient: Watchlist | None = None
        self._config_watch = (
            FileWatch(options.config_path) if options.config_path and options.persist else None
        )
        """The config file: watchlists another pane saved are taken on the next switch."""
        self._news_forms: dict[str, set[bytes]] = {}
        self._rewinds_sent = 0
        """Every form of every story sent to the view, by key (oldest keys dropped first)."""
        self.replay_clock = ReplayClock()
        """A replay's position: paused with ``p``, skipped ahead with ``>``."""
        self._checks: set[asyncio.Task[None]] = set()
        """Symbol checks in flight (a reference keeps each alive)."""
        self._portfolio_watch: FileWatch | None = None
        """The portfolio file, reloaded when another process (the CLI, another pane) changes
        it."""
        if options.portfolio is None and self.portfolio_path is not None:
            self._portfolio_watch = FileWatch(self.portfolio_path)
            try:
                self.portfolio = load_portfolio(self.portfolio_path)
            except PortfolioError as exc:
                self._notices.append(Notice("error", f"Positions not loaded: {exc}", time.time()))
        if self.engine is not None and not self.shared:
            self.engine.alerts.persist = self._save_alerts
        self._refocus()
        self._update_desired()

    # ---- state ------------------------------------------------------------------------------

    def watchlist(self) -> Watchlist:
        """The active watchlist (the ``--symbols`` list until another is chosen)."""
        return self.transient if self.transient is not None else self.config.watchlist()

    def entry(self, code: str | None) -> WatchSymbol | None:
        """The active watchlist's entry for ``code``."""
        return next((s for s in self.watchlist().symbols if s.code == code), None)

    def view_state(self) -> ViewState:
        """What a view shows of the session's state."""
        watchlist = self.watchlist()
        entry = self.entry(self.focused_code)
        fill = 0.0
        if entry is not None and entry.bar_type == "second" and self.fill_gaps:
            fill = float(entry.bar_interval)
        return ViewState(
            watchlist_name=watchlist.name,
            codes=[s.code for s in watchlist.symbols],
            watchlists=[w.name for w in self.config.watchlists],
            focused_code=self.focused_code,
            interval_label=interval_label(entry),
            bar_type=entry.bar_type if entry else None,
            bar_interval=entry.bar_interval if entry else None,
            adjustment=adjustment(entry),
            chart_mode=self.chart_mode,
            fill_gaps_seconds=fill,
            news_filter=self.news_filter,
            paused=self.paused,
            demo=self.options.demo and self.options.replay is None,
            replay=self.options.replay is not None,
            positions=self.transient is not None and self.transient.name == POSITIONS_WATCHLIST,
        )

    def _refocus(self) -> None:
        codes = [s.code for s in self.watchlist().symbols]
        if self.focused_code not in codes:
            self.focused_code = codes[0] if codes else None

    def _changed(self) -> None:
        """The view state changed: the next batch carries it, and comes soon."""
        self._state_dirty = True
        if self.engine is not None:
            self.engine.request_batch()
        else:
            self.publish_static_changes()

    def notice(self, level: str, text: str) -> None:
        """A notice for the view (masked)."""
        notice = Notice(level, mask_secrets(text), time.time())  # type: ignore[arg-type]
        if self.shared:  # this pane's notice, not every pane's
            self._notices.append(notice)
            self._changed()
        elif self.engine is not None:
            self.engine.notice(notice.level, notice.text)
        else:
            self._notices.append(notice)
            self.publish_static_changes()

    # ---- commands ---------------------------------------------------------------------------

    def send(self, command: Command) -> None:
        """Carry out one command from a view."""
        handler = getattr(self, f"_on_{type(command).__name__}")
        handler(command)

    def _on_AddSymbol(self, command: AddSymbol) -> None:
        code = command.code.strip().upper()
        if ":" not in code:  # a bare ticker: the exchange the watchlists already use for it
            code = resolve_ticker(code, self.config.watchlists) or code
        try:
            validate_symbol_code(code)
        except SubscriptionRuleError as exc:
            self.notice("error", exc.problem)
            return
        watchlist = self.watchlist()
        if any(s.code == code for s in watchlist.symbols):
            self.notice("information", f"{code} is already on {watchlist.name}")
            return
        if self.transient is None and not any(
            w.name == watchlist.name for w in self.config.watchlists
        ):
            self.config.watchlists.append(watchlist)
        watchlist.symbols.append(WatchSymbol(code=code))
        self._edited()
        self.notice("information", f"Added {code}")
        self._check_known(code)

    def _check_known(self, code: str) -> None:
        """Ask the quotes endpoint whether ``code`` exists, so an unknown symbol is marked
        "unknown symbol" even when a full plan keeps it from ever reaching the server (never
        "the plan's fault"). Nothing happens if REST cannot tell."""
        engine = self.engine
        if engine is None or self.options.static_store is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._mark_if_unknown(engine, code))
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

    async def _mark_if_unknown(self, engine: Engine, code: str) -> None:
        try:
            answer = await engine.rest.quotes([code])
        except RestError:
            return
        if any(quote.code == code for quote in answer.data):
            return
        engine.reject_subscription(code, what="unknown symbol", series_only=False)
        self.notice("warning", f"{code}: the server knows no such symbol (d removes the row)")

    def _on_RemoveSymbol(self, command: RemoveSymbol) -> None:
        symbols = self.watchlist().symbols
        index = next((i for i, s in enumerate(symbols) if s.code == command.code), None)
        if index is None:
            return
        entry = symbols.pop(index)
        self.removed.append((self.watchlist().name, index, entry))
        self._forget.append(entry.code)
        if self.engine is not None and not self.shared:  # a shared store serves other panes
            self.engine.store.quotes.pop(entry.code, None)
        self._edited()
        self.notice("information", f"Removed {entry.code} (u puts it back)")

    def _on_UndoRemove(self, command: UndoRemove) -> None:
        if not self.removed:
            self.notice("information", "Nothing to undo")
            return
        name, index, entry = self.removed.pop()
        watchlist = self.watchlist()
        if watchlist.name != name:
            self.notice("information", f"{entry.code} was removed from {name}; switch back first")
            self.removed.append((name, index, entry))
            return
        if self.entry(entry.code) is None:
            watchlist.symbols.insert(min(index, len(watchlist.symbols)), entry)
            self._edited()
            self.notice("information", f"Put back {entry.code}")

    def _on_MoveSymbol(self, command: MoveSymbol) -> None:
        symbols = self.watchlist().symbols
        index = next((i for i, s in enumerate(symbols) if s.code == command.code), None)
        if index is None:
            return
        target = index + command.step
        if not 0 <= target < len(symbols):
            return
        symbols[index], symbols[target] = symbols[target], symbols[index]
        self._update_desired()  # the same set in a new order sends nothing (unless the plan
        self._persist()  # is full: then the order picks which symbols fit)
        self._changed()

    def _on_SwitchWatchlist(self, command: SwitchWatchlist) -> None:
        self._adopt_watchlists_from_disk()
        lists = self.config.watchlists
        if not 1 <= command.number <= len(lists):
            self.notice(
                "information", f"There is no watchlist {command.number} (you have {len(lists)})"
            )
            return
        self.transient = None
        self.config.active_watchlist = lists[command.number - 1].name
        self._edited()
        self.notice("information", f"Watchlist: {lists[command.number - 1].name}")

    def _on_ShowPositions(self, command: ShowPositions) -> None:
        if self.transient is not None and self.transient.name == POSITIONS_WATCHLIST:
            self.transient = self._saved_transient
            self._saved_transient = None
            self._edited()
            self.notice("information", f"Watchlist: {self.watchlist().name}")
            return
        held = self._held_symbols()
        if not held:
            self.notice(
                "information",
                "No positions yet: + on a grid row adds a lot, or run "
                "marketpane portfolio import FILE.csv",
            )
            return
        self._saved_transient = self.transient
        self.transient = Watchlist(
            name=POSITIONS_WATCHLIST, symbols=[WatchSymbol(code=c) for c in held]
        )
        self._edited()
        self.notice("information", f"Positions: {len(held)} symbols held")

    def _held_symbols(self) -> list[str]:
        return list(dict.fromkeys(c for p in self.portfolio.portfolios for c in p.symbols()))

    def _on_AddLot(self, command: AddLot) -> None:
        portfolios = [
            msgspec.structs.replace(p, lots=list(p.lots)) for p in self.portfolio.portfolios
        ]
        target = next((p for p in portfolios if p.name == command.portfolio), None)
        if target is None:
            target = Portfolio(name=command.portfolio)
            portfolios.append(target)
        target.lots.append(command.lot)
        lot = command.lot
        self._set_portfolio(
            portfolios,
            f"Lot added to {command.portfolio}: {lot.quantity} {lot.symbol} at {lot.price}",
        )

    def _on_ReplaceLot(self, command: ReplaceLot) -> None:
        self._edit_lot(command.portfolio, command.index, command.lot)

    def _on_RemoveLot(self, command: RemoveLot) -> None:
        self._edit_lot(command.portfolio, command.index, None)

    def _edit_lot(self, name: str, index: int, lot: Lot | None) -> None:
        portfolios = [
            msgspec.structs.replace(p, lots=list(p.lots)) for p in self.portfolio.portfolios
        ]
        target = next((p for p in portfolios if p.name == name), None)
        if target is None or not 0 <= index < len(target.lots):
            self.notice("error", f"There is no lot {index + 1} in portfolio {name!r}")
            return
        if lot is None:
            gone = target.lots.pop(index)
            words = f"Lot removed from {name}: {gone.quantity} {gone.symbol}"
        else:
            target.lots[index] = lot
            words = f"Lot changed in {name}: {lot.quantity} {lot.symbol} at {lot.price}"
        self._set_portfolio([p for p in portfolios if p.lots or p.name != name], words)

    def _set_portfolio(self, portfolios: list[Portfolio], words: str) -> None:
        """Adopt and save the portfolios (atomically); the view gets them in the next batch."""
        book = msgspec.structs.replace(self.portfolio, portfolios=portfolios)
        path = self.portfolio_path
        if self.options.persist and path is not None:
            try:
                save_portfolio(book, path)
            except (OSError, PortfolioError) as exc:
                self.notice("error", f"Positions not saved: {exc}")
                return
            if self._portfolio_watch is not None:
                self._portfolio_watch.seen()
        self.portfolio = book
        self._portfolio_dirty = True
        self._refresh_held_list()
        self.notice("information", words)
        self._changed()

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

    def _alert_done(self, error: str | None, success: str) -> None:
        if error:
            self.notice("error", f"Alert not changed: {error}")
        else:
            self.notice("information", success)
            if self.engine is not None:
                self.engine.request_batch()

    def _on_AddAlert(self, command: AddAlert) -> None:
        if self.engine is None:
            return
        alerts = self.engine.alerts
        rule = command.rule
        if command.fresh_id:
            rule = msgspec.structs.replace(rule, id=alerts.next_id())
        self._alert_done(alerts.add(rule), f"Alert {rule.id} added: {rule.when}")

    def _on_ReplaceAlert(self, command: ReplaceAlert) -> None:
        if self.engine is not None:
            rule = command.rule
            self._alert_done(
                self.engine.alerts.replace(rule), f"Alert {rule.id} changed: {rule.when}"
            )

    def _on_RemoveAlert(self, command: RemoveAlert) -> None:
        if self.engine is not None:
            self._alert_done(self.engine.alerts.remove(command.id), f"Alert {command.id} deleted")

    def _on_PauseAlert(self, command: PauseAlert) -> None:
        if self.engine is None:
            return
        alerts = self.engine.alerts
        rule = alerts.book.rules.get(command.id)
        if rule is None:
            self.notice("error", f"Alert not changed: there is no alert {command.id}")
            return
        word = "paused" if command.paused else "resumed"
        error = alerts.replace(msgspec.structs.replace(rule, paused=command.paused))
        self._alert_done(error, f"Alert {command.id} {word}")

    def _on_TestAlert(self, command: TestAlert) -> None:
        if self.engine is not None and self.engine.alerts.test(command.id) is None:
            self.notice("error", f"There is no alert {command.id}")

    def _save_alerts(self, rules: list[AlertRule]) -> str | None:
        """Write the alerts to the config file (a pane's own engine: ``--no-hub``)."""
        if not self.options.persist:
            return None
        return alert_rules_saved(self.options.config_path, rules)

    def _edited(self) -> None:
        """The watchlist or a symbol's settings changed: refocus, resubscribe, save."""
        self._refocus()
        self._update_desired()
        self._persist()
        self._changed()

    def _update_desired(self) -> None:
        """Quotes for the watchlist plus the focused symbol's series (the engine debounces)."""
        if self.engine is None:
            return
        entries = self.watchlist().symbols
        subs: list[Subscription] = [e.quote_subscription() for e in entries if e.quote]
        focused = self.entry(self.focused_code)
        if focused is not None:
            subs.append(focused.series_subscription())
        extra = self.options.extra_subscriptions
        replaced = {s.code for s in extra if s.type in (None, "series", "both")}
        subs = [s for s in subs if s.is_quote or s.code not in replaced]  # extra series win
        subs.extend(s for s in extra if s not in subs)
        error = (self.desired_sink or self.engine.set_desired)(subs)
        if error:
            self.notice("error", f"Subscription not changed: {error}")

    def _persist(self) -> None:
        """Save the config after a watchlist change (never for the unsaved ``--symbols``
        list)."""
        if self.transient is None:
            self._save()

    def _save(self) -> None:
        """Write the config file (the ``--symbols`` list is not in it)."""
        path = self.options.config_path
        if not self.options.persist or path is None:
            return
        try:
            save_config_keeping_alerts(self.config, path)
        except (OSError, ConfigError) as exc:
            self.notice("error", f"Could not save {path}: {exc}")
            return
        if self._config_watch is not None:
            self._config_watch.seen()

    def _adopt_watchlists_from_disk(self) -> None:
        """Another pane (or an editor) changed the config's watchlists: take them before a
        switch, so its edits reach this pane."""
        watch, path = self._config_watch, self.options.config_path
        if watch is None or path is None or not watch.changed(now_please=True):
            return
        try:
            fresh = load_config(path)[0]
        except ConfigError as exc:
            self.notice("warning", f"Watchlists not reloaded: {exc}")
            return
        if fresh.watchlists:
            self.config.watchlists = fresh.watchlists

    async def search(self, query: str) -> list[SymbolInfo]:
        """Symbols matching ``query`` (REST, cached by the engine's client)."""
        if self.engine is None:
            return []
        try:
            return await self.engine.rest.search(query)
        except RestError as exc:
            raise SearchError(str(exc)) from None

    # ---- running ----------------------------------------------------------------------------

    async def run(self) -> None:
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
        """One batch with everything in the static store (snapshot tests)."""
        store = self.options.static_store
        assert store is not None
        batch = Batch(
            quotes=set(store.quotes),
            series={code: SeriesChange(reloaded=True, appended=0) for code in store.series},
            news=list(store.news),
        )
        self._forward(batch, store)

    def batch_done(self) -> None:
        """The view has drawn the last batch; the next may come (the hub paces a shared
        engine itself)."""
        if self.engine is not None and not self.shared:
            self.engine.batch_done()

    def publish_static_changes(self) -> None:
        """A batch of state and notices only (no engine)."""
        self._forward(Batch(), self.options.static_store or MarketStore())

    def _unsent(self, items: list[NewsItem]) -> list[NewsItem]:
        """The stories of a batch this view has not been sent in exactly this form: a story
        that comes again unchanged (a feed's replay on reconnect, a fleet snapshot beside the
        leader's messages) is never a second line on screen."""
        fresh: list[NewsItem] = []
        for item in items:
            form = msgspec.msgpack.encode(item)
            seen = self._news_forms.setdefault(item.key, set())
            if form in seen:
                continue
            seen.add(form)
            fresh.append(item)
        while len(self._news_forms) > NEWS_FORMS_KEPT:
            del self._news_forms[next(iter(self._news_forms))]
        return fresh

    def _refresh_held_list(self) -> None:
        """While the grid shows the symbols held (``P``), show the ones held now."""
        if self.transient is not None and self.transient.name == POSITIONS_WATCHLIST:
            self.transient.symbols = [WatchSymbol(code=c) for c in self._held_symbols()]
            self._edited()

    def _reload_portfolio(self, path: Path) -> None:
        """Another process changed the portfolio file: show what it holds now."""
        try:
            book = load_portfolio(path)
        except PortfolioError as exc:
            self._notices.append(Notice("error", f"Positions not reloaded: {exc}", time.time()))
            return
        if book == self.portfolio:
            return
        self.portfolio = book
        self._portfolio_dirty = True
        self._refresh_held_list()
        lots = sum(len(p.lots) for p in book.portfolios)
        self._notices.append(Notice("information", f"Positions reloaded: {lots} lots", time.time()))

    def deliver(self, batch: Batch) -> None:
        """Turn an engine batch into a session batch for the view (the hub calls this with
        the batches it paced for this pane)."""
        self._forward(batch)

    def _forward(self, batch: Batch, store: MarketStore | None = None) -> None:
        """Turn an engine batch into values and hand it to the view."""
        if self.on_batch is None:
            return
        store = store or (self.engine.store if self.engine else MarketStore())
        quotes = [quote_state(store.quotes[c]) for c in batch.quotes if c in store.quotes]
        series: list[SeriesDelta] = []
        for code, change in batch.series.items():
            buffer = store.series.get(code)
            if buffer is None:
                continue
            if change.reloaded:
                count = len(buffer.bars)
            else:  # bars: the one before the new ones may have been replaced; ticks never are
                count = change.appended + (0 if buffer.ticks else 1)
            series.append(
                SeriesDelta(
                    code=code,
                    bar_type=buffer.bar_type,
                    reloaded=change.reloaded,
                    bars=buffer.bars.tail(count),
                    ticks=buffer.ticks,
                    loaded_at=buffer.loaded_at,
                    updated_at=buffer.updated_at,
                )
            )
        engine = self.engine
        statuses = engine.statuses() if engine else (self.options.static_statuses or [])
        rewound = self.replay_clock.rewinds != self._rewinds_sent
        if rewound:  # the view starts again from an empty store, so every story is new
            self._rewinds_sent = self.replay_clock.rewinds
            self._news_forms.clear()
        state = self.view_state() if self._state_dirty else None
        self._state_dirty = False
        notices = [*self._notices, *batch.notices]
        self._notices = []
        forget, self._forget = self._forget, []
        watch = self._portfolio_watch
        if watch is not None and watch.changed():
            self._reload_portfolio(watch.path)
        portfolio = self.portfolio if self._portfolio_dirty else None
        self._portfolio_dirty = False
        alerts = None
        if engine is not None and engine.alerts.version != self._alerts_version:
            self._alerts_version = engine.alerts.version
            alerts = list(engine.alerts.views())
        self.on_batch(
            SessionBatch(
                rewound=rewound,
                replay=self.replay_clock.describe() if self.options.replay else None,
                quotes=quotes,
                series=series,
                news=self._unsent(batch.news),
                notices=notices,
                statuses=[msgspec.structs.replace(s) for s in statuses],
                budget=engine.budget_text() if engine else "",
                # A replay sends nothing upstream: no subscription change is ever pending.
                pending=engine.pending if engine and self.options.replay is None else None,
                warning=engine.loop_warning() if engine else None,
                state=state,
                removed=forget,
                plan=engine.plan_use() if engine else None,
                marks=self._own(engine.marks()[0]) if engine else {},
                series_marks=self._own(engine.marks()[1]) if engine else {},
                via=engine.via if engine else None,
                alerts=alerts,
                portfolio=portfolio,
                sent_at=batch.sent_at or time.time(),
            )
        )

    def _own(self, marks: dict[str, str]) -> dict[str, str]:
        """The marks of this session's symbols (a shared engine marks every pane's)."""
        if not self.shared:
            return dict(marks)
        codes = {s.code for s in self.watchlist().symbols}
        own = {code: why for code, why in marks.items() if code in codes}
        note = self.mark_note() if self.mark_note is not None and own else ""
        if note:  # a full plan: say whose use left these out
            full = f"not subscribed: plan full, {note}"
            own = {c: full if "plan allows" in why else why for c, why in own.items()}
        return own

    async def close(self, timeout: float = 1.0) -> None:
        """Close every socket with 1000 (waiting at most ``timeout``); a pane's session in the
        hub leaves the shared engine to the hub."""
        if self.engine is not None and not self.shared:
            await self.engine.close(timeout)

    def stop(self) -> None:
        """Ask the engine to stop at once (a signal); :meth:`close` waits for it."""
        if self.engine is not None and not self.shared:
            self.engine.stop()


def adjustment(entry: WatchSymbol | None) -> str:
    """How a continuous future's chart is adjusted (guide section 4, Back-Adjustment)."""
    if entry is None or not is_continuous_future(entry.code):
        return ""
    return "unadjusted" if entry.badj is False else "back-adjusted"


def interval_label(entry: WatchSymbol | None) -> str:
    """``1m``, ``5s``, ``tick``… for a watchlist entry's bar settings."""
    if entry is None:
        return ""
    return next(
        (name for bt, bi, name in INTERVALS if bt == entry.bar_type and bi == entry.bar_interval),
        f"{entry.bar_interval} {entry.bar_type}",
    )
