"""The three feeds: InsightSentry ``/live`` and ``/newsfeed``, StockNews ``/ws``."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote as url_quote

from websockets.asyncio.client import ClientConnection

from tui.engine.direct import FrameConnection
from tui.engine.keys import KeyUnavailable
from tui.engine.policy import Outcome, SessionEnd
from tui.engine.status import FeedState
from tui.engine.stories import news_from_newsfeed, news_from_stocknews
from tui.engine.supervisor import Supervisor
from tui.protocol.common import DecodeFailure, Pong, StatusEvent, Unrecognised
from tui.protocol.live import (
    Heartbeat,
    LiveError,
    QuoteUpdate,
    SeriesUpdate,
    ServerMessage,
    Subscription,
    dispatch_live,
    encode_subscription_message,
)
from tui.protocol.newsfeed import (
    NewsfeedAuth,
    NewsfeedError,
    NewsfeedHeartbeat,
    NewsfeedItems,
    dispatch_newsfeed,
    encode_newsfeed_auth,
)
from tui.protocol.rules import SubscriptionRuleError, check_message_size, plan_limit_from_error
from tui.protocol.stocknews import (
    Connected,
    News,
    PingMessage,
    dispatch_stocknews,
    encode_client_message,
)
from tui.secrets import Secret

if TYPE_CHECKING:
    from tui.engine.context import FeedContext

IN_BAND_SUBSCRIPTION_ERRORS = {
    "invalid_symbol": "unknown symbol",
    "invalid_bar_interval": "interval not allowed",
    "invalid_currency_code": "unknown currency",
    "invalid_unit_code": "unknown unit",
}
"""Errors that keep the socket open and remove one subscription (guide section 6)."""
CLOSING_ERRORS = {"server_busy", "internal_server_error"}
"""Errors after which the server closes; reconnect with backoff (guide section 6)."""
EVICTION_ERRORS = {"connection_evicted", "max_connections_exceeded"}
"""Errors meaning another client holds the account's connections."""
AUTH_ERRORS = {"unauthorized", "invalid_api_key", "forbidden", "expired_api_key"}
"""Error codes treated as an auth failure."""
PROCESSING_THROTTLED = "processing_throttled"
"""The official client's vocabulary: a subscription message not processed; send it again
after the named delay (``action: "wait_and_retry"``)."""
RECONNECT_THROTTLED = "reconnect_throttled"
"""Connecting too often: wait the named delay before dialling again."""
THROTTLE_RETRY_SECONDS = 5.0
"""Wait after a throttle error that names no delay."""


class InsightSentryFeed(Supervisor):
    """A feed authenticated with the InsightSentry key (direct, or rotated for RapidAPI)."""

    def __init__(self, engine: FeedContext) -> None:
        super().__init__(engine)
        self.key: Secret | None = None
        self.key_text = ""

    def url(self) -> str:
        """The endpoint to dial."""
        raise NotImplementedError

    async def target(self) -> tuple[str, dict[str, str]]:
        key = await self.engine.keys.live_key()
        self.key, self.key_text = key, key.reveal()
        self.status.key_expiry = self.engine.keys.expiry
        return self.url(), {}

    def can_refresh_key(self) -> bool:
        return self.engine.keys.rotates

    async def refresh_key(self) -> None:
        await self.engine.keys.refresh(rejected=self.key)


class LiveFeed(InsightSentryFeed):
    """``/live``: quotes and series, the subscription budget, in-band errors."""

    name = "live"
    paces_reads = True

    def __init__(self, engine: FeedContext) -> None:
        super().__init__(engine)
        self.watchdog_seconds = self.settings.watchdog_seconds
        self.intent = engine.intent
        self.sent: list[Subscription] = []
        self.awaiting_history: set[str] = set()
        self.tick_codes: set[str] = set()

    def url(self) -> str:
        return self.engine.config.endpoints.live_url

    async def needed(self) -> bool:
        """No socket while there is nothing to subscribe: the guide refuses an empty list
        ("to stop all data, disconnect") and closes a socket that never subscribes."""
        intent = self.intent
        while not intent.desired:
            self._set(FeedState.IDLE, "nothing to subscribe")
            intent.changed.clear()
            if await self._until_stop_or(intent.changed) == "stop":
                return False
        return not self.stop_event.is_set()

    async def on_open(self, ws: ClientConnection) -> None:
        """Re-send the full subscription in one message (guide section 5, Automatic
        Re-subscription); it counts against the budget like any other."""
        self.intent.sent_version = -1
        self.sent = []  # a new connection: every series gets its history again
        if self.intent.desired:
            await self._send(ws, essential=True)

    def extra_tasks(self, ws: ClientConnection) -> list[asyncio.Task[SessionEnd | None]]:
        return [asyncio.create_task(self._subscription_sender(ws))]

    async def _subscription_sender(self, ws: ClientConnection) -> SessionEnd | None:
        """Send debounced changes of the desired set, within the budget."""
        engine, intent = self.engine, self.intent
        while True:
            await intent.changed.wait()
            intent.changed.clear()
            while True:  # debounce: a burst of changes becomes one message
                try:
                    await asyncio.wait_for(intent.changed.wait(), engine.settings.debounce)
                    intent.changed.clear()
                except TimeoutError:
                    break
            if not intent.desired:
                return SessionEnd(Outcome.IDLE, "nothing to subscribe")
            if intent.in_sync:
                continue
            while not engine.budget.allows(essential=False):
                wait = engine.budget.seconds_until_free()
                intent.pending = (
                    f"change held: {engine.budget.describe()}; sending in {wait / 60:.0f} min"
                )
                engine.status_changed()
                await asyncio.sleep(min(wait, 60.0) + 0.01)
            await self._send(ws, essential=False)

    async def _send(self, ws: ClientConnection, *, essential: bool) -> None:
        engine, intent = self.engine, self.intent
        subs, version = list(intent.desired), intent.version
        text = encode_subscription_message(
            self.key_text, subs, history_field=engine.config.endpoints.history_field
        )
        try:
            check_message_size(text)
        except SubscriptionRuleError as exc:
            engine.notice("error", f"subscription not sent: {exc}")
            return
        if not essential and not engine.budget.allows(essential=False):
            return
        await ws.send(text)
        self.pace.subscribed(time.time())
        if isinstance(ws, FrameConnection):
            ws.read_now()  # the new symbols' first quotes are read as they come
        engine.budget.record()
        self.status.subscriptions_sent += 1
        before = {s.code: s for s in self.sent if s.type in (None, "series", "both")}
        self.sent = subs
        intent.mark_sent(version)
        # only a series that is new or whose parameters changed waits for a new history; an
        # unchanged one keeps its buffer and merges whatever comes
        self.awaiting_history = {
            s.code for s in subs if s.type in (None, "series", "both") and before.get(s.code) != s
        }
        self.tick_codes = {s.code for s in subs if s.bar_type == "tick"}
        engine.status_changed()

    def on_frame(self, frame: str | bytes, now: float) -> SessionEnd | None:
        event = dispatch_live(frame)
        store = self.engine.store
        if isinstance(event, QuoteUpdate):
            self.alive(now, data=True)
            self.status.unusable_values += event.unusable
            for quote in event.data:
                store.apply_quote(quote, event.last_update, now)
        elif isinstance(event, SeriesUpdate):
            self.alive(now, data=True)
            first = event.code in self.awaiting_history
            self.awaiting_history.discard(event.code)
            store.apply_series(event, first=first, now=now, ticks=event.code in self.tick_codes)
        elif isinstance(event, Heartbeat):
            self.alive(now, data=False)
            self.heartbeat(event.server_time_ms, now)
        elif isinstance(event, LiveError):
            self.alive(now, data=False)
            return self._on_error(event)
        elif isinstance(event, ServerMessage):
            self.alive(now, data=False)
            if event.is_error:
                self.engine.notice("warning", f"live: server says: {event.message}")
                if "api_key" in event.message.lower() or "invalid key" in event.message.lower():
                    return SessionEnd(Outcome.AUTH, f"server says: {event.message}")
        elif isinstance(event, Pong):
            if self.pong_is_liveness:
                self.alive(now, data=False)
        elif isinstance(event, DecodeFailure):
            return self.bad_frame(event.reason)
        elif isinstance(event, Unrecognised):
            self.status.unrecognised += 1
            self.alive(now, data=False)
        elif isinstance(event, StatusEvent):
            self.alive(now, data=False)
            if event.event == "subscription_status" and event.status == "active":
                self.status.subscription_confirmed_at = now
        else:  # Greeting
            self.alive(now, data=False)
        return None

    def _on_error(self, error: LiveError) -> SessionEnd | None:
        engine = self.engine
        code, symbol = error.error, error.symbol
        if code in IN_BAND_SUBSCRIPTION_ERRORS:
            what = IN_BAND_SUBSCRIPTION_ERRORS[code]
            before = list(self.intent.desired)
            engine.reject_subscription(symbol, what=what, series_only=code != "invalid_symbol")
            self.sent = [s for s in self.sent if s in self.intent.desired or s not in before]
            engine.notice(
                "warning",
                f"{symbol or 'subscription'}: {what}; not sent again (the row says so; d "
                f"removes it). Server said: {error.message}",
            )
            return None
        limit = plan_limit_from_error(error.message, error.details)
        if code == "invalid_request" and limit is not None and engine.learn_plan_limit(limit):
            return None
        if code in EVICTION_ERRORS:
            self.pending_end = SessionEnd(
                Outcome.EVICTED, f"{code}: {error.message}", error.server_delay
            )
            return None
        if code in CLOSING_ERRORS:
            self.pending_end = SessionEnd(
                Outcome.RECONNECT, f"{code}: {error.message}", error.server_delay
            )
            return None
        if code in AUTH_ERRORS:
            self.pending_end = SessionEnd(Outcome.AUTH, f"key rejected: {error.message}")
            return None
        delay = error.server_delay or THROTTLE_RETRY_SECONDS
        if code == PROCESSING_THROTTLED:  # not processed: the same set again, after the delay
            self.intent.sent_version = -1
            self.intent.pending = f"server busy with our requests; resending in {delay:.0f} s"
            asyncio.get_running_loop().call_later(delay, self.intent.changed.set)
            engine.status_changed()
            return None
        if code == RECONNECT_THROTTLED:  # a named delay wins over our own backoff
            return SessionEnd(Outcome.RECONNECT, f"{code}: {error.message}", delay)
        engine.notice("warning", f"live: {code}: {error.message}")
        return None


class NewsfeedFeed(InsightSentryFeed):
    """InsightSentry ``/newsfeed``: auth message, 10 recent items on connect, new items."""

    name = "newsfeed"
    pong_is_liveness = True
    protocol_keepalive = True

    def url(self) -> str:
        return self.engine.config.endpoints.newsfeed_url

    async def on_open(self, ws: ClientConnection) -> None:
        await ws.send(encode_newsfeed_auth(NewsfeedAuth(api_key=self.key_text)))

    def on_frame(self, frame: str | bytes, now: float) -> SessionEnd | None:
        event = dispatch_newsfeed(frame)
        if isinstance(event, NewsfeedItems):
            self.alive(now, data=True)
            for item in event.items:
                self.engine.store.add_news(news_from_newsfeed(item))
        elif isinstance(event, NewsfeedHeartbeat):
            self.alive(now, data=False)
            self.heartbeat(event.server_time_ms, now)
        elif isinstance(event, NewsfeedError):
            self.alive(now, data=False)
            text = f"{event.error or 'error'}: {event.message}"
            if (event.error or "") in AUTH_ERRORS or "api_key" in event.message.lower():
                self.pending_end = SessionEnd(Outcome.AUTH, f"key rejected ({text})")
            else:
                self.engine.notice("warning", f"newsfeed: {text}")
        elif isinstance(event, DecodeFailure):
            return self.bad_frame(event.reason)
        elif isinstance(event, Pong | StatusEvent):
            self.alive(now, data=False)
        elif isinstance(event, Unrecognised):
            self.status.unrecognised += 1
            self.alive(now, data=False)
        return None


class StockNewsFeed(Supervisor):
    """StockNews.live ``/ws?token=``: ``connected`` with expiry, then ``news``."""

    name = "stocknews"
    pong_is_liveness = True
    protocol_keepalive = True

    async def target(self) -> tuple[str, dict[str, str]]:
        token = self.engine.keys.keys.stocknews_token
        if token is None:
            raise KeyUnavailable("no StockNews token: set STOCKNEWS_TOKEN")
        url = self.engine.config.endpoints.stocknews_url
        sep = "&" if "?" in url else "?"
        return f"{url}{sep}token={url_quote(token.reveal())}", {}

    def ping_payload(self) -> str:
        return encode_client_message(PingMessage())

    def ping_delay(self) -> float:
        return self.settings.stocknews_ping_seconds

    def on_frame(self, frame: str | bytes, now: float) -> SessionEnd | None:
        event = dispatch_stocknews(frame)
        if isinstance(event, News):
            self.alive(now, data=True)
            self.engine.store.add_news(news_from_stocknews(event.data, event.timestamp))
        elif isinstance(event, Connected):
            self.alive(now, data=False)
            sub = event.subscription
            if sub is not None and sub.expiresAt:
                try:
                    expiry = datetime.fromisoformat(sub.expiresAt.replace("Z", "+00:00"))
                    self.status.key_expiry = expiry.timestamp()
                except ValueError:
                    pass
                if sub.isActive is False:
                    self.engine.notice("warning", "StockNews subscription is not active")
        elif isinstance(event, Pong):
            self.alive(now, data=False)
        elif isinstance(event, DecodeFailure):
            return self.bad_frame(event.reason)
        else:
            self.status.unrecognised += 1
            self.alive(now, data=False)
        return None
