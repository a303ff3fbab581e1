"""Keys: every binding, the help and palette rows made from them, and each key's action,
which becomes a session command (the view keeps only layout and focus)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.keys import format_key
from textual.screen import Screen
from textual.widgets import OptionList

from tui.alerts.model import AlertRule, AlertView
from tui.engine.capacity import add_warning
from tui.paths import atomic_write_text
from tui.portfolio.model import Lot, PortfolioFile
from tui.portfolio.pnl import Figures
from tui.session.mirror import StoreMirror
from tui.session.session import INTERVALS
from tui.session.values import (
    AddAlert,
    AddLot,
    AddSymbol,
    Command,
    CycleInterval,
    FocusSymbol,
    MoveSymbol,
    Reconnect,
    RemoveLot,
    RemoveSymbol,
    ReplaceAlert,
    ReplaceLot,
    SeekReplay,
    ShowPositions,
    SwitchWatchlist,
    ToggleChartMode,
    ToggleGapFill,
    ToggleNewsFilter,
    TogglePause,
    UndoRemove,
    ViewState,
)
from tui.ui.alerts import AlertFormScreen, AlertListScreen
from tui.ui.columns import TREND_MINUTES
from tui.ui.exits import ExitingApp
from tui.ui.grid import QuoteGrid
from tui.ui.holdings import ExportScreen, LotFormScreen, SymbolDetailScreen
from tui.ui.intervals import IntervalScreen
from tui.ui.panels import NewsList
from tui.ui.positions import export_csv
from tui.ui.screens import AddSymbolScreen, HelpScreen, NewsDetailScreen

LEGEND: list[tuple[str, str]] = [
    ("▲▲ ▲ • ▼ ▼▼", "news sentiment: very bullish, bullish, neutral, bearish, very bearish"),
    ("▲ ▼ in Chg%", "up or down on the day (colour repeats it; mono uses weight)"),
    ("Trend", f"last {TREND_MINUTES} minutes of prices, low to high of that window"),
    ("PRE REG POST CLSD", "session: pre-market, regular, after hours, closed"),
    ("RT  15m", "real-time, or delayed by the server (minutes)"),
    ("dimmed row", "stale: no update for 30 s, or the live feed is down"),
    ("…", "waiting for the first quote"),
    ("####", "a number too wide for its column (widen the pane)"),
    ("not subscribed", "the plan is full: free room (d) or choose a larger plan"),
    ("rejected", "the server does not know the symbol: d removes it"),
    ("DEMO  REPLAY", "simulated data, or a recording played back"),
]
"""What each mark on screen means (the help's second table)."""


class KeyedApp(ExitingApp):
    """Bindings and actions."""

    store: StoreMirror
    state: ViewState
    alert_views: list[AlertView]
    portfolio: PortfolioFile
    removed: list[str] = []
    """Rows ``d`` removed, newest last (``u`` brings them back in turn)."""

    def now(self) -> float:
        """The clock the view draws with (the app's; pinned in snapshot tests)."""
        return time.time()

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add_symbol", "Add symbol"),
        Binding("d,delete", "remove_symbol", "Remove symbol"),
        Binding("u", "undo_remove", "Undo remove", show=False),
        Binding("K,shift+up", "move_symbol(-1)", "Move symbol up", show=False),
        Binding("J,shift+down", "move_symbol(1)", "Move symbol down", show=False),
        Binding("s", "cycle_sort", "Sort grid"),
        Binding("A", "add_alert", "Alert on symbol"),
        Binding("L", "alert_list", "Alerts"),
        Binding("v", "symbol_detail", "Symbol detail"),
        Binding("P", "toggle_positions", "Positions"),
        Binding("plus", "add_lot", "Add lot", show=False),
        Binding("asterisk", "toggle_privacy", "Privacy (hide amounts)", show=False),
        Binding("E", "export_csv", "Export CSV", show=False),
        Binding("i", "cycle_interval", "Interval"),
        Binding("I", "pick_interval", "Pick an interval"),
        Binding("b", "toggle_chart_mode", "Candles/bars", show=False),
        Binding("c", "toggle_chart", "Chart (compact)", show=False),
        Binding("g", "toggle_gap_fill", "Fill 1s gaps", show=False),
        Binding("f", "toggle_news_filter", "News filter"),
        Binding("n", "focus_news", "News (compact: show it)", show=False),
        Binding("N", "notice_history", "Notice history", show=False),
        Binding("t", "cycle_theme", "Next theme"),
        Binding("p", "toggle_pause", "Pause"),
        Binding("greater_than_sign", "seek_replay(60)", "Replay: 1 min ahead", show=False),
        Binding("less_than_sign", "seek_replay(-60)", "Replay: 1 min back", show=False),
        Binding("r", "reconnect", "Reconnect"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        *[
            Binding(str(n), f"switch_watchlist({n})", f"Watchlist {n}", show=False)
            for n in range(1, 10)
        ],
    ]

    # ---- actions: keys become commands ------------------------------------------------------

    def send(self, command: Command) -> None:
        """Hand a command to the session."""
        self.session.send(command)

    def action_rows(self) -> list[tuple[str, str, str]]:
        """(keys, action, description) for the help screen and the command palette (rows
        with no action are help only)."""
        rows = [
            ("↑/↓ j/k", "", "Move through the grid, the news, a story"),
            ("PgUp/PgDn Home/End", "", "Page through the grid; first and last row"),
            ("Enter", "", "Grid: chart the symbol · News: open the story"),
            ("Tab", "", "Switch between grid and news"),
        ]
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.description:
                if binding.action.startswith("switch_watchlist") and binding.key != "1":
                    continue
                keys = " / ".join(format_key(k) for k in binding.key.split(","))
                description = binding.description
                if binding.action.startswith("switch_watchlist"):
                    keys, description = "1-9", "Switch watchlist"
                rows.append((keys, binding.action, description))
        rows.append(("Ctrl+P", "command_palette", "Command palette"))
        rows.append(("In a story", "", "j/k next/previous · y copy link · Esc close"))
        return rows

    def action_help(self) -> None:
        self.push_screen(HelpScreen([(k, d) for k, _, d in self.action_rows()], LEGEND))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Textual's palette entries that are not already marketpane's (its Quit and Keys
        duplicate ``q`` and ``?``): the theme picker and the screenshot."""
        for command in super().get_system_commands(screen):
            if command.title in ("Theme", "Screenshot"):
                yield command

    @on(QuoteGrid.Selected)
    def _row_selected(self, event: QuoteGrid.Selected) -> None:
        self.action_focus_symbol()

    def action_focus_symbol(self) -> None:
        code = self.query_one(QuoteGrid).highlighted_code
        if code is not None:
            self.send(FocusSymbol(code))

    def action_add_symbol(self) -> None:
        warning = add_warning(getattr(self, "plan", None))
        self.push_screen(AddSymbolScreen(self.session.search, warning), self._added)

    def action_add_alert(self) -> None:
        """A new alert on the highlighted row, prefilled with its last price."""
        grid = self.query_one(QuoteGrid)
        code = grid.highlighted_code
        if code is None:
            self.notify("Add a symbol first: an alert starts from a grid row")
            return
        row = self.store.quotes.get(code)
        last = row.get("last_price") if row is not None else None
        when = f"{code} crosses {last:g}" if isinstance(last, int | float) else f"{code} > "
        self.push_screen(AlertFormScreen(when), self._alert_made)

    def _alert_made(self, rule: AlertRule | None) -> None:
        if rule is not None:
            self.send(AddAlert(rule))

    def action_alert_list(self) -> None:
        self.push_screen(AlertListScreen(list(self.alert_views), self.send, self._edit_alert))

    def _edit_alert(self, rule: AlertRule) -> None:
        def edited(changed: AlertRule | None) -> None:
            if changed is not None:
                self.send(ReplaceAlert(changed))

        self.push_screen(AlertFormScreen(rule.when, rule), edited)

    # ---- positions ------------------------------------------------------------------------

    def action_toggle_positions(self) -> None:
        self.send(ShowPositions())

    def action_toggle_privacy(self) -> None:
        grid = self.query_one(QuoteGrid)
        grid.private = not grid.private
        grid.cells.clear()
        grid.strips.clear()
        self.update_positions()
        grid.refresh_rows(grid.codes, self.store, self.now())
        grid.refresh()
        if isinstance(self.screen, SymbolDetailScreen):
            self.screen.refresh_content()
        self.notify("Privacy: amounts hidden (* shows them)" if grid.private else "Amounts shown")

    def update_positions(self) -> None:
        """Recompute position figures (the app's)."""

    def _last_price_text(self, code: str) -> str:
        row = self.store.quotes.get(code)
        last = row.get("last_price") if row is not None else None
        return repr(last) if isinstance(last, int | float) else ""

    def action_add_lot(self) -> None:
        code = self.query_one(QuoteGrid).highlighted_code
        if code is None:
            self.notify("Add a symbol first: a lot starts from a grid row")
            return
        self.edit_lot(code, None, None)

    def edit_lot(self, code: str, lot: Lot | None, index: int | None, name: str = "") -> None:
        """The lot form: a new lot of ``code``, or lot ``index`` of portfolio ``name``."""
        portfolios = [p.name for p in self.portfolio.portfolios]
        original = name or (portfolios[0] if portfolios else "main")

        def done(result: tuple[str, Lot] | None) -> None:
            if result is None:
                return
            target, made = result
            if lot is None or index is None:
                self.send(AddLot(target, made))
            elif target == original:
                self.send(ReplaceLot(original, index, made))
            else:  # moved to another portfolio
                self.send(RemoveLot(original, index))
                self.send(AddLot(target, made))

        self.push_screen(LotFormScreen(original, lot, code, self._last_price_text(code)), done)

    def action_symbol_detail(self) -> None:
        grid = self.query_one(QuoteGrid)
        code = grid.highlighted_code
        if code is None:
            return
        self.send(FocusSymbol(code))  # the main chart (and its series) follow

        def source() -> tuple[StoreMirror, dict[str, Figures], PortfolioFile, bool, float]:
            return self.store, grid.figures, self.portfolio, grid.private, self.now()

        def edit(symbol: str, lot: Lot | None, index: int | None) -> None:
            name = ""
            if lot is not None and index is not None:
                name = next(
                    (p.name for p in self.portfolio.portfolios
                     if index < len(p.lots) and p.lots[index] is lot),
                    "",
                )  # fmt: skip
            self.edit_lot(symbol, lot, index, name)

        self.push_screen(SymbolDetailScreen(code, source, self.send, edit))

    def action_export_csv(self) -> None:
        name = self.query_one(QuoteGrid).title or "grid"
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
        default = Path.cwd() / f"marketpane-{safe}-{dt.date.today().isoformat()}.csv"
        self.push_screen(ExportScreen(default), self._export_to)

    def _export_to(self, path: Path | None) -> None:
        if path is None:
            return
        grid = self.query_one(QuoteGrid)
        text = export_csv(grid.codes, self.store, grid.figures)
        try:
            atomic_write_text(path, text)
        except OSError as exc:
            self.notify(f"Not written: {exc.strerror} ({path})", severity="error")
            return
        self.notify(f"Wrote {len(grid.codes)} rows to {path} (amounts in full)")

    def _added(self, code: str | None) -> None:
        if code:
            self.send(AddSymbol(code))

    def action_remove_symbol(self) -> None:
        grid = self.query_one(QuoteGrid)
        if self.focused is not grid:  # never the grid's row while reading the news
            self.notify("d removes the highlighted grid row: focus the grid first (Tab)")
            return
        code = grid.highlighted_code
        if code is not None:
            self.removed = [*self.removed, code][-20:]
            self.send(RemoveSymbol(code))

    def action_undo_remove(self) -> None:
        """Bring the last removed row back, with the cursor on it (so a second ``d`` removes
        that row again, not its neighbour)."""
        if self.removed:
            self.query_one(QuoteGrid).follow = self.removed[-1]
            self.removed = self.removed[:-1]
        self.send(UndoRemove())

    def action_cycle_sort(self) -> None:
        grid = self.query_one(QuoteGrid)
        words = grid.cycle_sort(getattr(self, "store", None))
        self.notify(f"Sorted by {words}", timeout=2)

    def action_move_symbol(self, step: int) -> None:
        grid = self.query_one(QuoteGrid)
        if grid.sort != "watchlist":
            self.notify("The grid is sorted: press s until watchlist order to move symbols")
            return
        code, target = grid.highlighted_code, grid.cursor_row + step
        if code is None or not 0 <= target < len(grid.codes):
            return
        self.send(MoveSymbol(code, step))
        grid.move_cursor(row=target)  # the cursor follows the symbol

    def action_switch_watchlist(self, number: int) -> None:
        self.send(SwitchWatchlist(number))

    def action_seek_replay(self, seconds: float) -> None:
        self.send(SeekReplay(float(seconds)))

    def action_cycle_interval(self) -> None:
        self.send(CycleInterval())

    def action_pick_interval(self) -> None:
        """``I``: every interval in one list; Enter jumps the chart to it."""
        labels = [label for _, _, label in INTERVALS]
        current = self.state.interval_label

        def chosen(label: str | None) -> None:
            if label is not None:
                self.send(CycleInterval(to=label))

        self.push_screen(IntervalScreen(labels, current), chosen)

    def action_toggle_chart_mode(self) -> None:
        self.send(ToggleChartMode())

    def action_toggle_gap_fill(self) -> None:
        self.send(ToggleGapFill())

    def action_toggle_news_filter(self) -> None:
        self.send(ToggleNewsFilter())

    @on(OptionList.OptionSelected, "#news")
    def _news_selected(self, event: OptionList.OptionSelected) -> None:
        news = self.query_one(NewsList)
        if news.selected_item() is not None and news.highlighted is not None:
            self.push_screen(NewsDetailScreen(list(news.items), news.highlighted))

    def action_toggle_pause(self) -> None:
        self.send(TogglePause())

    def action_reconnect(self) -> None:
        self.send(Reconnect())
