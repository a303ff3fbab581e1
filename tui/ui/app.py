"""The marketpane Textual app: composes the widgets over the feed engine's worker.

The engine runs in an async worker (``exit_on_error=False``) and never touches widgets; it
posts one :class:`BatchReady` per UI tick. Handlers here own every state change.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import msgspec
from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.theme import Theme
from textual.widgets import OptionList
from textual.worker import Worker, WorkerState

from tui import paths
from tui.config import Config, ConfigError, Watchlist, WatchSymbol, save_config
from tui.engine.engine import Engine, EngineSettings
from tui.engine.status import Batch, FeedState, FeedStatus
from tui.engine.store import MarketStore
from tui.protocol.live import Subscription
from tui.protocol.rules import SubscriptionRuleError, validate_symbol_code
from tui.protocol.text import clean_text
from tui.secrets import Keys, mask_secrets
from tui.ui.commands import MarketpaneCommands
from tui.ui.grid import QuoteGrid
from tui.ui.panels import PAUSED, ChartView, NewsList, NewsTicker, StatusBar
from tui.ui.render import Palette
from tui.ui.screens import AddSymbolScreen, HelpScreen, NewsDetailScreen
from tui.ui.themes import (
    DEFAULT_THEME,
    MONO_THEME,
    load_themes,
    shipped_themes_dir,
    with_direction_colours,
)

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
"""Bar settings the ``i`` key cycles through."""
WIDE_MIN_COLUMNS = 140
"""At least this wide: grid, chart and news side by side."""
MEDIUM_MIN_COLUMNS = 80
"""At least this wide (and 20 rows): grid above, chart and news below."""
MEDIUM_MIN_ROWS = 20
"""Fewer rows than this use the compact pane layout."""
EXIT_SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)
"""Signals that close every socket with 1000 and restore the terminal before exiting."""
CLOSE_SECONDS = 1.0
"""How long an exit waits for the sockets' closing handshakes before aborting them."""
STATUS_TICK_SECONDS = 1.0
"""Ages, staleness and the status bar refresh this often (inside a batch's frame when one
comes, so the tick costs no frame of its own)."""


class BatchReady(Message):
    """The engine has a batch of changes for the UI."""

    def __init__(self, batch: Batch) -> None:
        super().__init__()
        self.batch = batch


@dataclass
class AppOptions:
    """What the app runs on."""

    config: Config
    config_path: Path | None
    keys: Keys
    runtime_config: Config | None = None
    demo: bool = False
    symbols: list[str] | None = None
    theme: str | None = None
    layout: str | None = None
    engine_settings: EngineSettings = field(default_factory=EngineSettings)
    state_dir: Path | None = None
    record_path: Path | None = None
    replay: tuple[list[tuple[float, str, str]], float] | None = None
    static_store: MarketStore | None = None
    static_statuses: list[FeedStatus] | None = None
    frozen_time: float | None = None
    persist: bool = True
    theme_problem: str | None = None
    probe: Any = None
    """Benchmark hook: ``probe.drawn(app, batch)`` after each batch reaches the screen."""
    handle_signals: bool = False
    """Quit cleanly on SIGHUP, SIGTERM and SIGINT (the real app; tests leave them alone)."""


class MarketpaneApp(App[int]):
    """Live quotes, chart and news in one keyboard-driven screen."""

    TITLE = "marketpane"
    COMMANDS: ClassVar = App.COMMANDS | {MarketpaneCommands}
    CSS = """
    Screen { layers: base; }
    #main { height: 1fr; }
    #main.-wide { layout: horizontal; }
    #main.-wide QuoteGrid { width: 3fr; }
    #main.-wide ChartView { width: 2fr; }
    #main.-wide NewsList { width: 2fr; }
    #main.-medium { layout: grid; grid-size: 2 2; grid-rows: 3fr 2fr; }
    #main.-medium QuoteGrid { column-span: 2; }
    #main.-compact { layout: vertical; }
    #main.-compact ChartView { display: none; }
    #main.-compact NewsList { display: none; }
    #main.-compact.-chart QuoteGrid { display: none; }
    #main.-compact.-chart ChartView { display: block; }
    NewsTicker { display: none; }
    Screen.-compact NewsTicker { display: block; }
    QuoteGrid { background: $surface; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add_symbol", "Add symbol"),
        Binding("d,delete", "remove_symbol", "Remove symbol"),
        Binding("K,shift+up", "move_symbol(-1)", "Move symbol up", show=False),
        Binding("J,shift+down", "move_symbol(1)", "Move symbol down", show=False),
        Binding("i", "cycle_interval", "Interval"),
        Binding("b", "toggle_chart_mode", "Candles/bars", show=False),
        Binding("c", "toggle_chart", "Chart (compact)", show=False),
        Binding("g", "toggle_gap_fill", "Fill 1s gaps", show=False),
        Binding("f", "toggle_news_filter", "News filter"),
        Binding("n", "focus_news", "News", show=False),
        Binding("t", "cycle_theme", "Theme"),
        Binding("p", "toggle_pause", "Pause"),
        Binding("r", "reconnect", "Reconnect"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        *[
            Binding(str(n), f"switch_watchlist({n})", f"Watchlist {n}", show=False)
            for n in range(1, 10)
        ],
    ]

    def __init__(self, options: AppOptions) -> None:
        super().__init__()
        self.options = options
        self.config = options.config
        self.runtime_config = options.runtime_config or options.config
        self.store = options.static_store or MarketStore()
        self.engine: Engine | None = None
        self.engine_worker: Worker[None] | None = None
        self.focused_code: str | None = None
        self.news_filter = self.config.display.news_filter
        self.paused = False
        self._last_tick = 0.0
        self.palette = Palette.from_variables({})
        self.marketpane_themes: list[str] = []
        self.layout_name = "medium"
        self.chart_forced = False
        self.symbols_override = options.symbols
        self.exit_signal: int | None = None

    # ---- setup ----------------------------------------------------------------------------

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """A toast whose text is shown as it is: notices quote servers, files and the user, so
        markup is off unless a caller asks for it, and control characters are made visible."""
        super().notify(
            clean_text(message), title=title, severity=severity, timeout=timeout, markup=markup
        )

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {
            "mp-up": "#3fb950",
            "mp-down": "#f85149",
            "mp-flat": "#8b949e",
            "mp-stale": "#586069",
            "mp-up-flash": "#1f4d2b",
            "mp-down-flash": "#5a1f1f",
            "mp-axis": "#8b949e",
            "mp-volume": "#3b5070",
            "mp-bold-direction": "no",
        }

    def now(self) -> float:
        """Wall clock, or the pinned time of a snapshot test."""
        return self.options.frozen_time if self.options.frozen_time is not None else time.time()

    def compose(self) -> ComposeResult:
        with Container(id="main"):
            yield QuoteGrid(id="grid")
            yield ChartView(id="chart")
            yield NewsList(id="news")
        yield NewsTicker(id="ticker")
        yield StatusBar(id="status")

    def on_mount(self) -> None:
        self._load_themes()
        self.theme_changed_signal.subscribe(self, self._on_theme_changed)
        self._on_theme_changed(self.current_theme)
        self.query_one(QuoteGrid).stale_after = self.config.display.stale_after_seconds
        self._apply_layout(self.size.width, self.size.height)
        self._show_watchlist()
        if self.options.static_store is None:
            self._start_engine()
        self.set_interval(STATUS_TICK_SECONDS / 2, self._tick_if_due)
        if self.options.handle_signals:
            loop = asyncio.get_running_loop()
            for signum in EXIT_SIGNALS:
                loop.add_signal_handler(signum, self._on_exit_signal, signum)
        self._refresh_news()
        self._tick_status()
        first_frame_file = os.environ.get("MARKETPANE_FIRST_FRAME_FILE")
        if first_frame_file:  # the benchmark's start-up probe
            self.call_after_refresh(self._first_frame, Path(first_frame_file))

    def _first_frame(self, path: Path) -> None:
        """Record when the first frame was drawn, then quit (benchmark only)."""
        path.write_text(f"{time.time():.6f}")
        self.run_worker(self.action_quit(), exit_on_error=False)

    def _load_themes(self) -> None:
        display = self.config.display
        loaded = load_themes(shipped_themes_dir(), paths.user_themes_dir())
        for theme in loaded.themes:
            self.register_theme(with_direction_colours(theme, display.up_color, display.down_color))
            self.marketpane_themes.append(theme.name)
        problems = list(loaded.problems)
        if self.options.theme_problem:
            problems.append(self.options.theme_problem)
        wanted = self.options.theme or display.theme
        if os.environ.get("NO_COLOR"):
            wanted = MONO_THEME
        if wanted not in self.available_themes:
            problems.append(f"theme {wanted!r} not found; using {DEFAULT_THEME}")
            wanted = DEFAULT_THEME
        if wanted in self.available_themes:
            self.theme = wanted
        for problem in problems:
            self.notify(problem, title="Theme", severity="warning", timeout=8)

    def _on_theme_changed(self, theme: Theme) -> None:
        self.get_css_variables()
        self.palette = Palette.from_variables(self.theme_variables)
        grid = self.query_one(QuoteGrid)
        grid.palette = self.palette
        grid.cells.clear()
        grid.restyle()
        self.query_one(ChartView).palette = self.palette
        self.query_one(NewsList).palette = self.palette
        grid.refresh_rows(grid.codes, self.store, self.now())
        self.query_one(ChartView).redraw()
        self._refresh_news()

    def _start_engine(self) -> None:
        options = self.options
        self.engine = Engine(
            self.runtime_config,
            options.keys,
            settings=options.engine_settings,
            state_dir=options.state_dir,
            on_batch=self._post_batch,
            record_path=options.record_path,
        )
        self.store = self.engine.store
        self._update_desired()
        if options.replay is not None:
            rows, speed = options.replay
            self.engine_worker = self.run_worker(
                self._replay(rows, speed), name="engine", group="engine", exit_on_error=False
            )
        else:
            self.engine_worker = self.run_worker(
                self.engine.run(), name="engine", group="engine", exit_on_error=False
            )

    def _post_batch(self, batch: Batch) -> None:
        """Called by the engine (same event loop): hand the batch to the message pump."""
        self.post_message(BatchReady(batch))

    async def _replay(self, rows: list[tuple[float, str, str]], speed: float) -> None:
        from tui.engine.replay import replay_into

        assert self.engine is not None
        publisher = self.set_interval(1 / 20, self._publish_replay)
        count = await replay_into(self.engine, rows, speed)
        publisher.stop()
        self._publish_replay()
        self.notify(f"replay finished: {count} frames")

    def _publish_replay(self) -> None:
        if self.engine is not None:
            self.engine.publish_now()

    # ---- layout ---------------------------------------------------------------------------

    def on_resize(self, event: Any) -> None:
        self._apply_layout(event.size.width, event.size.height)

    def _apply_layout(self, width: int, height: int) -> None:
        forced = self.options.layout or self.config.display.layout
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
        grid = self.query_one(QuoteGrid)
        grid_width = width * 3 // 7 if name == "wide" else width
        grid.set_layout(grid_width, compact=name == "compact")
        grid.refresh_rows(grid.codes, self.store, self.now())
        self.call_after_refresh(self._after_layout)

    def _after_layout(self) -> None:
        """Re-fit width-dependent text once the new sizes are known."""
        self._refresh_news()
        self._tick_status()

    # ---- watchlist and subscriptions ------------------------------------------------------

    def watchlist(self) -> Watchlist:
        """The active watchlist (or the ``--symbols`` list)."""
        if self.symbols_override is not None:
            return Watchlist(
                name="--symbols", symbols=[WatchSymbol(code=c) for c in self.symbols_override]
            )
        return self.config.watchlist()

    def _entry(self, code: str | None) -> WatchSymbol | None:
        for entry in self.watchlist().symbols:
            if entry.code == code:
                return entry
        return None

    def _show_watchlist(self) -> None:
        codes = [s.code for s in self.watchlist().symbols]
        grid = self.query_one(QuoteGrid)
        grid.set_symbols(codes)
        if self.focused_code not in codes:
            self.focused_code = codes[0] if codes else None
        grid.refresh_rows(codes, self.store, self.now())
        self._update_chart()
        self._update_desired()

    def _update_desired(self) -> None:
        """Quotes for the watchlist plus the focused symbol's series (the engine debounces)."""
        if self.engine is None:
            return
        entries = self.watchlist().symbols
        subs: list[Subscription] = [e.quote_subscription() for e in entries if e.quote]
        focused = self._entry(self.focused_code)
        if focused is not None:
            subs.append(focused.series_subscription())
        if not subs:
            return
        error = self.engine.set_desired(subs)
        if error:
            self.notify(f"Subscription not changed: {error}", severity="error", timeout=8)

    def _persist(self) -> None:
        if self.symbols_override is not None or not self.options.persist:
            return
        if self.options.config_path is None:
            return
        try:
            save_config(self.config, self.options.config_path)
        except (OSError, ConfigError) as exc:
            self.notify(f"Could not save {self.options.config_path}: {exc}", severity="error")

    # ---- engine messages ------------------------------------------------------------------

    @on(BatchReady)
    def _on_batch(self, message: BatchReady) -> None:
        batch = message.batch
        try:
            for notice in batch.notices:
                self.notify(notice.text, severity=notice.level, timeout=6)
            if self.paused:
                return
            now = self.now()
            grid = self.query_one(QuoteGrid)
            grid.feed_live = self._live_ok()
            with self.batch_update():
                if batch.quotes:
                    grid.refresh_rows(batch.quotes, self.store, now)
                grid.tick_flashes(self.store, now)  # end flashes in the same frame
                if self.focused_code in batch.series:
                    self._update_chart()
                if batch.news:
                    self._refresh_news()
                if time.monotonic() - self._last_tick >= STATUS_TICK_SECONDS - 0.1:
                    self._tick_status()  # in the batch's frame rather than a frame of its own
            if self.options.probe is not None:
                self.call_after_refresh(self.options.probe.drawn, self, batch)
        finally:
            if self.engine is not None:  # the next batch once this one is on screen
                self.call_after_refresh(self.engine.batch_done)

    def _live_ok(self) -> bool:
        if self.engine is None:
            return True
        live = [f for f in self.engine.statuses() if f.name == "live"]
        return not live or live[0].state is FeedState.LIVE

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name == "engine" and event.state is WorkerState.ERROR:
            error = event.worker.error
            self.notify(
                mask_secrets(f"The feed engine failed: {error!r}. Press r to restart."),
                severity="error",
                timeout=15,
            )

    def _update_chart(self) -> None:
        chart = self.query_one(ChartView)
        entry = self._entry(self.focused_code)
        label = ""
        if entry is not None:
            label = next(
                (
                    name
                    for bt, bi, name in INTERVALS
                    if bt == entry.bar_type and bi == entry.bar_interval
                ),
                f"{entry.bar_interval} {entry.bar_type}",
            )
        chart.fill_gaps_seconds = (
            entry.bar_interval
            if entry is not None and entry.bar_type == "second" and chart.fill_gaps_seconds
            else 0.0
        )
        chart.show(self.focused_code, self.store.series.get(self.focused_code or ""), label)

    def _news_items(self) -> list:  # type: ignore[type-arg]
        items = list(reversed(self.store.news))
        if self.news_filter and self.focused_code:
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
            self._tick_status()

    def _tick_status(self) -> None:
        """Ages, staleness and the status bar."""
        self._last_tick = time.monotonic()
        if not self.paused:
            grid = self.query_one(QuoteGrid)
            grid.feed_live = self._live_ok()
            grid.tick(self.store, self.now())  # ages and staleness, once a second
        statuses = (
            self.options.static_statuses if self.engine is None else self.engine.statuses()
        ) or []
        extra: list[str] = []
        if self.engine is not None:
            extra.append(self.engine.budget.describe())
            if self.engine.pending:
                extra.append(self.engine.pending)
        if self.paused:
            extra.append(PAUSED)
        if self.news_filter:
            extra.append(f"news: {self.focused_code or 'all'}")
        if self.options.demo:
            extra.append("DEMO data (simulator)")
        self.query_one(StatusBar).show(statuses, extra, self.palette, self.now())

    # ---- actions --------------------------------------------------------------------------

    def action_rows(self) -> list[tuple[str, str, str]]:
        """(keys, action, description) for the help screen and the command palette."""
        rows = [
            ("↑/↓ j/k", "", "Move through the grid or news"),
            ("Tab", "", "Switch between grid and news"),
        ]
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.description:
                if binding.action.startswith("switch_watchlist") and binding.key != "1":
                    continue
                keys = binding.key.replace("question_mark", "?").replace(",", " / ")
                description = binding.description
                if binding.action.startswith("switch_watchlist"):
                    keys, description = "1-9", "Switch watchlist"
                rows.append((keys, binding.action, description))
        rows.append(("Ctrl+P", "command_palette", "Command palette"))
        return rows

    def action_help(self) -> None:
        self.push_screen(HelpScreen([(k, d) for k, _, d in self.action_rows()]))

    @on(QuoteGrid.Selected)
    def _row_selected(self, event: QuoteGrid.Selected) -> None:
        self.action_focus_symbol()

    def action_focus_symbol(self) -> None:
        grid = self.query_one(QuoteGrid)
        code = grid.highlighted_code
        if code is None or (code == self.focused_code and not self.chart_forced):
            return
        self.focused_code = code
        self._update_chart()
        self._update_desired()
        if self.news_filter:
            self._refresh_news()

    def action_add_symbol(self) -> None:
        self.push_screen(AddSymbolScreen(self._search), self._added)

    async def _search(self, query: str) -> list:  # type: ignore[type-arg]
        if self.engine is None:
            return []
        from tui.engine.rest import RestError

        try:
            return await self.engine.rest.search(query)
        except RestError as exc:
            raise RuntimeError(str(exc)) from None

    def _added(self, code: str | None) -> None:
        if not code:
            return
        try:
            validate_symbol_code(code)
        except SubscriptionRuleError as exc:
            self.notify(exc.problem, severity="error")
            return
        if self.symbols_override is not None:
            self.symbols_override.append(code)
        else:
            watchlist = self.config.watchlist()
            if any(s.code == code for s in watchlist.symbols):
                self.notify(f"{code} is already on {watchlist.name}")
                return
            if not any(w.name == watchlist.name for w in self.config.watchlists):
                self.config.watchlists.append(watchlist)
            watchlist.symbols.append(WatchSymbol(code=code))
            self._persist()
        self._show_watchlist()
        self.notify(f"Added {code}")

    def action_remove_symbol(self) -> None:
        code = self.query_one(QuoteGrid).highlighted_code
        if code is None:
            return
        if self.symbols_override is not None:
            self.symbols_override.remove(code)
        else:
            watchlist = self.config.watchlist()
            watchlist.symbols = [s for s in watchlist.symbols if s.code != code]
            self._persist()
        self.store.quotes.pop(code, None)
        self._show_watchlist()
        self.notify(f"Removed {code}")

    def action_move_symbol(self, step: int) -> None:
        grid = self.query_one(QuoteGrid)
        index, target = grid.cursor_row, grid.cursor_row + step
        sequence: list[Any] = (
            self.symbols_override
            if self.symbols_override is not None
            else self.config.watchlist().symbols
        )
        if not (0 <= index < len(sequence) and 0 <= target < len(sequence)):
            return
        sequence[index], sequence[target] = sequence[target], sequence[index]
        self._persist()
        self._show_watchlist()
        grid.move_cursor(row=target)

    def action_switch_watchlist(self, number: int) -> None:
        lists = self.config.watchlists
        if not 1 <= number <= len(lists):
            self.notify(f"There is no watchlist {number} (you have {len(lists)})")
            return
        self.symbols_override = None
        self.config.active_watchlist = lists[number - 1].name
        self._persist()
        self._show_watchlist()
        self.notify(f"Watchlist: {lists[number - 1].name}")

    def action_cycle_interval(self) -> None:
        entry = self._entry(self.focused_code)
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
        bar_type, interval, label = INTERVALS[(current + 1) % len(INTERVALS)]
        entry.bar_type, entry.bar_interval = bar_type, interval  # type: ignore[assignment]
        self._persist()
        self._update_chart()
        self._update_desired()
        self.notify(f"{entry.code}: {label} bars (sent after a short pause)")

    def action_toggle_chart_mode(self) -> None:
        chart = self.query_one(ChartView)
        chart.mode = "bars" if chart.mode == "candles" else "candles"
        chart.redraw()

    def action_toggle_gap_fill(self) -> None:
        chart = self.query_one(ChartView)
        entry = self._entry(self.focused_code)
        if entry is None or entry.bar_type != "second":
            self.notify("Gap filling applies to second bars")
            return
        chart.fill_gaps_seconds = 0.0 if chart.fill_gaps_seconds else float(entry.bar_interval)
        chart.redraw()

    def action_toggle_chart(self) -> None:
        self.chart_forced = not self.chart_forced
        self._apply_layout(self.size.width, self.size.height)

    def action_toggle_news_filter(self) -> None:
        self.news_filter = not self.news_filter
        self._refresh_news()
        self._tick_status()

    def action_focus_news(self) -> None:
        news = self.query_one(NewsList)
        if news.display:
            news.focus()

    @on(OptionList.OptionSelected, "#news")
    def _news_selected(self, event: OptionList.OptionSelected) -> None:
        item = self.query_one(NewsList).selected_item()
        if item is not None:
            self.push_screen(NewsDetailScreen(item))

    def action_cycle_theme(self) -> None:
        names = self.marketpane_themes or [self.theme]
        index = names.index(self.theme) if self.theme in names else -1
        self.action_set_theme(names[(index + 1) % len(names)])

    def action_set_theme(self, name: str) -> None:
        if name in self.available_themes:
            self.theme = name
            self.notify(f"Theme: {name}")

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused:
            grid = self.query_one(QuoteGrid)
            grid.refresh_rows(grid.codes, self.store, self.now())
            self._update_chart()
            self._refresh_news()
        self._tick_status()

    def action_reconnect(self) -> None:
        if self.engine is not None:
            self.engine.reconnect()
            self.notify("Reconnecting…")

    def crash_report(self) -> Text:
        """The exception being handled as plain text: no local variables, keys masked."""
        import io

        import rich
        from rich.console import Console
        from rich.traceback import Traceback

        buffer = io.StringIO()
        console = Console(
            file=buffer,
            width=max(80, self.console.width or 100),
            color_system=None,
            force_terminal=False,
        )
        console.print(Traceback(show_locals=False, width=None, suppress=[rich]))
        return Text(mask_secrets(buffer.getvalue()))

    def _fatal_error(self) -> None:
        """Textual's crash exit, with :meth:`crash_report` instead of a traceback with locals.

        Textual's own report shows locals (``show_locals=True``); a subscription message held
        in a local would print the key.
        """
        self.bell()
        self._exit_renderables.append(self.crash_report())
        self._close_messages_no_wait()

    def _on_exit_signal(self, signum: int) -> None:
        """SIGHUP (a dropped SSH session), SIGTERM or SIGINT: stop the feeds at once (their
        sockets close with 1000, bounded by :func:`run_app`), restore the terminal and exit
        with 128 + the signal's number."""
        self.exit_signal = signum
        if self.engine is not None:
            self.engine.stop()
        self.exit(return_code=128 + signum)

    async def action_quit(self) -> None:
        """Close every socket with 1000, then exit."""
        if self.engine is not None:
            self.engine.stop()
            if self.engine_worker is not None:
                try:
                    await self.engine_worker.wait()
                except Exception:  # the worker's own error was already shown
                    pass
        self.exit(0)


def demo_keys() -> Keys:
    """The simulator's built-in keys (never the user's)."""
    from tui.secrets import Secret
    from tui.sim.settings import DEMO_KEY, DEMO_STOCKNEWS_TOKEN

    return Keys(
        insightsentry_api_key=Secret(DEMO_KEY), stocknews_token=Secret(DEMO_STOCKNEWS_TOKEN)
    )


def demo_runtime_config(config: Config, urls: Any) -> Config:
    """A copy of ``config`` pointed at the simulator, with the mega plan's limits."""
    runtime = msgspec.structs.replace(config)
    runtime.endpoints = msgspec.structs.replace(
        config.endpoints,
        live_url=urls.live,
        newsfeed_url=urls.newsfeed,
        stocknews_url=urls.stocknews,
        rest_url=urls.rest,
        rapidapi_url=urls.rest,
    )
    runtime.plan = msgspec.structs.replace(
        config.plan, subscriptions=12, max_dp=30_000, connections=3
    )
    return runtime


def run_app(options: Any, replay: tuple[list[tuple[float, str, str]], float] | None = None) -> int:
    """Run the dashboard for parsed CLI options (a :class:`tui.cli.RunOptions`)."""
    from tui.sim.server import SimulatorThread
    from tui.sim.settings import SimSettings

    simulator = None
    runtime = options.config
    keys = options.keys
    if options.demo and replay is None:
        simulator = SimulatorThread(SimSettings(seed=options.seed, speed=options.speed))
        urls = simulator.start()
        runtime = demo_runtime_config(options.config, urls)
        keys = demo_keys()
    app_options = AppOptions(
        config=options.config,
        config_path=options.config_path,
        keys=keys,
        runtime_config=runtime,
        demo=options.demo and replay is None,
        symbols=options.symbols,
        theme=options.theme,
        layout=options.layout,
        engine_settings=EngineSettings(
            ui_hz=options.config.display.ui_hz,
            quiet_hz=options.config.display.quiet_hz,
            idle_hz=options.config.display.idle_hz,
        ),
        state_dir=paths.state_dir() if not options.demo else paths.state_dir() / "demo",
        record_path=options.record,
        replay=replay,
        handle_signals=True,
    )
    headless = bool(os.environ.get("MARKETPANE_FIRST_FRAME_FILE"))
    try:
        return run_until_closed(MarketpaneApp(app_options), headless=headless)
    finally:
        if simulator is not None:
            simulator.stop()


def run_until_closed(app: MarketpaneApp, *, headless: bool = False) -> int:
    """Run ``app`` on a new event loop and return its exit status: 0 after ``q``, 128 + the
    signal after SIGHUP/SIGTERM/SIGINT, 1 after a crash."""
    asyncio.run(_run_then_close(app, headless=headless))
    return app.return_code or 0


async def _run_then_close(app: MarketpaneApp, *, headless: bool) -> None:
    """Run the app; however it ends (quit, signal, crash), close every socket with 1000 before
    the event loop goes away. A crash leaves ``app.return_code`` at 1."""
    try:
        await app.run_async(headless=headless)
    finally:
        if app.engine is not None:
            await app.engine.close(CLOSE_SECONDS)
