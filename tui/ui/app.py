"""The marketpane Textual view: keys become session commands, session batches become pixels.

The view holds no dashboard state of its own beyond layout and focus: the watchlists, the
focused symbol, chart settings and modes live in the session (``tui/session/``), which may run
in this process or another. Batches are applied to a :class:`StoreMirror` the widgets draw
from; the next batch is asked for only once this one is on screen.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from rich.text import Text
from textual import events, on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.theme import Theme
from textual.widgets import OptionList
from textual.worker import Worker, WorkerState

from tui import paths
from tui.config import Display
from tui.engine.engine import Engine
from tui.engine.status import FeedState, FeedStatus
from tui.engine.store import NewsItem
from tui.protocol.rest import SymbolInfo
from tui.protocol.text import clean_text
from tui.secrets import mask_secrets
from tui.session.mirror import StoreMirror
from tui.session.values import (
    AddSymbol,
    Command,
    CycleInterval,
    FocusSymbol,
    MoveSymbol,
    Reconnect,
    RemoveSymbol,
    SessionBatch,
    SwitchWatchlist,
    ToggleChartMode,
    ToggleGapFill,
    ToggleNewsFilter,
    TogglePause,
    UndoRemove,
    ViewState,
)
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

WIDE_MIN_COLUMNS = 140
"""At least this wide: grid, chart and news side by side."""
MEDIUM_MIN_COLUMNS = 80
"""At least this wide (and 20 rows): grid above, chart and news below."""
MEDIUM_MIN_ROWS = 20
"""Fewer rows than this use the compact pane layout."""
STATUS_TICK_SECONDS = 1.0
"""Ages, staleness and the status bar refresh this often (inside a batch's frame when one
comes, so the tick costs no frame of its own)."""
EXIT_SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)
"""Signals that close every socket with 1000 and restore the terminal before exiting."""


class SessionLink(Protocol):
    """What the view needs of a session, in this process or behind a socket."""

    on_batch: Any

    def send(self, command: Command) -> None: ...

    def batch_done(self) -> None: ...

    async def run(self) -> None: ...

    async def search(self, query: str) -> list[SymbolInfo]: ...

    async def close(self, timeout: float = 1.0) -> None: ...

    def stop(self) -> None: ...


class BatchReady(Message):
    """The session has a batch of changes for the view."""

    def __init__(self, batch: SessionBatch) -> None:
        super().__init__()
        self.batch = batch


@dataclass
class ViewOptions:
    """How this pane looks; what it shows comes from the session."""

    display: Display
    theme: str | None = None
    layout: str | None = None
    frozen_time: float | None = None
    theme_problem: str | None = None
    probe: Any = None
    """Benchmark hook: ``probe.drawn(app, batch)`` after each batch reaches the screen."""
    handle_signals: bool = False
    """Quit cleanly on SIGHUP, SIGTERM and SIGINT (the real app; tests leave them alone)."""
    first_frame_file: Path | None = None
    """Benchmark start-up probe: write the time of the first frame here, then quit."""


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
        Binding("u", "undo_remove", "Undo remove", show=False),
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

    def __init__(self, session: SessionLink, options: ViewOptions) -> None:
        super().__init__()
        self.session = session
        self.options = options
        self.display_config = options.display
        self.store = StoreMirror()
        self.state = ViewState("", [], [], None, "", None, None)
        self.statuses: list[FeedStatus] = []
        self.budget_text = ""
        self.pending: str | None = None
        self.warning: str | None = None
        self.session_worker: Worker[None] | None = None
        self.palette = Palette.from_variables({})
        self.marketpane_themes: list[str] = []
        self.layout_name = "medium"
        self.chart_forced = False
        self.exit_signal: int | None = None
        self._last_tick = 0.0
        session.on_batch = self._post_batch

    # ---- what tests and the benchmark read --------------------------------------------------

    @property
    def engine(self) -> Engine | None:
        """The in-process session's engine (None when the session lives elsewhere)."""
        return getattr(self.session, "engine", None)

    @property
    def focused_code(self) -> str | None:
        """The session's focused symbol, as last told."""
        return self.state.focused_code

    @property
    def paused(self) -> bool:
        """Whether the display is frozen, as last told."""
        return self.state.paused

    # ---- setup ------------------------------------------------------------------------------

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
        self.query_one(QuoteGrid).stale_after = self.display_config.stale_after_seconds
        self._apply_layout(self.size.width, self.size.height)
        self.session_worker = self.run_worker(
            self.session.run(), name="engine", group="engine", exit_on_error=False
        )
        self.set_interval(STATUS_TICK_SECONDS / 2, self._tick_if_due)
        if self.options.handle_signals:
            loop = asyncio.get_running_loop()
            for signum in EXIT_SIGNALS:
                loop.add_signal_handler(signum, self._on_exit_signal, signum)
        self._tick_status()
        if self.options.first_frame_file is not None:
            self.call_after_refresh(self._first_frame, self.options.first_frame_file)

    def _first_frame(self, path: Path) -> None:
        """Record when the first frame was drawn, then quit (benchmark only)."""
        path.write_text(f"{time.time():.6f}")
        self.run_worker(self.action_quit(), exit_on_error=False)

    def _load_themes(self) -> None:
        display = self.display_config
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
        self._update_chart()
        self._refresh_news()

    def _post_batch(self, batch: SessionBatch) -> None:
        """Called by the session (same event loop): hand the batch to the message pump."""
        self.post_message(BatchReady(batch))

    # ---- layout -----------------------------------------------------------------------------

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
        grid = self.query_one(QuoteGrid)
        grid_width = width * 3 // 7 if name == "wide" else width
        grid.set_layout(grid_width, compact=name == "compact")
        grid.refresh_rows(grid.codes, self.store, self.now())
        self.call_after_refresh(self._after_layout)

    def _after_layout(self) -> None:
        """Re-fit width-dependent text once the new sizes are known."""
        self._refresh_news()
        self._tick_status()

    # ---- batches ----------------------------------------------------------------------------

    @on(BatchReady)
    def _on_batch(self, message: BatchReady) -> None:
        batch = message.batch
        try:
            for notice in batch.notices:
                self.notify(notice.text, severity=notice.level, timeout=6)
            self.store.apply_batch(batch)
            self.statuses, self.budget_text = batch.statuses, batch.budget
            self.pending = batch.pending
            self.warning = batch.warning
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
        grid.set_symbols(state.codes)
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
                grid.refresh_rows({q.code for q in batch.quotes}, self.store, now)
            grid.tick_flashes(self.store, now)  # end flashes in the same frame
            if any(delta.code == self.focused_code for delta in batch.series):
                self._update_chart()
            if batch.news:
                self._refresh_news()
            if time.monotonic() - self._last_tick >= STATUS_TICK_SECONDS - 0.1:
                self._tick_status()  # in the batch's frame rather than a frame of its own

    def _live_ok(self) -> bool:
        live = [s for s in self.statuses if s.name == "live"]
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
        state = self.state
        chart.mode = state.chart_mode
        chart.fill_gaps_seconds = state.fill_gaps_seconds
        code = state.focused_code
        label = " · ".join(p for p in (state.interval_label, state.adjustment) if p)
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
            self._tick_status()

    def _tick_status(self) -> None:
        """Ages, staleness and the status bar."""
        self._last_tick = time.monotonic()
        if not self.paused:
            grid = self.query_one(QuoteGrid)
            grid.feed_live = self._live_ok()
            grid.tick(self.store, self.now())  # ages and staleness, once a second
        extra: list[str] = []
        if self.budget_text:
            extra.append(self.budget_text)
        if self.pending:
            extra.append(self.pending)
        if self.warning:
            extra.append(self.warning)
        if self.paused:
            extra.append(PAUSED)
        if self.state.news_filter:
            extra.append(f"news: {self.focused_code or 'all'}")
        if self.state.demo:
            extra.append("DEMO data (simulator)")
        self.query_one(StatusBar).show(self.statuses, extra, self.palette, self.now())

    # ---- actions: keys become commands ------------------------------------------------------

    def send(self, command: Command) -> None:
        """Hand a command to the session."""
        self.session.send(command)

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
        code = self.query_one(QuoteGrid).highlighted_code
        if code is not None:
            self.send(FocusSymbol(code))

    def action_add_symbol(self) -> None:
        self.push_screen(AddSymbolScreen(self.session.search), self._added)

    def _added(self, code: str | None) -> None:
        if code:
            self.send(AddSymbol(code))

    def action_remove_symbol(self) -> None:
        code = self.query_one(QuoteGrid).highlighted_code
        if code is not None:
            self.send(RemoveSymbol(code))

    def action_undo_remove(self) -> None:
        self.send(UndoRemove())

    def action_move_symbol(self, step: int) -> None:
        grid = self.query_one(QuoteGrid)
        code, target = grid.highlighted_code, grid.cursor_row + step
        if code is None or not 0 <= target < len(grid.codes):
            return
        self.send(MoveSymbol(code, step))
        grid.move_cursor(row=target)  # the cursor follows the symbol

    def action_switch_watchlist(self, number: int) -> None:
        self.send(SwitchWatchlist(number))

    def action_cycle_interval(self) -> None:
        self.send(CycleInterval())

    def action_toggle_chart_mode(self) -> None:
        self.send(ToggleChartMode())

    def action_toggle_gap_fill(self) -> None:
        self.send(ToggleGapFill())

    def action_toggle_chart(self) -> None:
        self.chart_forced = not self.chart_forced
        self._apply_layout(self.size.width, self.size.height)

    def action_toggle_news_filter(self) -> None:
        self.send(ToggleNewsFilter())

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
        self.send(TogglePause())

    def action_reconnect(self) -> None:
        self.send(Reconnect())

    # ---- ways out ---------------------------------------------------------------------------

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
        in a local would print the key. (A private method: Textual is pinned to its minor
        version in ``pyproject.toml`` for this.)
        """
        self.bell()
        self._exit_renderables.append(self.crash_report())
        self._close_messages_no_wait()

    def _on_exit_signal(self, signum: int) -> None:
        """SIGHUP (a dropped SSH session), SIGTERM or SIGINT: stop the feeds at once (their
        sockets close with 1000, bounded by the launcher), restore the terminal and exit with
        128 + the signal's number."""
        self.exit_signal = signum
        self.session.stop()
        self.exit(return_code=128 + signum)

    async def action_quit(self) -> None:
        """Close every socket with 1000, then exit."""
        self.session.stop()
        if self.session_worker is not None:
            try:
                await self.session_worker.wait()
            except Exception:  # the worker's own error was already shown
                pass
        self.exit(0)
