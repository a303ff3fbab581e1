"""A load generator that never limits its client: pre-encoded WebSocket frames, written raw.

``python -m benchmarks.loadgen`` listens on loopback and prints ``port N``. A client connects
to ``ws://127.0.0.1:N/r<rate>/s<seconds>/n<symbols>/<full|sparse>`` and sends any text frame
(the subscription); the generator then writes ``rate`` quote messages a second for
``seconds``, round-robin over ``symbols`` codes (``SIM:T0001``...), with a ``server_time``
heartbeat every 10 s as ``/live`` sends it, and prints one JSON line
per connection: messages offered, written, the achieved rate and its own CPU seconds.

Every frame is built once, before the clock starts (a full quote is the guide's 18 fields,
about 445 bytes; a sparse one the price, volume and time), and written with its WebSocket
header as bytes on the transport: the generator costs a few percent of what it asks of the
client. When the client reads slower than offered, TCP fills and ``drain`` waits, so the
achieved rate falls: that, not a guess, is what "kept up" means here.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import os
import resource
import struct
import sys
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
HEARTBEAT_SECONDS = 10.0
"""``{"server_time": ms}`` this often, from the start, as ``/live`` sends it ("approximately
every 10 seconds"): a client that paces its reads around heartbeats is measured as it runs."""
VARIANTS = 64
"""Distinct prices per symbol in the frame ring (the client's store sees real changes)."""


def full_quote(code: str, step: int) -> dict[str, object]:
    """A full quote with every documented field (guide section 3, Quote Data)."""
    price = 100.0 + (step % VARIANTS) * 0.01
    return {
        "code": code,
        "status": "REG",
        "lp_time": 1_795_000_000.0 + step,
        "volume": 1_000_000.0 + step,
        "last_price": round(price, 2),
        "change_percent": round((price - 99.5) / 99.5 * 100, 2),
        "change": round(price - 99.5, 2),
        "ask": round(price + 0.01, 2),
        "bid": round(price - 0.01, 2),
        "ask_size": 12.0,
        "bid_size": 9.0,
        "prev_close_price": 99.5,
        "open_price": 99.8,
        "low_price": 99.1,
        "high_price": 101.2,
        "market_cap": 2_500_000_000_000.0,
        "currency_code": "USD",
        "delay_seconds": 0,
    }


def sparse_quote(code: str, step: int) -> dict[str, object]:
    price = 100.0 + (step % VARIANTS) * 0.01
    return {"code": code, "last_price": round(price, 2), "volume": 1e6 + step, "lp_time": 1.795e9}


def ws_frame(payload: bytes) -> bytes:
    """An unmasked server text frame."""
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", 0x81, length)
    elif length < 65536:
        head = struct.pack("!BBH", 0x81, 126, length)
    else:
        head = struct.pack("!BBQ", 0x81, 127, length)
    return head + payload


@functools.cache
def build_frames(symbols: int, sparse: bool) -> list[bytes]:
    """The ring of frames: one message per symbol per price variant, symbols interleaved;
    built once per shape (33 ms for 50 symbols: a first price must not wait for it)."""
    make = sparse_quote if sparse else full_quote
    frames = []
    for step in range(VARIANTS):
        for n in range(1, symbols + 1):
            message = {"last_update": 1_795_000_000_000 + step, "total_items": 1,
                       "data": [make(f"SIM:T{n:04d}", step)]}  # fmt: skip
            frames.append(ws_frame(json.dumps(message, separators=(",", ":")).encode()))
    return frames


def parse_path(path: str) -> tuple[float, float, int, bool]:
    """``/r20000/s3/n50/full`` → (rate, seconds, symbols, sparse)."""
    rate, seconds, symbols, sparse = 1000.0, 3.0, 50, False
    for part in path.strip("/").split("/"):
        if part.startswith("r") and part[1:].replace(".", "").isdigit():
            rate = float(part[1:])
        elif part.startswith("s") and part[1:].replace(".", "").isdigit():
            seconds = float(part[1:])
        elif part.startswith("n") and part[1:].isdigit():
            symbols = int(part[1:])
        elif part == "sparse":
            sparse = True
    return rate, seconds, symbols, sparse


async def _read_client(reader: asyncio.StreamReader, subscribed: asyncio.Event) -> None:
    """Read (and drop) the client's frames; the first text frame is the subscription."""
    while True:
        head = await reader.readexactly(2)
        opcode, length = head[0] & 0x0F, head[1] & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await reader.readexactly(8))
        if head[1] & 0x80:
            await reader.readexactly(4)
        await reader.readexactly(length)
        if opcode == 0x1:
            subscribed.set()
        if opcode == 0x8:
            return


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    request = await reader.readuntil(b"\r\n\r\n")
    lines = request.decode("latin-1").split("\r\n")
    path = lines[0].split(" ")[1]
    key = next(
        line.split(":", 1)[1].strip()
        for line in lines
        if line.lower().startswith("sec-websocket-key")
    )
    accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
    writer.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
    )
    rate, seconds, symbols, sparse = parse_path(path)
    frames = build_frames(symbols, sparse)
    subscribed = asyncio.Event()
    reading = asyncio.create_task(_read_client(reader, subscribed))
    try:
        await asyncio.wait_for(subscribed.wait(), 10)
    except TimeoutError:
        writer.close()
        return
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.monotonic()
    sent = 0
    ring = len(frames)
    lost = False
    next_beat = start
    while True:
        now = time.monotonic()
        elapsed = now - start
        if elapsed >= seconds or reading.done():
            lost = reading.done()
            break
        if now >= next_beat:
            beat = json.dumps({"server_time": int(time.time() * 1000)}).encode()
            writer.write(ws_frame(beat))
            next_beat += HEARTBEAT_SECONDS
        due = min(int(rate * elapsed) + 1, int(rate * seconds))
        if due > sent:
            writer.write(b"".join(frames[i % ring] for i in range(sent, due)))
            sent = due
            try:
                await writer.drain()  # a client that reads slower than offered holds us here
            except (ConnectionError, OSError):
                lost = True
                break
        await asyncio.sleep(0.001)
    wall = time.monotonic() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    frame_bytes = sum(len(f) for f in frames) / ring
    print(
        json.dumps({"offered": rate, "seconds": seconds, "sent": sent, "wall": wall,
                    "achieved": sent / wall if wall else 0.0, "cpu_seconds": cpu,
                    "frame_bytes": frame_bytes, "sparse": sparse, "symbols": symbols,
                    "client_left": lost}),
        flush=True,
    )  # fmt: skip
    try:  # keep the connection open briefly: the client drains what is in flight
        await asyncio.wait_for(reading, 5)
    except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, OSError):
        pass
    writer.close()


async def main() -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", int(os.environ.get("PORT", "0")))
    port = server.sockets[0].getsockname()[1]
    print(f"port {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
