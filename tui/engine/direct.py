"""A WebSocket client connection that hands each whole message to the engine as it is parsed.

The library's own reading path queues every message and wakes a reader task for it: one more
turn of the event loop and a queue round trip per quote, which on a quiet feed costs more than
the quote's own work. Here the transport's callback calls the engine directly, in arrival
order; a text message is handed over as its UTF-8 bytes (the decoders take bytes, so no
``str`` is made only to be encoded again), with a ``text`` flag for whoever keeps frames as
text (the recorder). Control frames (ping, pong, close) and the handshake stay the library's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.frames import Frame, Opcode

Sink = Callable[[bytes, bool], None]
"""Takes one whole message: its payload and whether it came as text."""

EARLY_LIMIT = 1000
"""Messages kept for a reader that has not attached yet (the moment between the handshake and
:meth:`FrameConnection.attach`); more than that is a server flooding a connection nobody
reads, and the oldest are dropped."""


class FrameConnection(ClientConnection):
    """:class:`ClientConnection` whose data messages go to a sink instead of a queue."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sink: Sink | None = None
        self._early: list[tuple[bytes, bool]] = []
        self._parts: list[bytes] = []
        self._text = False
        self._detached = False

    def attach(self, sink: Sink) -> None:
        """Send every message from now on (and those that came before) to ``sink``."""
        early, self._early = self._early, []
        self._sink = sink
        for data, text in early:
            if self._sink is None:
                break
            self._sink(data, text)

    def detach(self) -> None:
        """Stop handing messages over; whatever still comes is dropped (the session ended)."""
        self._sink = None
        self._detached = True
        self._early.clear()

    def process_event(self, event: Any) -> None:
        if self.response is None or not isinstance(event, Frame):
            super().process_event(event)  # the handshake's response
            return
        opcode = event.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            self._text = opcode is Opcode.TEXT
            self._parts = []
        elif opcode is not Opcode.CONT:
            super().process_event(event)  # ping, pong, close: the library answers them
            return
        data = event.data if type(event.data) is bytes else bytes(event.data)
        if not event.fin:  # a fragment: the message is handed over whole, when it ends
            self._parts.append(data)
            return
        if self._parts:
            self._parts.append(data)
            data = b"".join(self._parts)
            self._parts = []
        self._deliver(data, self._text)

    def _deliver(self, data: bytes, text: bool) -> None:
        sink = self._sink
        if sink is not None:
            sink(data, text)
        elif not self._detached:
            if len(self._early) >= EARLY_LIMIT:
                del self._early[0]
            self._early.append((data, text))
