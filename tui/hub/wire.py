"""The hub's wire: length-prefixed msgspec MessagePack frames over a Unix socket.

A frame is a 4-byte big-endian length and that many bytes of MessagePack encoding one of the
tagged structs below. A pane opens with :class:`Hello`; the hub answers :class:`Welcome` or
:class:`Refused` (another uid, another protocol version). Then the pane sends commands, acks
and searches; the hub sends batches (the next only after the pane's :class:`Ack`) and search
replies. Keys never cross the socket: the hub reads its own.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import msgspec

from tui.alerts.model import AlertRule, AlertView
from tui.protocol.rest import SymbolInfo
from tui.session.values import Command, SessionBatch

PROTOCOL = 3
"""The wire protocol's version: a pane and a hub that differ refuse each other clearly."""
MAX_FRAME = 32 * 1024 * 1024
"""Largest frame accepted (a 30,000-bar history is about 2 MB)."""
_LENGTH = struct.Struct(">I")


class Hello(msgspec.Struct, tag=True):
    """A pane's first frame."""

    protocol: int
    version: str
    account: str
    symbols: list[str] | None = None
    """The pane's ``--symbols`` list (an unsaved watchlist of its own)."""
    record: str | None = None
    """The pane's ``--record FILE`` (absolute): the hub records what it receives there while
    the pane is attached, so the pane opens no connection of its own."""


class Welcome(msgspec.Struct, tag=True):
    """The hub accepted the pane."""

    pane: int
    version: str
    pid: int


class Refused(msgspec.Struct, tag=True):
    """The hub refused the pane; ``reason`` is for the user."""

    reason: str


class CommandFrame(msgspec.Struct, tag=True):
    """A session command from a pane."""

    command: Command


class Ack(msgspec.Struct, tag=True):
    """The pane drew the last batch; the next may come."""


class SearchRequest(msgspec.Struct, tag=True):
    """A symbol search from the add box."""

    id: int
    query: str


class SearchReply(msgspec.Struct, tag=True):
    """Results (or why there are none) for a search request."""

    id: int
    results: list[SymbolInfo] = []
    error: str | None = None


class BatchFrame(msgspec.Struct, tag=True):
    """A session batch for the pane."""

    batch: SessionBatch


class StatusRequest(msgspec.Struct, tag=True):
    """``marketpane hub status``."""


class HubStatus(msgspec.Struct, tag=True):
    """What ``marketpane hub status`` prints."""

    pid: int
    version: str
    uptime_seconds: float
    panes: int
    account: str
    feeds: list[str]
    plan: str
    budget: str
    demo: bool
    alerts: str = ""
    """``alerts: 3 (2 live: the hub stays up for them)``, or empty with none."""
    received: int = 0
    """Messages the hub's feeds have received (the benchmark reads it)."""
    fleet: list[str] = []
    """The fleet's lines (broker, role, leader, lease age, followers); empty without one."""


class StopRequest(msgspec.Struct, tag=True):
    """``marketpane hub stop``: close upstream with 1000, tell the panes, exit."""


class AlertRequest(msgspec.Struct, tag=True):
    """``marketpane alert add|list|rm|test|pause|resume`` to the running hub."""

    action: str
    rule: AlertRule | None = None
    id: str = ""


class AlertReply(msgspec.Struct, tag=True):
    """The hub's alerts after the request, and what happened (``error``: nothing changed)."""

    alerts: list[AlertView] = []
    message: str = ""
    error: str | None = None


class SnapshotRequest(msgspec.Struct, tag=True):
    """``marketpane print``: the latest quote of each code (from the hub's store, else REST)."""

    codes: list[str]


class SnapshotQuote(msgspec.Struct):
    """One code's merged quote fields and when they last changed (None: from REST now)."""

    code: str
    values: dict[str, Any]
    updated_at: float | None = None


class SnapshotReply(msgspec.Struct, tag=True):
    """The quotes found; ``missing``: codes neither the hub nor REST had."""

    quotes: list[SnapshotQuote] = []
    missing: list[str] = []
    error: str | None = None


class HubClosing(msgspec.Struct, tag=True):
    """The hub is going away (stopped, or signalled); the pane says so."""

    reason: str
    final: bool = False
    """The user stopped it (``marketpane hub stop``): panes wait for ``r`` instead of
    starting a new hub."""


Frame = (
    Hello
    | Welcome
    | Refused
    | CommandFrame
    | Ack
    | SearchRequest
    | SearchReply
    | BatchFrame
    | StatusRequest
    | HubStatus
    | StopRequest
    | HubClosing
    | AlertRequest
    | AlertReply
    | SnapshotRequest
    | SnapshotReply
)
"""Every frame either side may send."""

_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(Frame)


class WireError(Exception):
    """A frame that cannot be read: too large, cut short, or not a known frame."""


def encode_frame(frame: Frame) -> bytes:
    """Length prefix and MessagePack body."""
    body = _ENCODER.encode(frame)
    return _LENGTH.pack(len(body)) + body


def decode_frame(body: bytes) -> Frame:
    """One frame's body; :class:`WireError` if it is not a known frame."""
    try:
        frame: Frame = _DECODER.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        raise WireError(f"malformed frame: {exc}") from None
    return frame


async def read_frame(reader: asyncio.StreamReader, limit: int = MAX_FRAME) -> Frame | None:
    """The next frame (at most ``limit`` bytes), or None at a clean end of stream;
    :class:`WireError` otherwise."""
    try:
        head = await reader.readexactly(_LENGTH.size)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise WireError("the stream ended inside a frame header") from None
    (length,) = _LENGTH.unpack(head)
    if length > limit:
        raise WireError(f"frame of {length:,} bytes is over the {limit:,}-byte limit")
    try:
        body = await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise WireError("the stream ended inside a frame") from None
    return decode_frame(body)


async def write_frame(writer: asyncio.StreamWriter, frame: Frame) -> None:
    """Send one frame and wait for the buffer to drain."""
    writer.write(encode_frame(frame))
    await writer.drain()
