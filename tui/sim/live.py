"""The simulated InsightSentry ``/live`` endpoint, one :class:`LiveSession` per connection.

Behaviour follows the guide (section numbers refer to ``shared/api/000_*.txt``):
greeting on connect (1); subscription within ``auth_timeout_seconds`` or close (1); ``api_key``
required in every message (2, 6); each message replaces the whole set (2); empty lists and
messages over 500,000 characters rejected (1, 2); the error table with its connection
behaviour (6); ``max_dp`` history first, then live updates (3, 4); heartbeats (5); ``ping`` →
``pong`` (5); more than 120 messages per 3 hours delayed, never dropped (2); oldest connection
evicted past the plan's connection limit (1, 6).

Where the guide is silent: an unknown or expired key gets ``{"error": "unauthorized"}`` and a
close with 1008; exceeding the plan's symbol subscriptions gets ``invalid_request`` and keeps
the previous set; a key that keeps reconnecting over its limit (3 evictions in 60 s) gets
``max_connections_exceeded`` on the new connection, which is closed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import math
import time
from typing import TYPE_CHECKING, Any

import msgspec
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from tui.protocol.live import Subscription
from tui.protocol.rules import MAX_DP_LIMIT, MAX_MESSAGE_CHARS, SECOND_INTERVALS, TICK_INTERVALS
from tui.sim.bars import BarBuilder, generate_history
from tui.sim.liveout import Held, LiveOutput
from tui.sim.livestreams import _ENCODER, QuoteOut, Stream, spec_for
from tui.sim.outbox import ConnectionRecord, Outbox, drop_connection, now_ms
from tui.sim.settings import PlanSpec
from tui.sim.universe import KNOWN_UNITS, USD_RATES

if TYPE_CHECKING:
    from tui.sim.host import SimHost


ERROR_TABLE: dict[str, int | None] = {
    "invalid_request": None,
    "invalid_symbol": None,
    "invalid_bar_interval": None,
    "invalid_currency_code": None,
    "invalid_unit_code": None,
    "max_connections_exceeded": 1008,
    "connection_evicted": 1000,
    "server_busy": 1013,
    "internal_server_error": 1011,
}
"""Guide section 6, Error Codes: None = stays open, else the close code the server uses."""


class LiveSession(LiveOutput):
    """Serves one ``/live`` connection."""

    def __init__(self, sim: SimHost, ws: ServerConnection, record: ConnectionRecord) -> None:
        self.sim, self.ws, self.record = sim, ws, record
        self.faults = sim.faults
        self.outbox = Outbox(ws, record, sim.faults, sim.settings.send_queue_limit)
        self.key: str | None = None
        self.plan: PlanSpec | None = None
        self.quote_codes: list[str] = []
        self.last_quotes: dict[str, dict[str, Any]] = {}
        self.streams: list[Stream] = []
        self.subscribed = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.requests: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        """Subscription messages, processed by their own task: a throttling delay holds them
        back, never pings or data already flowing (guide section 2)."""
        self.last_ping = -math.inf
        self.delayed: collections.deque[Held] = collections.deque()
        """(release time, market time, trades, quotes) of delayed instruments, held back."""

    # ---- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        """Greet, serve, and clean up whatever happens."""
        faults = self.faults
        self.tasks.append(asyncio.create_task(self.outbox.run()))
        self.outbox.put(
            _ENCODER.encode({"message": "Connecting...", "server": "sim-loopback"}).decode()
        )
        self.tasks.append(asyncio.create_task(self._heartbeats()))
        self.tasks.append(asyncio.create_task(self._auth_timeout()))
        if faults.drop_after_seconds:
            self.tasks.append(asyncio.create_task(self._drop_later(faults.drop_after_seconds)))
        if faults.close_code:
            self.tasks.append(asyncio.create_task(self._close_later(faults.close_code)))
        if faults.error_then_close:
            self.tasks.append(asyncio.create_task(self._error_then_close(faults.error_then_close)))
        self.tasks.append(asyncio.create_task(self._firehose()))
        self.tasks.append(asyncio.create_task(self._process_requests()))
        try:
            async for message in self.ws:
                self.record.raw_messages += 1
                await self._on_message(message)
        except ConnectionClosed:
            pass
        finally:
            for task in self.tasks:
                task.cancel()
            self.sim.forget_live(self)

    async def close(self, code: int, reason: str) -> None:
        """Close with ``code`` after the queued messages went out."""
        self.record.close_code_sent = code
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._flush(), timeout=1.0)
        await self.ws.close(code, reason)

    async def _flush(self) -> None:
        """Wait until the outbox is empty."""
        while self.outbox.queue:
            await asyncio.sleep(0.005)

    async def _heartbeats(self) -> None:
        """``{"server_time": ms}`` about every heartbeat interval (section 5)."""
        while True:
            await asyncio.sleep(self.sim.settings.heartbeat_seconds)
            if not self.faults.mute_heartbeats:
                self.outbox.put_urgent(_ENCODER.encode({"server_time": now_ms()}).decode())

    async def _auth_timeout(self) -> None:
        """Close if no valid subscription arrives in time (section 1, Initial request timeout)."""
        try:
            await asyncio.wait_for(self.subscribed.wait(), self.sim.settings.auth_timeout_seconds)
        except TimeoutError:
            await self.close(1000, "no valid subscription message within the initial timeout")

    async def _drop_later(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        drop_connection(self.ws)

    async def _close_later(self, code: int) -> None:
        await asyncio.sleep(self.faults.close_after_seconds)
        await self.close(code, "simulated server close")

    async def _error_then_close(self, error: str) -> None:
        await self.subscribed.wait()
        await asyncio.sleep(self.faults.close_after_seconds)
        extra: dict[str, Any] = {"retryable": True, "action": "reconnect"}
        if self.faults.error_delay_seconds is not None:
            extra["delay_seconds"] = self.faults.error_delay_seconds
        self.error(
            error,
            "Temporary routing failure"
            if error == "server_busy"
            else "Unexpected server-side error",
            **extra,
        )
        await self.close(1013 if error == "server_busy" else 1011, error)

    # ---- inbound ---------------------------------------------------------------------------

    def error(self, code: str, message: str, **extra: Any) -> None:
        """Queue a typed error frame (section 6)."""
        self.record.errors.append(code)
        self.outbox.put(_ENCODER.encode({"error": code, "message": message, **extra}).decode())

    async def _on_message(self, message: str | bytes) -> None:
        """Handle one client frame."""
        if isinstance(message, bytes):
            self.error("invalid_request", "Binary frames are not supported; send JSON text.")
            return
        if message.strip() == "ping":
            self.record.pings += 1
            now = time.monotonic()
            gap = self.sim.settings.ping_min_gap_seconds
            too_soon = now - self.last_ping < gap
            self.last_ping = now
            if too_soon:  # section 5: "Don't send pings more than once every 15 seconds"
                self.record.ping_floods += 1
                if self.faults.silent or self.faults.ignore_pings:
                    return  # a mute server says nothing, not even this
                self.error(
                    "rate_limited",
                    "Pings more often than once every 15 seconds are rate limited.",
                    action="wait_and_retry",
                    delay_seconds=gap,
                )
                return
            if not self.faults.ignore_pings:
                self.outbox.put("pong")
            return
        if len(message) > MAX_MESSAGE_CHARS:
            self.error(
                "invalid_request",
                f"Message exceeds {MAX_MESSAGE_CHARS:,} characters and was rejected.",
            )
            return
        try:
            payload = msgspec.json.decode(message)
        except msgspec.DecodeError:
            self.error("invalid_request", "Message payload could not be parsed as JSON.")
            return
        if not isinstance(payload, dict):
            self.error("invalid_request", "Message must be a JSON object.")
            return
        key = payload.get("api_key")
        if not key or not isinstance(key, str):
            self.outbox.put('{"message":"api_key field is missing."}')
            return
        plan = self.sim.plan_for(key)
        if plan is None:
            self.error("unauthorized", "Invalid or expired api_key.")
            await self.close(1008, "invalid api_key")
            return
        self.requests.put_nowait(payload)

    async def _process_requests(self) -> None:
        """Apply subscription messages in order, each after its account's throttling delay."""
        while True:
            payload = await self.requests.get()
            key = str(payload["api_key"])
            plan = self.sim.plan_for(key)
            if plan is None:
                continue
            if self.key is None and not await self._reconnect_throttle(key):
                return
            delay = self.sim.throttle_delay(key)
            if delay and self.faults.throttle_errors:
                self.error(
                    "processing_throttled",
                    "Too many subscription messages; this one was not processed.",
                    action="wait_and_retry",
                    retryable=True,
                    delay_seconds=round(delay, 3),
                )
                continue
            if delay:
                await asyncio.sleep(delay)  # section 2: delayed, never dropped
            await self._subscribe(key, plan, payload.get("subscriptions"))

    async def _reconnect_throttle(self, key: str) -> bool:
        """Rapid reconnections from one account are throttled like messages (section 2),
        counted when a connection first names its key: delayed, or (``throttle_errors``)
        refused with ``reconnect_throttled``."""
        delay = self.sim.reconnect_delay(key)
        if not delay:
            return True
        if self.faults.throttle_errors:
            self.error(
                "reconnect_throttled",
                "Reconnecting too often; wait before connecting again.",
                action="wait_and_retry",
                retryable=True,
                delay_seconds=round(delay, 3),
            )
            await self.close(1013, "reconnect_throttled")
            return False
        await asyncio.sleep(delay)
        return True

    async def _subscribe(self, key: str, plan: PlanSpec, raw_subs: object) -> None:
        """Validate and apply a subscription message (each replaces the previous set)."""
        if not isinstance(raw_subs, list):
            self.error("invalid_request", "subscriptions must be a list of subscription objects.")
            return
        if not raw_subs:
            self.error(
                "invalid_request", "subscriptions cannot be empty; disconnect to stop all data."
            )
            return
        accepted: list[Subscription] = []
        for raw in raw_subs:
            sub = self._check(raw)
            if sub is not None:
                accepted.append(sub)
        series = sum(1 for s in accepted if s.type in (None, "series", "both"))
        quotes = sum(1 for s in accepted if s.type in ("quote", "both"))
        units = series + -(-quotes // 10)
        if units > plan.units:
            self.error(
                "invalid_request",
                f"Subscription limit exceeded: {units} symbol subscriptions requested, "
                f"your plan allows {plan.units}.",
                details={"requested": units, "allowed": plan.units},
            )
            return
        if self.key is None:
            self.key, self.plan, self.record.key = key, plan, key
            if not await self.sim.admit_live(self):
                return
        self.record.subscription_messages.append(accepted)
        self.subscribed.set()
        self.outbox.put('{"event":"subscription_status","status":"active"}')  # then the data
        self._apply(accepted, plan)
        if self.faults.inject_error:
            await self._inject(self.faults.inject_error, accepted)

    async def _inject(self, code: str, subs: list[Subscription]) -> None:
        """Fault switch: send one typed error and behave as the error table says."""
        symbol = subs[0].code if subs else None
        self.error(code, f"Injected {code}", symbol=symbol)
        close_code = ERROR_TABLE.get(code)
        if close_code is not None:
            await self.close(close_code, code)

    def _check(self, raw: object) -> Subscription | None:
        """One subscription object, or None after queuing the error it deserves."""
        if isinstance(raw, dict) and "dp" in raw and "max_dp" not in raw:
            raw = {("max_dp" if k == "dp" else k): v for k, v in raw.items()}  # newer name
        try:
            sub = msgspec.convert(raw, Subscription)
        except msgspec.ValidationError as exc:
            code = raw.get("code") if isinstance(raw, dict) else None
            self.error("invalid_request", f"Invalid subscription: {exc}", symbol=code)
            return None
        if sub.code not in self.sim.market.instruments:
            self.error(
                "invalid_symbol", f"Unknown or malformed symbol code: {sub.code}", symbol=sub.code
            )
            return None
        bar_type, interval = sub.bar_type or "minute", sub.bar_interval or 1
        allowed = {"second": SECOND_INTERVALS, "tick": TICK_INTERVALS}.get(bar_type)
        if (allowed and interval not in allowed) or interval < 1:
            values = ", ".join(map(str, allowed)) if allowed else "any positive integer"
            self.error(
                "invalid_bar_interval",
                f"Invalid bar_interval for {bar_type} interval. Allowed values: {values}",
                symbol=sub.code,
            )
            return None
        if sub.currency is not None and sub.currency not in USD_RATES:
            self.error(
                "invalid_currency_code", f"Unknown currency code: {sub.currency}", symbol=sub.code
            )
            return None
        if sub.unit is not None and sub.unit not in KNOWN_UNITS:
            self.error("invalid_unit_code", f"Unknown unit code: {sub.unit}", symbol=sub.code)
            return None
        if sub.max_dp is not None and not 1 <= sub.max_dp <= MAX_DP_LIMIT:
            self.error(
                "invalid_request", f"max_dp must be between 1 and {MAX_DP_LIMIT}", symbol=sub.code
            )
            return None
        return sub

    def _apply(self, subs: list[Subscription], plan: PlanSpec) -> None:
        """Replace the served set: quote snapshot first, then each series' history."""
        now = time.time()
        market = self.sim.market
        self.quote_codes = list(dict.fromkeys(s.code for s in subs if s.type in ("quote", "both")))
        self.last_quotes = {}
        self.streams = []
        if self.quote_codes:
            scale = self.sim.settings.delay_scale
            snapshot = [
                self.sim.quote_as_of(code, now - market.instruments[code].delay_seconds * scale)
                if market.instruments[code].delay_seconds > 0
                else market.quote(code, now)
                for code in self.quote_codes
            ]
            for quote in snapshot:
                self.last_quotes[quote.code] = msgspec.structs.asdict(quote)
            self.outbox.put(_ENCODER.encode(QuoteOut(now_ms(), len(snapshot), snapshot)).decode())
        for sub in subs:
            if sub.type not in (None, "series", "both"):
                continue
            spec = spec_for(sub)
            inst = market.instruments[sub.code]
            count = min(sub.max_dp or 1, plan.max_dp)  # section 4: clamped to the plan
            if self.faults.history_bars:
                count = self.faults.history_bars
            if inst.delay_seconds <= 0:  # one archive for every subscriber: stream = history
                archive = self.sim.archive_for(sub.code, spec)
                stream = Stream(sub, spec, archive.builder, archive)
                self.streams.append(stream)
                history = archive.history(count, include_last=spec.bar_type != "tick")
                self._send_series(stream, history)
                continue
            as_of = now - max(0, inst.delay_seconds) * self.sim.settings.delay_scale
            builder = BarBuilder(spec, inst, market.price(sub.code), as_of)
            stream = Stream(sub, spec, builder)
            self.streams.append(stream)
            history = generate_history(
                inst,
                spec,
                count,
                last_bar=builder.wire_bar(),
                include_last=spec.bar_type != "tick",
                seed=self.sim.settings.seed,
                always_open=market.always_open,
                now=as_of,  # a delayed instrument's history ends as far back as its data
            )
            self._send_series(stream, history)
