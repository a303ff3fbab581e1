"""One supervisor per feed: dial, serve, classify the end, back off, dial again.

At most one socket per feed at any moment. Every voluntary close sends 1000 and waits at most
``close_timeout`` (``websockets`` >= 17.2 sends 1011 when a context manager exits by exception,
so we never use one). Tasks of the old socket are cancelled before the next dial. The reconnect
policy is ours (guide section 5, Reconnection Best Practices), not the library's.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import TYPE_CHECKING

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from tui.engine.backoff import Backoff
from tui.engine.direct import FrameConnection
from tui.engine.keys import KeyUnavailable
from tui.engine.pacing import ReadPace
from tui.engine.policy import (
    Action,
    FeedCounters,
    Outcome,
    SessionEnd,
    classify_close,
    classify_dial_error,
    classify_handshake_status,
    decide,
)
from tui.engine.status import FeedState, FeedStatus
from tui.secrets import mask_secrets

if TYPE_CHECKING:
    from tui.engine.context import FeedContext

log = logging.getLogger("marketpane.engine")

MAX_INBOUND_BYTES = 8 * 1024 * 1024
"""Inbound frame limit: a 30,000-bar history is about 2.9 MB (protocol-notes)."""
MAX_BAD_FRAMES_IN_A_ROW = 100
"""Undecodable frames in a row that make a connection a protocol violation."""
LATENCY_SMOOTHING = 0.2
"""EWMA weight of a new latency sample."""
LATENCY_JUMP_MS = 1000.0
"""A sample this far from the smoothed latency replaces it rather than being averaged in."""


class Supervisor:
    """Base class of the three feeds; subclasses say how to open, greet and read."""

    name = "feed"
    watchdog_seconds = 30.0
    protocol_keepalive = False
    """Judge liveness by WebSocket ping frames (RFC 6455) instead of a data watchdog: for feeds
    with no documented heartbeat, where a quiet news hour is not a dead socket."""
    pong_is_liveness = False

    def __init__(self, engine: FeedContext) -> None:
        self.engine = engine
        self.settings = engine.settings
        self.status = FeedStatus(self.name)
        self.backoff = Backoff()
        self.stop_event = asyncio.Event()
        self.kick_event = asyncio.Event()
        self.ws: ClientConnection | None = None
        self.last_alive = 0.0
        self.last_ping = 0.0
        self.had_data = False
        self.bad_in_a_row = 0
        self.pending_end: SessionEnd | None = None
        self.counters = FeedCounters()
        self.sockets_open = 0
        self.rng = random.Random()
        self.pace = ReadPace()
        """When this feed's reads may be paced (only feeds that set :attr:`paces_reads`)."""
        self.read_late = False
        """Whether the frame being handled waited behind a paced read (its time is ours)."""

    paces_reads = False
    """Whether this feed's reads may be paced in a quiet market (:mod:`tui.engine.pacing`)."""

    # ---- subclass hooks -------------------------------------------------------------------

    async def target(self) -> tuple[str, dict[str, str]]:
        """URL and extra headers of the next dial (may fetch a key)."""
        raise NotImplementedError

    async def on_open(self, ws: ClientConnection) -> None:
        """Greet the server (send the subscription or auth message)."""

    def on_frame(self, frame: str | bytes, now: float) -> SessionEnd | None:
        """Handle one frame; return an end to finish the connection."""
        raise NotImplementedError

    async def needed(self) -> bool:
        """Wait until a connection is worth having; False on quit. (``/live`` waits for
        something to subscribe.)"""
        return not self.stop_event.is_set()

    def ping_payload(self) -> str:
        """The keep-alive text."""
        return "ping"

    def ping_delay(self) -> float:
        """Seconds until the next ping (guide section 5: every 20-30 s, never within 15 s)."""
        low, high = self.settings.ping_seconds
        return self.rng.uniform(low, high)

    def extra_tasks(self, ws: ClientConnection) -> list[asyncio.Task[SessionEnd | None]]:
        """More tasks for the life of one connection."""
        return []

    def can_refresh_key(self) -> bool:
        """Whether an auth failure may be retried once with a new key."""
        return False

    async def refresh_key(self) -> None:
        """Fetch a new key (RapidAPI)."""

    # ---- control --------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the supervisor to close (1000) and exit."""
        self.stop_event.set()

    def reconnect_now(self) -> None:
        """Force a reconnect (or restart a stopped feed)."""
        self.kick_event.set()

    def _set(self, state: FeedState, detail: str = "", retry_at: float | None = None) -> None:
        self.status.state, self.status.detail, self.status.retry_at = state, detail, retry_at
        self.engine.status_changed()

    # ---- main loop ------------------------------------------------------------------------

    async def run(self) -> None:
        """Dial, serve and reconnect until stopped."""
        try:
            while not self.stop_event.is_set():
                if not await self.needed():
                    break
                end = await self._connect_once()
                if end.outcome is Outcome.QUIT or self.stop_event.is_set():
                    break
                if end.outcome is Outcome.IDLE:
                    continue  # closed with 1000 because there is nothing to ask for
                delay = await self._decide(end)
                if delay is None:
                    if not await self._wait_restart():
                        break
                    continue
                self.status.reconnects += 1
                self._set(FeedState.RECONNECTING, end.reason, time.time() + delay)
                if not await self._sleep(delay):
                    break
        finally:
            self._set(FeedState.STOPPED, self.status.detail or "quit")

    async def _until_stop_or(self, event: asyncio.Event, timeout: float | None = None) -> str:
        """Wait for quit, ``event`` or ``timeout``: ``"stop"``, ``"event"`` or ``"timeout"``."""
        stop = asyncio.ensure_future(self.stop_event.wait())
        other = asyncio.ensure_future(event.wait())
        done, pending = await asyncio.wait(
            {stop, other}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
        if stop in done:
            return "stop"
        return "event" if other in done else "timeout"

    async def _wait_restart(self) -> bool:
        """Stay stopped until a manual reconnect (True) or quit (False)."""
        if await self._until_stop_or(self.kick_event) == "stop":
            return False
        self.kick_event.clear()
        self.backoff.attempt = 0
        self.counters = FeedCounters()
        return True

    async def _sleep(self, delay: float) -> bool:
        """Wait ``delay`` seconds; False at once on quit, early on a manual reconnect."""
        outcome = await self._until_stop_or(self.kick_event, delay)
        if outcome == "event":
            self.kick_event.clear()
        return outcome != "stop"

    async def _decide(self, end: SessionEnd) -> float | None:
        """Carry out the policy's decision: seconds to wait before the next dial, or None to
        stop the feed."""
        self.status.last_error = end.reason
        decision = decide(
            end,
            self.counters,
            self.backoff,
            feed=self.name,
            can_refresh_key=self.can_refresh_key(),
        )
        if decision.notice:
            self.engine.notice("warning", decision.notice)
        if decision.action is Action.STOP:
            self._stopped(decision.message)
            return None
        if decision.action is Action.REFRESH_KEY:
            try:
                await self.refresh_key()
            except KeyUnavailable as exc:
                if exc.retry_in is None:
                    self._stopped(str(exc))
                    return None
                self.status.last_error = str(exc)
                return self.backoff.next_delay(exc.retry_in)
        return decision.delay

    def _stopped(self, why: str) -> None:
        self._set(FeedState.STOPPED, why)
        self.engine.notice("error", f"{self.name} stopped: {why}")

    async def _connect_once(self) -> SessionEnd:
        """One dial and, if it opens, one session."""
        self._set(FeedState.CONNECTING, "")
        try:
            url, headers = await self.target()
        except KeyUnavailable as exc:
            if exc.retry_in is not None:  # keeps trying slowly, and says so
                return SessionEnd(Outcome.KEY_WAIT, str(exc), exc.retry_in)
            return SessionEnd(Outcome.NO_KEY, str(exc))
        try:
            ws = await connect(
                url,
                additional_headers=headers,
                max_size=MAX_INBOUND_BYTES,
                ping_interval=(
                    self.settings.keepalive_seconds if self.protocol_keepalive else None
                ),
                ping_timeout=self.settings.keepalive_timeout if self.protocol_keepalive else None,
                open_timeout=self.settings.open_timeout,
                close_timeout=self.settings.close_timeout,
                compression=None,
                create_connection=FrameConnection,
            )
        except InvalidStatus as exc:
            response = exc.response
            return classify_handshake_status(
                response.status_code, response.headers.get("Retry-After")
            )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            end = classify_dial_error(exc)
            end.reason = mask_secrets(end.reason)
            return end
        self.ws = ws
        self.sockets_open += 1
        opened = time.time()
        self.status.connects += 1
        self.status.connected_at = opened
        self._set(FeedState.LIVE, "")
        try:
            return await self._session(ws)
        finally:
            await self._close(ws)
            self.sockets_open -= 1
            self.ws = None
            self.backoff.connection_was_stable(time.time() - opened, self.had_data)

    async def _close(self, ws: ClientConnection) -> None:
        """Close with 1000 and wait at most ``close_timeout``; abort the TCP link after."""
        try:
            await asyncio.wait_for(
                ws.close(1000, "client closing"), self.settings.close_timeout + 0.5
            )
        except (Exception, asyncio.CancelledError):
            if ws.transport is not None:
                ws.transport.abort()

    async def _session(self, ws: ClientConnection) -> SessionEnd:
        """Serve one open connection until something ends it."""
        now = time.time()
        self.last_alive = now
        self.had_data = False
        self.bad_in_a_row = 0
        self.pending_end = None
        tasks: list[asyncio.Task[SessionEnd | None]] = [
            asyncio.create_task(self._read(ws)),
            asyncio.create_task(self._watchdog()),
            asyncio.create_task(self._pinger(ws)),
            *self.extra_tasks(ws),
        ]
        stop = asyncio.create_task(self.stop_event.wait())
        kick = asyncio.create_task(self.kick_event.wait())
        try:
            await self.on_open(ws)
            done, _ = await asyncio.wait({*tasks, stop, kick}, return_when=asyncio.FIRST_COMPLETED)
        except ConnectionClosed:
            done = set()
        finally:
            for task in (*tasks, stop, kick):
                task.cancel()
            await asyncio.gather(*tasks, stop, kick, return_exceptions=True)
        if stop in done:
            return SessionEnd(Outcome.QUIT, "quit")
        if kick in done:
            self.kick_event.clear()
            return SessionEnd(Outcome.MANUAL, "reconnect requested")
        for task in tasks:
            if task in done:
                if task.cancelled():
                    continue
                exc = task.exception()
                if exc is not None:
                    log.error("%s handler failed: %s", self.name, mask_secrets(repr(exc)))
                    return SessionEnd(Outcome.RECONNECT, f"internal error ({type(exc).__name__})")
                result = task.result()
                if result is not None:
                    return result
        return self._classify_close(ws)

    async def _read(self, ws: ClientConnection) -> SessionEnd | None:
        """Take frames as the connection parses them (:mod:`tui.engine.direct`) until it
        ends or a frame ends it; a handler's exception ends the session as this task's."""
        assert isinstance(ws, FrameConnection)  # every connection is dialled as one
        status = self.status
        observers = self.engine.frame_observers
        ended: asyncio.Future[SessionEnd | None] = asyncio.get_running_loop().create_future()

        pace = self.pace if self.paces_reads else None
        if pace is not None:
            pace.opened(time.time())

        def take(data: bytes, text: bool) -> None:
            now = time.time()
            status.messages += 1
            status.bytes += len(data)
            self.read_late = ws.late
            try:
                if observers:
                    frame = data.decode("utf-8", "replace") if text else data
                    for observe in observers:
                        observe(self.name, frame, now)
                end = self.on_frame(data, now)
            except Exception as exc:  # in the transport's callback: ends the session here
                ws.detach()
                ended.set_exception(exc)
                return
            if end is not None:
                ws.detach()
                ended.set_result(end)
            elif pace is not None:
                ws.pace = pace.seconds(now)

        def on_lost(_: object) -> None:  # every frame before the loss was taken already
            if not ended.done():
                ended.set_result(None)

        lost = ws.connection_lost_waiter
        lost.add_done_callback(on_lost)
        ws.attach(take)
        try:
            end = await ended
        finally:
            ws.detach()
            lost.remove_done_callback(on_lost)
        return end if end is not None else self._classify_close(ws)

    def _classify_close(self, ws: ClientConnection) -> SessionEnd:
        """What the server's close (or its absence) means, unless a frame already said."""
        if self.pending_end is not None:
            return self.pending_end
        received = ws.protocol.close_rcvd
        if received is None:
            return classify_close(None, "")
        return classify_close(received.code, received.reason)

    async def _watchdog(self) -> SessionEnd | None:
        """End the connection when nothing arrives for ``watchdog_seconds``."""
        if self.protocol_keepalive:  # websockets closes the socket when a pong is late
            await self.stop_event.wait()
            return None
        limit = self.watchdog_seconds
        while True:
            await asyncio.sleep(min(1.0, limit / 10))
            if time.time() - self.last_alive > limit:
                return SessionEnd(Outcome.TIMEOUT, f"no data or heartbeat for {limit:g} s")

    async def _pinger(self, ws: ClientConnection) -> SessionEnd | None:
        """Send the keep-alive on the feed's cadence, never two within the minimum gap."""
        while True:
            await asyncio.sleep(self.ping_delay())
            if time.time() - self.last_ping < self.settings.min_ping_gap:
                continue
            self.last_ping = time.time()
            await ws.send(self.ping_payload())

    # ---- shared frame bookkeeping ---------------------------------------------------------

    def alive(self, now: float, *, data: bool) -> None:
        """A good frame arrived."""
        self.last_alive = now
        self.bad_in_a_row = 0
        if data and not self.had_data:  # the policy's memory is forgotten once a session
            self.had_data = True
            self.counters = FeedCounters()

    def bad_frame(self, reason: str) -> SessionEnd | None:
        """Count an undecodable frame; too many in a row is a protocol violation."""
        self.status.decode_errors += 1
        self.bad_in_a_row += 1
        log.debug("%s: bad frame: %s", self.name, reason)
        if self.bad_in_a_row >= MAX_BAD_FRAMES_IN_A_ROW:
            return SessionEnd(Outcome.PROTOCOL, f"{MAX_BAD_FRAMES_IN_A_ROW} bad frames in a row")
        return None

    def heartbeat(self, server_ms: float, now: float) -> None:
        """Latency = local ms - server_time (guide FAQ), smoothed while it moves a little; a
        jump of more than a second is taken as it is, so lag and skew show at once. A
        heartbeat that waited behind a paced read says nothing of the latency."""
        status = self.status
        status.heartbeat_at = now
        self.pace.heartbeat(now)
        if self.read_late:
            return
        sample = now * 1000.0 - server_ms
        previous = status.latency_ms
        if previous is None or abs(sample - previous) > LATENCY_JUMP_MS:
            status.latency_ms = sample
        else:
            status.latency_ms = previous + LATENCY_SMOOTHING * (sample - previous)
