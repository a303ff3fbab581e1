"""Per-connection bounded send queue, its writer task, and the connection record.

A client that never reads cannot grow the simulator's memory: the queue holds at most
``limit`` messages; past that new messages are dropped and counted (slow-consumer policy).
Send-side fault switches (malformed JSON, binary frames, fragments, text that is not UTF-8,
dropping after N messages) act here.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from tui.protocol.live import Subscription
from tui.sim.settings import Faults

MALFORMED_FRAME = '{"last_update": 1, "data": [{"code": '
"""What a malformed-JSON fault sends instead of a real message."""
NOT_UTF8 = b'{"last_update": 1, "data": [{"code": "\xff\xfe"}]}'
"""What the bad-UTF-8 fault sends, as a text frame, instead of a real message."""


@dataclass
class ConnectionRecord:
    """What the simulator saw of one connection, for tests and ``marketpane sim`` stats."""

    endpoint: str
    opened_at: float
    key: str | None = None
    closed_at: float | None = None
    close_code_received: int | None = None
    close_code_sent: int | None = None
    subscription_messages: list[list[Subscription]] = field(default_factory=list)
    raw_messages: int = 0
    pings: int = 0
    ping_floods: int = 0
    """Pings that came sooner than 15 s after the previous one (guide section 5)."""
    sent: int = 0
    dropped: int = 0
    evicted: bool = False
    errors: list[str] = field(default_factory=list)
    """Error codes sent, in order."""


class Outbox:
    """A bounded queue drained by one writer task into the WebSocket."""

    def __init__(
        self, ws: ServerConnection, record: ConnectionRecord, faults: Faults, limit: int
    ) -> None:
        self.ws, self.record, self.faults, self.limit = ws, record, faults, limit
        self.queue: deque[str | bytes] = deque()
        self.ready = asyncio.Event()
        self.counter = 0

    def put(self, message: str | bytes) -> bool:
        """Queue a message; drops and counts it when the queue is full."""
        if len(self.queue) >= self.limit:
            self.record.dropped += 1
            return False
        self.queue.append(message)
        self.ready.set()
        return True

    def put_urgent(self, message: str | bytes) -> None:
        """Queue a message ahead of data (heartbeats), evicting the oldest if full."""
        if len(self.queue) >= self.limit:
            self.queue.pop()
            self.record.dropped += 1
        self.queue.appendleft(message)
        self.ready.set()

    async def run(self) -> None:
        """Drain the queue until the connection closes."""
        ws, faults, record = self.ws, self.faults, self.record
        try:
            while True:
                await self.ready.wait()
                self.ready.clear()
                while self.queue:
                    message = self.queue.popleft()
                    self.counter += 1
                    if faults.malformed_every and self.counter % faults.malformed_every == 0:
                        message = MALFORMED_FRAME
                    elif faults.binary_every and self.counter % faults.binary_every == 0:
                        message = message.encode() if isinstance(message, str) else message
                    await self._send(message)
                    record.sent += 1
                    if faults.drop_after_messages and record.sent >= faults.drop_after_messages:
                        drop_connection(ws)
                        return
        except ConnectionClosed:
            return

    async def _send(self, message: str | bytes) -> None:
        """One message, in pieces or not UTF-8 when a fault says so."""
        faults, count = self.faults, self.counter
        if faults.bad_utf8_every and count % faults.bad_utf8_every == 0:
            await self.ws.send(NOT_UTF8, text=True)
        elif faults.fragmented_every and count % faults.fragmented_every == 0 and len(message) > 2:
            third = len(message) // 3
            await self.ws.send([message[:third], message[third : 2 * third], message[2 * third :]])
        else:
            await self.ws.send(message)


def drop_connection(ws: ServerConnection) -> None:
    """Cut the TCP connection without a close frame (a network failure, as seen by a client)."""
    transport = ws.transport
    if transport is not None:
        transport.abort()


def now_ms() -> int:
    """Wall-clock milliseconds, as in ``server_time`` and ``last_update``."""
    return int(time.time() * 1000)
