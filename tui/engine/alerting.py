"""The engine's alert monitor: feeds the alert book from the store, delivers its firings.

It runs as one task beside the feeds: every :data:`EVAL_SECONDS` it takes the symbols whose
quotes changed (the store marks only those an alert watches: one set lookup per frame) and
the new stories, and once a second the time-based rules (staleness, feeds down, expiry). It
never blocks ingest: evaluation works on merged values, and delivery is queued per channel.
The same monitor runs in a pane's own engine (``--no-hub``) and in the hub, where it fires
with no pane attached.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tui.alerts.book import AlertBook
from tui.alerts.deliver import Delivery, pane_flags
from tui.alerts.model import AlertDelivery, AlertRule, AlertView, Firing
from tui.config import Config
from tui.engine.status import FeedState, FeedStatus, Notice
from tui.engine.store import MarketStore
from tui.protocol.live import Subscription

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

EVAL_SECONDS = 0.2
"""How often changed quotes and new stories are evaluated (a firing within a second)."""
TICK_SECONDS = 1.0
"""How often staleness, feed and expiry rules are evaluated, and the views refreshed."""
STATE_FILE = "alerts.json"
"""The alert state file in the state directory."""
DOWN_STATES = (FeedState.CONNECTING, FeedState.RECONNECTING, FeedState.STOPPED)
"""A feed in one of these is down (idle is not: nothing was asked of it)."""


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class AlertMonitor:
    """The book, its inputs and its delivery, for one engine."""

    def __init__(
        self,
        config: Config,
        store: MarketStore,
        *,
        state_dir: Path | None,
        notice: Callable[[Notice], None],
        statuses: Callable[[], list[FeedStatus]],
        unserved: Callable[[], dict[str, str]],
        on_symbols: Callable[[], None],
        on_views: Callable[[], None] = lambda: None,
        persist: Callable[[list[AlertRule]], str | None] | None = None,
        clock: Callable[[], float] = time.time,
        environ: dict[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.settings: AlertDelivery = config.alert_delivery
        self._notice = notice
        self._statuses = statuses
        self._unserved = unserved
        self._on_symbols = on_symbols
        self._on_views = on_views
        self.clock = clock
        self.book = AlertBook(
            config.alerts,
            state_path=state_dir / STATE_FILE if state_dir else None,
            watchlist_codes=self._watchlist_codes,
            clock=clock,
        )
        self.delivery = Delivery(
            self.settings,
            lambda level, text: self._notice(Notice(level, text, clock())),  # type: ignore[arg-type]
            environ=environ,
            transport=transport,
        )
        self.persist = persist
        """Writes the rules to the config file (set by whoever owns it: a pane's session, or
        the hub); returns an error text or None."""
        self.fired: deque[Firing] = deque(maxlen=200)
        """The latest firings (the alert list's history, and the tests')."""
        self.version = 0
        """Bumped whenever :meth:`views` would say something new."""
        self._views: list[AlertView] = []
        self._down_since: dict[str, float | None] = {}
        self._idle: asyncio.Future[None] | None = None
        """The pause of a monitor with no rule (:meth:`_pause`), ended early by a new one."""
        self._watch()

    def _watchlist_codes(self, name: str) -> list[str]:
        return [s.code for s in self.config.watchlist(name).symbols]

    def _watch(self) -> None:
        """Tell the store which symbols (and whether news) the alerts watch."""
        self.store.alert_watch = set(self.book.by_code)
        self.store.alert_news = any(c.kind == "news" for c in self.book.conditions.values())

    # ---- rules --------------------------------------------------------------------------------

    def rules(self) -> list[AlertRule]:
        """The rules, in order."""
        return list(self.book.rules.values())

    def next_id(self) -> str:
        """The smallest positive number not yet an id."""
        taken = set(self.book.rules)
        number = 1
        while str(number) in taken:
            number += 1
        return str(number)

    def set_rules(self, rules: list[AlertRule]) -> str | None:
        """Adopt ``rules`` (saved to the config file when one is owned); an error text if
        they could not be saved (they are in force anyway)."""
        ids = [r.id for r in rules]
        if len(set(ids)) != len(ids):
            return "alert ids must be unique"
        self.book.set_rules(rules)
        if self._idle is not None:  # the first rule: evaluate from now, not after a tick
            _resolve(self._idle)
        self._watch()
        self._on_symbols()
        self.refresh_views()
        if self.book.dirty:
            self.book.save()
        return self.persist(rules) if self.persist is not None else None

    def add(self, rule: AlertRule) -> str | None:
        """Add a rule (a new id if it has none free); an error text or None."""
        if rule.id in self.book.rules:
            return f"there is already an alert {rule.id}"
        return self.set_rules([*self.rules(), rule])

    def replace(self, rule: AlertRule) -> str | None:
        """Replace the rule with ``rule``'s id (its state starts afresh if the expression
        changed)."""
        if rule.id not in self.book.rules:
            return f"there is no alert {rule.id}"
        return self.set_rules([rule if r.id == rule.id else r for r in self.rules()])

    def remove(self, rule_id: str) -> str | None:
        """Delete a rule."""
        if rule_id not in self.book.rules:
            return f"there is no alert {rule_id}"
        return self.set_rules([r for r in self.rules() if r.id != rule_id])

    def test(self, rule_id: str) -> Firing | None:
        """Deliver a test firing of ``rule_id`` by every channel; None if there is no such
        rule."""
        if rule_id not in self.book.rules:
            return None
        firing = self.book.test_firing(rule_id)
        self._deliver(firing)
        return firing

    def quotes_beyond(self, asked: list[Subscription]) -> list[Subscription]:
        """Quote subscriptions for the symbols the rules watch that ``asked`` has no quote of."""
        quoted = {s.code for s in asked if s.is_quote}
        return [Subscription(code=c, type="quote") for c in self.symbols() if c not in quoted]

    def symbols(self) -> list[str]:
        """Symbols the live rules need quotes for."""
        return self.book.symbols()

    def active(self) -> bool:
        """Whether any rule can still fire (the hub stays up for them)."""
        return bool(self.book.live_rules())

    def views(self) -> list[AlertView]:
        """Every rule and its state, as of the last refresh."""
        return self._views

    def refresh_views(self) -> None:
        views = self.book.views(self._unserved())
        if views != self._views:
            self._views = views
            self.version += 1
            self._on_views()

    # ---- running ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Evaluate until cancelled; the delivery stops with it."""
        if self.book.load_error:
            self._notice(Notice("warning", self.book.load_error, self.clock()))
        self.refresh_views()
        last_tick = 0.0
        try:
            while True:
                await self._pause()
                now = self.clock()
                ticked = now - last_tick >= TICK_SECONDS
                if ticked:
                    last_tick = now
                try:
                    self._step(now, ticked=ticked)
                except Exception as exc:  # a bug in one rule must not end every alert
                    log.exception("alert evaluation failed")
                    self._notice(Notice("error", f"Alert evaluation failed: {exc}", now))
        finally:
            if self.book.dirty:
                self.book.save()
            await self.delivery.close()

    async def _pause(self) -> None:
        """:data:`EVAL_SECONDS` while there is a rule to evaluate; with none, a tick's time
        (expiry, the views) unless a rule comes sooner: no wake-ups a quiet pane pays for."""
        if self.book.rules:
            await asyncio.sleep(EVAL_SECONDS)
            return
        loop = asyncio.get_running_loop()
        self._idle = waiter = loop.create_future()
        timer = loop.call_later(TICK_SECONDS, _resolve, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._idle = None

    def _step(self, now: float, *, ticked: bool) -> None:
        firings = self.evaluate_changes(now)
        if ticked:
            firings += self.evaluate_time(now)
        self._handle(firings)
        if ticked:
            self.refresh_views()
            if self.book.dirty:
                self.book.save()

    def evaluate_changes(self, now: float) -> list[Firing]:
        """Quotes that changed and stories that came since the last call."""
        store = self.store
        codes, store.alert_changed = store.alert_changed, set()
        stories, store.alert_stories = store.alert_stories, []
        firings: list[Firing] = []
        for code in codes:
            row = store.quotes.get(code)
            if row is not None:
                firings += self.book.on_quote(code, row.values, now)
        for item in stories:
            firings += self.book.on_news(
                item.key, item.tickers, item.score, item.confidence, item.title, now
            )
        return firings

    def evaluate_time(self, now: float) -> list[Firing]:
        """Staleness, feeds down and expiry."""
        for status in self._statuses():
            down = status.state in DOWN_STATES
            if not down:
                self._down_since[status.name] = None
            elif self._down_since.get(status.name) is None:
                self._down_since[status.name] = now
        quotes = self.store.quotes
        firings: list[Firing] = []
        for code in self.book.take_held():  # cooling down when it last held
            row = quotes.get(code)
            if row is not None:
                firings += self.book.on_quote(code, row.values, now)

        def quote_time(code: str) -> float | None:
            row = quotes.get(code)
            return row.updated_at if row is not None and row.updated_at else None

        return firings + self.book.on_tick(
            now, quote_time, dict(self._down_since), self._unserved()
        )

    def _handle(self, firings: list[Firing]) -> None:
        if not firings:
            return
        self.book.save()  # before delivery: a restart never fires these again
        for firing in firings:
            self._deliver(firing)
        self.refresh_views()

    def _deliver(self, firing: Firing) -> None:
        log.info("alert %s fired: %s", firing.id, firing.text)
        self.fired.append(firing)
        show, bell, desktop = pane_flags(self.settings, firing)
        if show or bell or desktop:
            self._notice(
                Notice(
                    "information" if firing.test else "warning",
                    firing.text,
                    firing.at,
                    alert=True,
                    show=show,
                    bell=bell,
                    desktop=desktop,
                )
            )
        self.delivery.send(firing)
