"""What a session is made of: its options, its state, and the helpers every part of it uses
(the watchlist shown, the view state, saving, the desired set)."""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tui.config import (
    Config,
    ConfigError,
    Watchlist,
    WatchSymbol,
    load_config,
    save_config_keeping_alerts,
)
from tui.engine.engine import Engine, EngineSettings
from tui.engine.replay import ReplayClock
from tui.engine.status import Notice
from tui.portfolio.model import (
    PortfolioFile,
)
from tui.protocol.live import Subscription
from tui.protocol.rules import is_continuous_future
from tui.secrets import Keys, mask_secrets
from tui.session.filewatch import FileWatch
from tui.session.values import (
    SessionBatch,
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
    portfolio: PortfolioFile | None = None
    """The portfolios to show (default: ``portfolio.toml`` beside the config file)."""


class SessionBase(ABC):
    """The state a session's parts share (set by :class:`~tui.session.session.Session`) and
    the helpers they all use."""

    options: SessionOptions
    shared: bool
    desired_sink: Callable[[list[Subscription]], str | None] | None
    config: Config
    on_batch: Callable[[SessionBatch], None] | None
    chart_mode: str
    fill_gaps: bool
    news_filter: bool
    paused: bool
    _state_dirty: bool
    _alerts_version: int
    portfolio_path: Path | None
    portfolio: PortfolioFile
    _portfolio_dirty: bool
    _config_watch: FileWatch | None
    _rewinds_sent: int
    replay_clock: ReplayClock
    mark_note: Callable[[], str] | None
    transient: Watchlist | None
    focused_code: str | None
    removed: list[tuple[str, int, WatchSymbol]]
    _forget: list[str]
    _notices: list[Notice]
    engine: Engine | None
    _saved_transient: Watchlist | None
    _news_forms: dict[str, set[bytes]]
    _checks: set[asyncio.Task[None]]
    _portfolio_watch: FileWatch | None

    @abstractmethod
    def publish_static_changes(self) -> None:
        """With no engine, send the view a batch of state and notices now (the forwarding
        part does)."""

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

    def _edited(self) -> None:
        """The watchlist or a symbol's settings changed: refocus, resubscribe, save."""
        self._refocus()
        self._update_desired()
        self._persist()
        self._changed()

    def desired_subscriptions(self) -> list[Subscription]:
        """Quotes for the watchlist plus the focused symbol's series."""
        entries = self.watchlist().symbols
        subs: list[Subscription] = [e.quote_subscription() for e in entries if e.quote]
        focused = self.entry(self.focused_code)
        if focused is not None:
            subs.append(focused.series_subscription())
        return subs

    def _update_desired(self) -> None:
        """Hand the desired set to the engine (which debounces) or to the hub."""
        if self.engine is None:
            return
        subs = self.desired_subscriptions()
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

    def _held_symbols(self) -> list[str]:
        return list(dict.fromkeys(c for p in self.portfolio.portfolios for c in p.symbols()))

    def _refresh_held_list(self) -> None:
        """While the grid shows the symbols held (``P``), show the ones held now."""
        if self.transient is not None and self.transient.name == POSITIONS_WATCHLIST:
            self.transient.symbols = [WatchSymbol(code=c) for c in self._held_symbols()]
            self._edited()


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
