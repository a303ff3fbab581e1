"""What crosses the session boundary: commands in, batches out, all plain msgspec values.

Nothing here refers into the engine's store, so a batch can be encoded and sent to a view in
another process (the hub) as easily as handed to one in this process. A view applies each
batch to its own :class:`~tui.session.mirror.StoreMirror` and draws from that.
"""

from __future__ import annotations

from typing import Any

import msgspec

from tui.alerts.model import AlertRule, AlertView
from tui.engine.capacity import PlanUse
from tui.engine.status import FeedStatus, Notice
from tui.engine.stories import NewsItem
from tui.portfolio.model import Lot, PortfolioFile
from tui.protocol.live import Bar

# ---- commands: what a view asks of its session ----------------------------------------------


class AddSymbol(msgspec.Struct, tag=True):
    """Add a symbol to the active watchlist (validated; a duplicate is refused kindly)."""

    code: str


class RemoveSymbol(msgspec.Struct, tag=True):
    """Remove a symbol from the active watchlist (``UndoRemove`` brings it back)."""

    code: str


class UndoRemove(msgspec.Struct, tag=True):
    """Put the last removed symbol back where it was."""


class MoveSymbol(msgspec.Struct, tag=True):
    """Move a symbol up (-1) or down (+1) in the active watchlist."""

    code: str
    step: int


class SwitchWatchlist(msgspec.Struct, tag=True):
    """Make watchlist ``number`` (1-based) active."""

    number: int


class FocusSymbol(msgspec.Struct, tag=True):
    """Chart this symbol (its series joins the desired set)."""

    code: str


class CycleInterval(msgspec.Struct, tag=True):
    """Next bar interval for the focused symbol, or the one labelled ``to`` (``15m``)."""

    to: str | None = None


class ToggleChartMode(msgspec.Struct, tag=True):
    """Candles or OHLC bars."""


class ToggleGapFill(msgspec.Struct, tag=True):
    """Fill missing 1-second bars from the previous close (guide FAQ)."""


class ToggleNewsFilter(msgspec.Struct, tag=True):
    """News of the focused symbol only, or all news."""


class TogglePause(msgspec.Struct, tag=True):
    """Freeze the display; data keeps arriving underneath."""


class SeekReplay(msgspec.Struct, tag=True):
    """Move a replay ``seconds`` of its recording ahead (negative: back)."""

    seconds: float = 60.0


class SetTheme(msgspec.Struct, tag=True):
    """The user chose a theme: saved in the config's ``display.theme``."""

    name: str


class Reconnect(msgspec.Struct, tag=True):
    """Reconnect every feed now (and restart stopped ones)."""


class AddAlert(msgspec.Struct, tag=True):
    """Add an alert (``fresh_id``: the session gives it the next free id)."""

    rule: AlertRule
    fresh_id: bool = True


class ReplaceAlert(msgspec.Struct, tag=True):
    """Replace the alert with ``rule.id`` (edited in the alert list)."""

    rule: AlertRule


class RemoveAlert(msgspec.Struct, tag=True):
    """Delete an alert."""

    id: str


class PauseAlert(msgspec.Struct, tag=True):
    """Pause (or resume) an alert."""

    id: str
    paused: bool


class TestAlert(msgspec.Struct, tag=True):
    """Deliver a test firing of an alert by every channel."""

    id: str


class ShowPositions(msgspec.Struct, tag=True):
    """Show every symbol held in a portfolio as the grid (again: back to the watchlist)."""


class AddLot(msgspec.Struct, tag=True):
    """Add a lot to a portfolio (made if it does not exist)."""

    portfolio: str
    lot: Lot


class ReplaceLot(msgspec.Struct, tag=True):
    """Replace lot ``index`` of a portfolio."""

    portfolio: str
    index: int
    lot: Lot


class RemoveLot(msgspec.Struct, tag=True):
    """Remove lot ``index`` of a portfolio."""

    portfolio: str
    index: int


Command = (
    AddSymbol
    | RemoveSymbol
    | UndoRemove
    | MoveSymbol
    | SwitchWatchlist
    | FocusSymbol
    | CycleInterval
    | ToggleChartMode
    | ToggleGapFill
    | ToggleNewsFilter
    | TogglePause
    | SetTheme
    | Reconnect
    | SeekReplay
    | AddAlert
    | ReplaceAlert
    | RemoveAlert
    | PauseAlert
    | TestAlert
    | ShowPositions
    | AddLot
    | ReplaceLot
    | RemoveLot
)
"""Everything a view may send."""


# ---- batches: what a session tells its views -------------------------------------------------


class QuoteState(msgspec.Struct):
    """One symbol's merged quote, whole (a view replaces its copy)."""

    code: str
    values: dict[str, Any]
    changed_at: dict[str, float]
    direction: int
    spark: list[float]
    updated_at: float
    server_ms: float | None = None
    spark_minute: int = -1


class SeriesDelta(msgspec.Struct):
    """New bars of one series: the whole history when ``reloaded``, else the bars appended
    since the last batch plus the one before them (which may have been replaced)."""

    code: str
    bar_type: str | None
    reloaded: bool
    bars: list[Bar]
    ticks: bool
    loaded_at: float
    updated_at: float


class ViewState(msgspec.Struct):
    """The dashboard's state a view shows: the active watchlist, focus, chart and modes."""

    watchlist_name: str
    codes: list[str]
    watchlists: list[str]
    focused_code: str | None
    interval_label: str
    bar_type: str | None
    bar_interval: int | None
    adjustment: str = ""
    """``back-adjusted`` or ``unadjusted`` for a continuous future's chart, else empty."""
    chart_mode: str = "candles"
    fill_gaps_seconds: float = 0.0
    news_filter: bool = False
    paused: bool = False
    demo: bool = False
    replay: bool = False
    positions: bool = False
    """The grid shows the symbols held (``P``), not a watchlist."""


class SessionBatch(msgspec.Struct):
    """Everything that changed since the last batch. The next comes only after the view has
    acknowledged this one (``batch_done``), so a slow view gets bigger batches, never a queue."""

    rewound: bool = False
    """The store was emptied (a replay sought back): forget every quote, series and story
    before taking this batch in."""
    replay: str | None = None
    """Where a replay is (``REPLAY Fri 14:03:12 (2:05/10:00)``), shown on the status bar."""
    quotes: list[QuoteState] = []
    series: list[SeriesDelta] = []
    news: list[NewsItem] = []
    notices: list[Notice] = []
    statuses: list[FeedStatus] = []
    budget: str = ""
    pending: str | None = None
    warning: str | None = None
    """A condition to show on the status bar while it lasts (the event loop lagging)."""
    state: ViewState | None = None
    """Present when the view state changed (and in the first batch)."""
    removed: list[str] = []
    """Symbols whose quotes the view should forget."""
    plan: PlanUse | None = None
    """The plan's name and use (``plan pro 2/2``)."""
    marks: dict[str, str] = {}
    """Rows not subscribed, and why (left out for want of plan room, or rejected)."""
    series_marks: dict[str, str] = {}
    """Charts not subscribed, and why."""
    alerts: list[AlertView] | None = None
    """Every alert and its state; present when something about them changed."""
    portfolio: PortfolioFile | None = None
    """Every portfolio and its lots; present when they changed (and in the first batch)."""
    via: str | None = None
    """Where the data comes from when the hub does not hold the upstream itself: ``leader on
    HOST`` on a fleet follower (or why there is no leader), else None."""
    sent_at: float = 0.0
