"""A WebSocket client connection that hands each whole message to the engine as it is parsed.

The library's own reading path queues every message and wakes a reader task for it: one more
turn of the event loop and a queue round trip per quote, which on a quiet feed costs more than
the quote's own work. Here the transport's callback calls the engine directly, in arrival
order; a text message is handed over as its UTF-8 bytes (the decoders take bytes, so no
``str`` is made only to be encoded again), with a ``text`` flag for whoever keeps frames as
text (the recorder). Control frames (ping, pong, close) and the handshake stay the library's.

In a quiet market the connection can also *pace* its reads (:attr:`FrameConnection.pace`):
after a read it stops reading for that long and the kernel keeps what comes, so a feed of 50
quotes a second costs a few wake-ups a second instead of fifty. The first read after a pause
says whether anything waited (:attr:`FrameConnection.late`), so whoever times a message (the
heartbeat's latency) can tell a true time from one the pause made.
"""

from __future__ import annotations

import asyncio
import fcntl
import struct
import termios
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from tui.engine.framing import BROKEN, TEXT, next_frame

Sink = Callable[[bytes, bool], None]
"""Takes one whole message: its payload and whether it came as text."""

HANDSHAKE_LIMIT = 65536
"""A handshake answer longer than this is the library's to refuse."""
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
        self.pace = 0.0
        """Seconds to stop reading after each read (0: read as data comes)."""
        self.late = False
        """Whether the data being handed over waited in the kernel while reading was paused."""
        self._late_next = False
        self._holding: asyncio.TimerHandle | None = None
        """The end of the current pause (None: reading)."""
        self.reads = 0
        """Reads from the socket (each hands over every whole message it completed)."""
        self._buffer: bytearray | None = bytearray()
        """Bytes of a frame not whole yet (None: the library reads everything from now on)."""
        self._framing = False
        """The handshake is done and the connection open: frames are split here."""

    def data_received(self, data: bytes) -> None:
        self.reads += 1
        self.late, self._late_next = self._late_next, False
        if self._framing:
            self._frames(data)
        elif self._buffer is not None:
            self._handshake(data)
        else:
            super().data_received(data)
        pace = self.pace
        transport = self.transport
        if pace > 0 and self._holding is None and transport is not None:
            if transport.is_closing():
                return
            transport.pause_reading()
            self._holding = self.loop.call_later(pace, self._resume)

    def _handshake(self, data: bytes) -> None:
        """The server's answer goes to the library exactly, up to its blank line; frames
        after it are split here once the connection is open."""
        buffer = self._buffer
        assert buffer is not None
        buffer += data
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > HANDSHAKE_LIMIT:
                self._to_library(bytes(buffer))
            return
        answer, rest = bytes(buffer[: end + 4]), bytes(buffer[end + 4 :])
        buffer.clear()
        super().data_received(answer)
        if self.response is not None and self.protocol.state is State.OPEN:
            self._framing = True
            if rest:
                self._frames(rest)
        else:
            self._to_library(rest)

    def _to_library(self, data: bytes) -> None:
        """Everything from here on is the library's (a close, or something it refuses)."""
        self._framing = False
        self._buffer = None
        if data:
            super().data_received(data)

    def _frames(self, data: bytes) -> None:
        """Hand over every whole data frame; give the library every other frame whole."""
        buffer = self._buffer
        assert buffer is not None
        view: bytes | bytearray = data
        if buffer:
            buffer += data
            view = buffer
        limit = self.protocol.max_message_size
        pos = 0
        while True:
            found = next_frame(view, pos, limit)
            if found is None:
                break
            kind, start, end = found
            if kind > 0 and not self._parts:  # TEXT or BINARY
                self._deliver(bytes(view[start:end]), kind == TEXT)
            elif kind == BROKEN:
                self._to_library(bytes(view[pos:]))
                return
            else:  # a control frame or a fragment (a data frame amid fragments is refused)
                super().data_received(bytes(view[pos:end]))
                if self.protocol.state is not State.OPEN:  # closing, or failed
                    self._to_library(bytes(view[end:]))
                    return
            pos = end
        if view is buffer:
            del buffer[:pos]
        elif pos < len(view):
            buffer += view[pos:]

    def read_now(self) -> None:
        """Stop pacing until the next read says otherwise, and read what waits now."""
        self.pace = 0.0
        if self._holding is not None:
            self._holding.cancel()
            self._resume()

    def _resume(self) -> None:
        self._holding = None
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self._late_next = _unread_bytes(transport) != 0  # it came while we were not reading
        transport.resume_reading()

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


def _unread_bytes(transport: Any) -> int:
    """Bytes the kernel holds for us (-1 when it cannot say: then taken as waiting)."""
    sock = transport.get_extra_info("socket")
    try:
        answer = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
    except (OSError, AttributeError, ValueError):
        return -1
    return int(struct.unpack("i", answer)[0])
