"""The engine's connection splits the server's frames itself: whatever the frames and however
the bytes are cut into reads, it hands over the same messages, in the same order, as the
protocol says, and leaves control frames, fragments and refusals to the library."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.frames import Frame, Opcode

from tests.enginehelp import wait_for
from tui.engine.direct import FrameConnection
from tui.engine.framing import BINARY, BROKEN, OTHER, TEXT, next_frame

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _wire(frame: Frame) -> bytes:
    return frame.serialize(mask=False, extensions=[])


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_every_length_form_is_read_as_the_protocol_writes_it(size: int) -> None:
    payload = bytes(range(256)) * (size // 256 + 1)
    wire = _wire(Frame(Opcode.BINARY, payload[:size])) + b"\x81\x00"
    kind, start, end = next_frame(wire, 0, None) or (None, 0, 0)
    assert kind == BINARY and wire[start:end] == payload[:size]
    assert next_frame(wire, end, None) == (TEXT, end + 2, end + 2)
    for cut in (1, start - 1, end - 1):  # not whole yet: more bytes are needed
        if cut > 0:
            assert next_frame(wire[:cut], 0, None) is None


def test_what_the_library_must_see_or_refuse_is_left_to_it() -> None:
    ping = _wire(Frame(Opcode.PING, b"x"))
    assert next_frame(ping, 0, None) == (OTHER, 2, 3)
    part = _wire(Frame(Opcode.TEXT, b"ab", fin=False))
    assert next_frame(part, 0, None) == (OTHER, 2, 4)
    assert next_frame(b"\xc1\x00", 0, None) == (BROKEN, 0, 0)  # a reserved bit
    assert next_frame(b"\x81\x81abcd" + b"x", 0, None) == (BROKEN, 0, 0)  # masked
    assert next_frame(b"\x81\x7e\x01\x00", 0, 100) == (BROKEN, 0, 0)  # over the limit
    assert next_frame(b"\x09\x00", 0, None) == (BROKEN, 0, 0)  # a fragmented ping


@asynccontextmanager
async def _raw_server(chunks: list[bytes]) -> AsyncIterator[str]:
    """A server that answers the handshake, then writes ``chunks`` one by one."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        key = next(
            line.split(":", 1)[1].strip()
            for line in request.split("\r\n")
            if line.lower().startswith("sec-websocket-key")
        )
        accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        answer = (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
        ).encode()
        writer.write(answer + (chunks[0] if chunks else b""))  # frames right behind it
        for chunk in chunks[1:]:
            await writer.drain()
            await asyncio.sleep(0.002)
            writer.write(chunk)
        await writer.drain()
        with contextlib.suppress(Exception):
            await reader.read()  # until the client goes
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}/"
    finally:
        server.close()


sizes = st.integers(0, 300) | st.sampled_from([125, 126, 65535, 65536, 66000])
payloads = st.tuples(st.binary(min_size=1, max_size=8), sizes).map(
    lambda pair: (pair[0] * (pair[1] // len(pair[0]) + 1))[: pair[1]]
)  # every length form (RFC 6455, 5.2) without megabytes of generated data
message = st.tuples(payloads, st.booleans(), st.integers(1, 3), st.booleans())
"""Payload, text or not, how many frames it is sent in, a ping in the middle or not."""


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    messages=st.lists(message, min_size=1, max_size=8),
    cuts=st.lists(st.integers(1, 200_000), max_size=12),
)
async def test_any_frames_cut_anywhere_are_the_same_messages_in_order(
    messages: list[tuple[bytes, bool, int, bool]], cuts: list[int]
) -> None:
    wire = b""
    expected: list[tuple[bytes, bool]] = []
    for payload, text, parts, ping in messages:
        data = payload.hex().encode() if text else payload  # text: valid UTF-8
        step = max(1, len(data) // parts)
        pieces = [data[i : i + step] for i in range(0, len(data), step)] or [b""]
        for n, piece in enumerate(pieces):
            opcode = (Opcode.TEXT if text else Opcode.BINARY) if n == 0 else Opcode.CONT
            wire += _wire(Frame(opcode, piece, fin=n == len(pieces) - 1))
            if ping and n == 0:
                wire += _wire(Frame(Opcode.PING, b"p"))  # allowed amid a fragmented message
        expected.append((data, text))
    points = sorted({c % len(wire) for c in cuts} - {0})
    chunks = [wire[a:b] for a, b in zip([0, *points], [*points, len(wire)], strict=True)]
    async with _raw_server(chunks) as url:
        ws = await connect(  # the raw server never answers a close: do not wait for it
            url, create_connection=FrameConnection, max_size=2**20, close_timeout=0.05
        )
        assert isinstance(ws, FrameConnection)
        taken: list[tuple[bytes, bool]] = []
        ws.attach(lambda data, text: taken.append((data, text)))
        try:
            await wait_for(lambda: len(taken) >= len(expected), 5)
        finally:
            await ws.close()
    assert taken == expected
