"""Simulated news endpoints: InsightSentry ``/newsfeed`` and StockNews.live ``/ws``.

``/newsfeed`` (guide section 1, protocol-notes): ``{"api_key": ...}`` with optional
``source``/``related_symbols``/``content`` filters (AND-ed; terms inside ``content`` OR-ed);
the 10 most recent matching items on every connect, then new ones; ``ping`` → ``pong``.

StockNews (``shared/api/002_*.txt``): ``/ws?token=``; a bad or expired token closes with 1008;
otherwise ``connected`` with the expiry, then ``news``; ``subscribe`` filters by tickers;
``{"type": "ping"}`` is answered with ``{"type": "pong"}`` (the reply is undocumented).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import msgspec
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from tui.protocol.newsfeed import NewsfeedAuth
from tui.protocol.stocknews import (
    AUTH_CLOSE_CODE,
    Connected,
    PingMessage,
    SubscribeMessage,
    SubscriptionInfo,
    decode_client_message,
    encode_server_message,
)
from tui.sim.news import Story
from tui.sim.outbox import ConnectionRecord, Outbox, now_ms

if TYPE_CHECKING:
    from tui.sim.host import SimHost

RECENT_ON_CONNECT = 10
"""Items replayed on every ``/newsfeed`` connect (guide section 1, News Feed Instant Access)."""


def _terms(value: str | None) -> list[str]:
    """Comma/space separated filter terms, lower-cased."""
    return [t.lower() for t in re.split(r"[,\s]+", value or "") if t]


class NewsfeedSession:
    """Serves one ``/newsfeed`` connection."""

    def __init__(self, sim: SimHost, ws: ServerConnection, record: ConnectionRecord) -> None:
        self.sim, self.ws, self.record = sim, ws, record
        self.outbox = Outbox(ws, record, sim.faults, sim.settings.send_queue_limit)
        self.auth: NewsfeedAuth | None = None

    def matches(self, story: Story) -> bool:
        """Whether ``story`` passes this client's filters."""
        auth = self.auth
        if auth is None:
            return False
        sources = _terms(auth.source)
        if sources and story.source.lower() not in sources:
            return False
        symbols = _terms(auth.related_symbols)
        if symbols and not any(s.lower() in symbols for s in story.related):
            return False
        words = _terms(auth.content)
        text = f"{story.title} {story.summary}".lower()
        return not words or any(w in text for w in words)

    def on_story(self, story: Story) -> None:
        """Deliver a new story if it matches."""
        if self.matches(story) and not self.sim.faults.silent:
            self.outbox.put(msgspec.json.encode(story.newsfeed_item()).decode())

    async def run(self) -> None:
        """Authenticate, replay recent items, then stream."""
        writer = asyncio.create_task(self.outbox.run())
        beats = asyncio.create_task(self._heartbeats())
        try:
            async for message in self.ws:
                self.record.raw_messages += 1
                if isinstance(message, str) and message.strip() == "ping":
                    self.record.pings += 1
                    if not self.sim.faults.ignore_pings:
                        self.outbox.put("pong")
                    continue
                await self._on_auth(message)
        except ConnectionClosed:
            pass
        finally:
            writer.cancel()
            beats.cancel()
            self.sim.newsfeed_sessions.discard(self)

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.sim.settings.heartbeat_seconds)
            if not self.sim.faults.mute_heartbeats:
                self.outbox.put_urgent(f'{{"server_time":{now_ms()}}}')

    async def _on_auth(self, message: str | bytes) -> None:
        try:
            payload = msgspec.json.decode(message)
        except msgspec.DecodeError:
            self.outbox.put('{"error":"invalid_request","message":"Message could not be parsed."}')
            return
        if not isinstance(payload, dict) or not payload.get("api_key"):
            self.outbox.put('{"message":"api_key field is missing."}')
            return
        try:
            auth = msgspec.convert(payload, NewsfeedAuth)
        except msgspec.ValidationError as exc:
            self.outbox.put(
                msgspec.json.encode({"error": "invalid_request", "message": str(exc)}).decode()
            )
            return
        if self.sim.plan_for(auth.api_key) is None:
            self.outbox.put('{"error":"unauthorized","message":"Invalid or expired api_key."}')
            self.record.close_code_sent = 1008
            await asyncio.sleep(0.05)
            await self.ws.close(1008, "invalid api_key")
            return
        self.auth = auth
        self.record.key = auth.api_key
        self.sim.newsfeed_sessions.add(self)
        recent = [s for s in self.sim.stories if self.matches(s)][-RECENT_ON_CONNECT:]
        for story in recent:
            self.outbox.put(msgspec.json.encode(story.newsfeed_item()).decode())


class StockNewsSession:
    """Serves one StockNews ``/ws`` connection."""

    def __init__(self, sim: SimHost, ws: ServerConnection, record: ConnectionRecord) -> None:
        self.sim, self.ws, self.record = sim, ws, record
        self.outbox = Outbox(ws, record, sim.faults, sim.settings.send_queue_limit)
        self.tickers: set[str] = set()

    def on_story(self, story: Story) -> None:
        """Deliver a story if it passes the ticker filter."""
        if self.sim.faults.silent:
            return
        symbols = {c.split(":", 1)[1] for c in story.related}
        if not self.tickers or symbols & self.tickers:
            self.outbox.put(encode_server_message(story.stocknews()))

    async def run(self) -> None:
        """Check the token, greet, then stream until the subscription expires."""
        request = self.ws.request
        query = parse_qs(urlsplit(request.path if request else "").query)
        token = (query.get("token") or [""])[0]
        expires = self.sim.stocknews_expiry(token)
        if expires is None or expires <= time.time():
            self.record.close_code_sent = AUTH_CLOSE_CODE
            reason = "Authentication failed" if expires is None else "Subscription expired"
            await self.ws.close(AUTH_CLOSE_CODE, reason)
            return
        self.record.key = token
        writer = asyncio.create_task(self.outbox.run())
        expiry = asyncio.create_task(self._expire_at(expires))
        iso = datetime.fromtimestamp(expires, UTC).isoformat(timespec="milliseconds")
        self.outbox.put(
            encode_server_message(
                Connected(
                    message="WebSocket connection established",
                    subscription=SubscriptionInfo(
                        expiresAt=iso.replace("+00:00", "Z"), isActive=True
                    ),
                )
            )
        )
        self.sim.stocknews_sessions.add(self)
        try:
            async for message in self.ws:
                self.record.raw_messages += 1
                self._on_client(message)
        except ConnectionClosed:
            pass
        finally:
            writer.cancel()
            expiry.cancel()
            self.sim.stocknews_sessions.discard(self)

    def _on_client(self, message: str | bytes) -> None:
        try:
            decoded = decode_client_message(message)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self.outbox.put(msgspec.json.encode({"type": "error", "message": str(exc)}).decode())
            return
        if isinstance(decoded, PingMessage):
            self.record.pings += 1
            if not self.sim.faults.ignore_pings:
                self.outbox.put('{"type":"pong"}')
        elif isinstance(decoded, SubscribeMessage):
            self.tickers = {t.upper() for t in decoded.tickers}
            self.outbox.put(
                msgspec.json.encode(
                    {"type": "subscribed", "tickers": sorted(self.tickers)}
                ).decode()
            )

    async def _expire_at(self, expires: float) -> None:
        """Close with 1008 when the subscription expires mid-connection."""
        await asyncio.sleep(max(0.0, expires - time.time()))
        self.record.close_code_sent = AUTH_CLOSE_CODE
        with contextlib.suppress(Exception):
            await self.ws.close(AUTH_CLOSE_CODE, "Subscription expired")
