"""The engine facade: owns the store, the budget, the keys and the feed supervisors, and
publishes batches of changes to the UI at a bounded rate.

The UI sets the desired subscriptions (watchlist quotes plus the focused symbol's series);
the live feed sends them debounced and within the budget. Nothing here imports Textual.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import msgspec

from tui.alerts.model import AlertRule
from tui.config import Config
from tui.engine.alerting import AlertMonitor
from tui.engine.budget import SubscriptionBudget
from tui.engine.capacity import Capacity, PlanUse
from tui.engine.context import EngineSettings
from tui.engine.feeds import LiveFeed, NewsfeedFeed, StockNewsFeed
from tui.engine.intent import SubscriptionIntent
from tui.engine.keys import KeyProvider
from tui.engine.recorder import Recorder
from tui.engine.remote import RemoteUpstream
from tui.engine.rest import RestClient
from tui.engine.status import Batch, FeedStatus, Notice
from tui.engine.store import MarketStore
from tui.engine.supervisor import Supervisor
from tui.protocol.live import Subscription
from tui.protocol.rules import SubscriptionRuleError, normalise_subscription
from tui.protocol.text import clean_text
from tui.secrets import Keys, mask_secrets

__all__ = ["Engine", "EngineSettings"]

LOOP_PROBE_SECONDS = 0.5
"""How often the event loop's own scheduling delay is measured."""
LOOP_LAG_WARN_MS = 250.0
"""A loop this late to wake is blocked (a slow draw, a blocking call): said on screen."""
UI_LOST_SECONDS = 5.0
"""A batch the UI has not confirmed drawing after this long is taken as lost (the engine and
the UI share one event loop, so a UI that is merely slow holds the engine's ticks too)."""


class Engine:
    """Feeds, store and budget, driven by one ``run()`` coroutine."""

    def __init__(
        self,
        config: Config,
        keys: Keys,
        *,
        settings: EngineSettings | None = None,
        state_dir: Path | None = None,
        on_batch: Callable[[Batch], None] | None = None,
        record_path: Path | None = None,
        clock: Callable[[], float] = time.time,
        upstream: bool = True,
        persist_alerts: Callable[[list[AlertRule]], str | None] | None = None,
        on_wanted: Callable[[], None] | None = None,
        on_budget_record: Callable[[], None] | None = None,
    ) -> None:
        """``on_wanted``: :meth:`wanted` may have changed; ``on_budget_record``: one counted."""
        self.config = config
        self._keys = keys
        self.settings = settings or EngineSettings()
        self.store = MarketStore()
        plan = config.plan
        self.budget = SubscriptionBudget(
            state_dir / "budget.json" if state_dir else None,
            limit=plan.messages_per_window,
            window_seconds=plan.window_seconds,
            clock=clock,
            on_problem=lambda text: self.notice("warning", text),
            on_record=on_budget_record,
        )
        self.rest = RestClient(
            config.endpoints,
            direct_key=keys.insightsentry_api_key,
            rapidapi_key=keys.insightsentry_rapidapi_key,
            timeout=self.settings.rest_timeout,
        )
        self.keys = KeyProvider(
            keys, self.rest, state_dir, clock, on_problem=lambda text: self.notice("warning", text)
        )
        self.recorder = Recorder(record_path) if record_path else None
        self.frame_observers: list[Callable[[str, str | bytes, float], None]] = []
        """Called with (feed name, frame, receive time) for every inbound frame, before it is
        decoded: the ``--record`` recorder, and the benchmark's timers."""
        if self.recorder is not None:
            self.frame_observers.append(self.recorder.write)
        self.on_batch = on_batch
        self.intent = SubscriptionIntent()
        self.capacity = Capacity(config.plan)
        self.requested: list[Subscription] = []
        """What the session asked for, before fitting to the plan."""
        self.loop_lag_ms = 0.0
        """How late the event loop last woke a sleeper, in ms."""
        self._warned: set[str] = set()
        self.notices: list[Notice] = []
        self.notice_log: deque[Notice] = deque(maxlen=200)
        self._status_dirty = True
        self._urgent_state = False
        self._ui_busy = False
        self._owed = False
        self._wake = asyncio.Event()
        self.store.on_wake = self._wake.set
        self._busy_since = 0.0
        self._last_rates = self._last_batch = time.monotonic()
        self._last_counts: dict[str, int] = {}
        self._last_bytes: dict[str, int] = {}
        self._stop = asyncio.Event()
        self._feed_tasks: list[asyncio.Task[None]] = []
        self.feeds: list[Supervisor] = self._make_feeds() if upstream else []
        self.remote: RemoteUpstream | None = None
        """Set while this engine is a fleet follower: the leader holds the upstream, and its
        statuses, plan use, marks and budget stand in for this engine's own."""
        self.on_wanted = on_wanted
        self._running = False
        for problem in (self.budget.load_error, self.keys.load_error):
            if problem:
                self.notice("warning", problem)
        self.alerts = AlertMonitor(
            config,
            self.store,
            state_dir=state_dir,
            notice=self.add_notice,
            statuses=self.statuses,
            unserved=lambda: self.capacity.marks,
            on_symbols=self._refit,
            on_views=self.status_changed,
            persist=persist_alerts,
            clock=clock,
        )
        """The alerts: evaluated here on store changes, so they fire wherever this engine
        runs (in the hub, with no pane open)."""
        if self.alerts.symbols():
            self._refit()

    def _make_feeds(self) -> list[Supervisor]:
        """A fresh supervisor for every feed the keys and settings allow."""
        keys, s = self._keys, self.settings
        feeds: list[Supervisor] = []
        if s.live and keys.has_insightsentry:
            feeds.append(LiveFeed(self))
        if s.newsfeed and keys.has_insightsentry:
            feeds.append(NewsfeedFeed(self))
        if s.stocknews and keys.stocknews_token is not None:
            feeds.append(StockNewsFeed(self))
        return feeds

    # ---- what the UI calls ----------------------------------------------------------------

    @property
    def desired(self) -> list[Subscription]:
        """The desired subscription set."""
        return self.intent.desired

    @property
    def pending(self) -> str | None:
        """Why a subscription change has not gone out yet, or None."""
        if self.remote is not None:
            return self.remote.pending
        return self.intent.pending

    @property
    def via(self) -> str | None:
        """Where the data comes from when not from this engine's sockets, else None."""
        return self.remote.via if self.remote is not None else None

    def wanted(self) -> list[Subscription]:
        """Everything this engine's views and alerts want, before fitting to the plan (what
        a fleet follower asks the leader for)."""
        return self.requested + self.alert_subscriptions()

    def marks(self) -> tuple[dict[str, str], dict[str, str]]:
        """Row marks and chart marks: why a symbol's quote or series is not subscribed."""
        if self.remote is not None:
            return self.remote.marks, self.remote.series_marks
        return self.capacity.marks, self.capacity.series_marks

    def budget_text(self) -> str:
        """``budget 37/120 in the last 3 h``: the leader's when a follower."""
        if self.remote is not None:
            return self.remote.budget
        return self.budget.describe()

    def set_desired(self, subs: list[Subscription]) -> str | None:
        """Validate ``subs`` and adopt the best subset the plan allows (the rest is marked, see
        :class:`Capacity`); returns an error text and keeps the old set if one breaks a rule."""
        plan = self.config.plan
        warnings: list[str] = []
        try:
            valid = [
                normalise_subscription(s, plan_max_dp=plan.max_dp, warnings=warnings) for s in subs
            ]
        except SubscriptionRuleError as exc:
            return str(exc)
        for warning in warnings:
            if warning not in self._warned:  # once per session, not per resend
                self._warned.add(warning)
                self.notice("warning", warning)
        self.requested = valid
        self._refit()
        return None

    def _refit(self) -> None:
        """Fit the requested set (and the quotes the alerts need, last) to the plan and adopt
        it; an empty one closes ``/live`` (guide section 2: to stop all data, disconnect)."""
        kept = self.capacity.fit(self.requested + self.alert_subscriptions())
        changed = self.intent.adopt(kept)
        if changed or self.capacity.marks or self.capacity.series_marks:
            self.status_changed()
        if self.on_wanted is not None:
            self.on_wanted()

    def alert_subscriptions(self) -> list[Subscription]:
        """Quotes for alert symbols no view asked for (they count against the plan)."""
        return self.alerts.quotes_beyond(self.requested) if hasattr(self, "alerts") else []

    def reject_subscription(self, code: str | None, *, what: str, series_only: bool) -> None:
        """The server refused ``code``: forget it without a resend, and never send it again."""
        removed = self.intent.drop(code, series_only=series_only)
        if code is not None:
            self.capacity.reject(code, removed, what)
        self.capacity.fit(self.requested + self.alert_subscriptions())  # marks only
        self.status_changed()

    def learn_plan_limit(self, allowed: int) -> bool:
        """The server said the plan allows ``allowed`` units: refit to that and say so; False
        if that is no smaller than the limit in force."""
        if not self.capacity.learn(allowed):
            return False
        self.notice(
            "warning",
            f"The server says your plan allows {allowed} symbol subscription"
            f"{'' if allowed == 1 else 's'} (config: {self.config.plan.subscriptions}); "
            "subscribed what fits, the rest is marked. Set plan.subscriptions in the config.",
        )
        self._refit()
        return True

    def plan_use(self) -> PlanUse:
        """The plan's name and use, for the status bar."""
        if self.remote is not None and self.remote.plan is not None:
            return self.remote.plan
        return self.capacity.use()

    def reconnect(self) -> None:
        """Force every feed to reconnect (and restart stopped ones)."""
        if self.remote is not None:  # a fleet follower holds no socket to reconnect
            via = self.remote.via
            self.notice(
                "information",
                f"The upstream is held by the fleet's {via}: reconnect there (r in one of its "
                "panes, or marketpane hub stop to hand the lease over)."
                if via.startswith("leader")
                else "No fleet leader holds the upstream yet; this hub takes the lease when it "
                "can and connects then.",
            )
        for feed in self.feeds:
            feed.reconnect_now()

    def stop(self) -> None:
        """Close every socket with 1000 and return from :meth:`run`."""
        self._stop.set()
        for feed in self.feeds:
            feed.stop()

    async def close(self, timeout: float = 1.0) -> None:
        """Stop, and wait at most ``timeout`` seconds for every socket to close with 1000;
        any still open after that is aborted. Safe to call more than once, and after the task
        running :meth:`run` was cancelled (the feeds run in tasks of their own)."""
        self.stop()
        await self._close_feeds(timeout)
        if self.recorder is not None:
            self.recorder.close()

    async def _close_feeds(self, timeout: float) -> None:
        """Wait at most ``timeout`` for the stopped feeds' closing handshakes (1000), then
        abort any socket still open."""
        pending = [task for task in self._feed_tasks if not task.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        for feed in self.feeds:
            if feed.ws is not None and feed.ws.transport is not None:
                feed.ws.transport.abort()

    def batch_done(self) -> None:
        """The UI finished drawing the last batch; the next may be posted (at once if a tick
        passed while it was drawing)."""
        self._ui_busy = False
        if self._owed:
            self._owed = False
            self.publish_now()

    def notice(self, level: str, text: str) -> None:
        """Queue a notice for the UI (masked, and cleaned of control characters: notices quote
        server text)."""
        self.add_notice(Notice(level, text, time.time()))  # type: ignore[arg-type]

    def add_notice(self, notice: Notice) -> None:
        """Queue a notice made elsewhere (an alert's, with its flags), cleaned and masked."""
        notice = msgspec.structs.replace(notice, text=clean_text(mask_secrets(notice.text)))
        self.notices.append(notice)
        self.notice_log.append(notice)
        self.notices = self.notices[-50:]
        self._status_dirty = True
        self._wake.set()

    def request_batch(self) -> None:
        """Something outside the store changed (a view's state): send a batch soon, even in a
        quiet market's hold."""
        self._status_dirty = True
        self._urgent_state = True
        self._wake.set()

    def status_changed(self) -> None:
        """Something in a status changed; the next batch goes out even without data."""
        self._status_dirty = True

    def statuses(self) -> list[FeedStatus]:
        """Every feed's status (a fleet follower's: the leader's)."""
        if self.remote is not None:
            return self.remote.statuses
        return [feed.status for feed in self.feeds]

    def start_upstream(self) -> None:
        """Open the upstream sockets (a fleet hub that just won the lease); :meth:`run` must
        be running. Fresh supervisors: nothing of an earlier connection is reused."""
        if not self._running or self._stop.is_set() or self._feed_tasks:
            return
        self.remote = None
        self.feeds = self._make_feeds()
        self._start_feeds()
        self.status_changed()

    async def stop_upstream(self, timeout: float = 1.0) -> None:
        """Close every upstream socket with 1000 (aborting any still open after ``timeout``)
        and keep running without them: a fleet leader that lost, or may lose, its lease."""
        for feed in self.feeds:
            feed.stop()
        await self._close_feeds(timeout)
        self._feed_tasks = []
        self.feeds = []
        self.intent.sent_version = -1
        self.status_changed()

    def _start_feeds(self) -> None:
        for feed in self.feeds:
            self._last_counts[feed.name] = feed.status.messages
            self._last_bytes[feed.name] = feed.status.bytes
        self._feed_tasks = [
            asyncio.create_task(feed.run(), name=f"feed-{feed.name}") for feed in self.feeds
        ]

    # ---- running --------------------------------------------------------------------------

    async def run(self) -> None:
        """Run every feed and the publisher until :meth:`stop`."""
        self._running = True
        self._start_feeds()
        publisher = asyncio.create_task(self._publish(), name="publisher")
        monitor = asyncio.create_task(self._watch_loop(), name="loop-monitor")
        alerts = asyncio.create_task(self.alerts.run(), name="alerts")
        try:
            await self._stop.wait()
        finally:
            self._running = False
            for feed in self.feeds:
                feed.stop()
            await asyncio.gather(*self._feed_tasks, return_exceptions=True)
            publisher.cancel()
            monitor.cancel()
            alerts.cancel()
            await asyncio.gather(publisher, monitor, alerts, return_exceptions=True)
            await self.rest.close()
            if self.recorder is not None:
                self.recorder.close()

    async def _watch_loop(self) -> None:
        """Measure how late the event loop wakes a sleeper: the guide's FAQ worry ("a blocked
        thread") shows up here as lag, not as a negative heartbeat latency."""
        while True:
            start = time.monotonic()
            await asyncio.sleep(LOOP_PROBE_SECONDS)
            late_ms = (time.monotonic() - start - LOOP_PROBE_SECONDS) * 1000.0
            if (late_ms >= LOOP_LAG_WARN_MS) != (self.loop_lag_ms >= LOOP_LAG_WARN_MS):
                self._status_dirty = True
            self.loop_lag_ms = late_ms

    def loop_warning(self) -> str | None:
        """``event loop lag 0.4 s`` while the loop wakes late, else None."""
        if self.loop_lag_ms < LOOP_LAG_WARN_MS:
            return None
        return f"event loop lag {self.loop_lag_ms / 1000:.1f} s"

    async def _publish(self) -> None:
        """One batch per UI tick at most, and only when the UI has drawn the last one.

        Ticks keep to a fixed grid (``1/ui_hz`` apart however long each took), and a tick
        the UI was still busy for is made up as soon as it has drawn, so a busy market gets
        the full frame rate rather than one frame per tick plus drawing time.
        """
        interval = 1.0 / self.settings.ui_hz
        self._last_rates = next_tick = time.monotonic()
        self._last_batch = -math.inf  # the first batch is never held
        self._last_counts = {f.name: f.status.messages for f in self.feeds}
        self._last_bytes = {f.name: f.status.bytes for f in self.feeds}
        while True:
            now = time.monotonic()
            if next_tick > now:
                await asyncio.sleep(next_tick - now)
            now = time.monotonic()
            pause = self._tick(now)
            next_tick += interval
            if next_tick < now:  # the loop was starved: start a new grid
                next_tick = now + interval
            if pause > interval:  # sleep rather than tick by tick; MarketStore.on_wake (a
                self._wake.clear()  # symbol's first quote, a history, news, the first change
                try:  # after a batch) and notices wake us early
                    async with asyncio.timeout(pause):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                next_tick = time.monotonic()

    def _tick(self, now: float) -> float:
        """Rates once a second, then a batch unless held (quiet market) or the UI is busy.
        Returns how long the publisher may sleep: the rest of a hold, a second in a quiet
        market with nothing to show (it is woken when something comes), else 0."""
        if now - self._last_rates >= 1.0:
            span = now - self._last_rates
            for feed in self.feeds:
                status = feed.status
                status.rate = (status.messages - self._last_counts.get(feed.name, 0)) / span
                status.byte_rate = (status.bytes - self._last_bytes.get(feed.name, 0)) / span
                self._last_counts[feed.name] = status.messages
                self._last_bytes[feed.name] = status.bytes
            self._last_rates = now
            self._status_dirty = True
            quiet = 0 < sum(f.status.rate for f in self.feeds) < self.settings.quiet_below_rate
            for feed in self.feeds:
                feed.pace.quiet = quiet  # its reads may be paced (tui.engine.pacing)
        hold = self._hold_seconds()
        held = hold - (now - self._last_batch)
        if held > 0:
            return held
        if not self._pending():
            return 1.0 if hold > 0 else 0.0
        if self.store.has_changes():  # the hold runs from the last batch that carried data,
            self._last_batch = now  # so an update after a silence is shown at once
        if self._ui_busy and now - self._busy_since < UI_LOST_SECONDS:
            self._owed = True
            return 0.0
        self._ui_busy = False  # (a UI that never answered for that long lost the batch)
        self.publish_now()
        return 0.0

    def _pending(self) -> bool:
        """Whether a batch would carry anything."""
        return self.store.has_changes() or self._status_dirty

    def _hold_seconds(self) -> float:
        """How long after the last batch pending changes may wait: nothing in a busy market,
        ``1/quiet_hz`` or ``1/idle_hz`` when the feeds are quiet and only quotes and bars
        changed (a person cannot tell 2 frames a second from 20 there; the terminal and the
        CPU can). A symbol's first quote, a history, news and notices never wait."""
        settings, store = self.settings, self.store
        if store.urgent or self.notices or self._urgent_state:
            return 0.0
        rate = sum(status.rate for status in self.statuses())
        if rate < settings.idle_below_rate:
            return 1.0 / settings.idle_hz
        if rate < settings.quiet_below_rate:
            return 1.0 / settings.quiet_hz
        return 0.0

    def publish_now(self) -> Batch | None:
        """Post a batch if there is anything and the UI is ready; returns it."""
        if self._ui_busy or not self._pending():
            return None
        quotes, series, news = self.store.take_changes()
        batch = Batch(
            quotes=quotes, series=series, news=news, notices=self.notices, sent_at=time.time()
        )
        self.notices = []
        self._status_dirty = self._urgent_state = False
        if self.on_batch is not None:
            self._ui_busy = True
            self._busy_since = time.monotonic()
            self.on_batch(batch)
        return batch
