"""A scripted hostile server: the three WebSocket endpoints, answering with crafted text.

Every string field it sends carries terminal control sequences, markup, bidi overrides and wide
characters. It records the close code of every connection, so exits can be checked too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

CLEAR_SCREEN = "\x1b[2J"
SET_TITLE = "\x1b]0;PWNED-TITLE\x07"
CLIPBOARD = "\x1b]52;c;cHduZWQ=\x07"
HYPERLINK = "\x1b]8;;http://evil.invalid\x1b\\link\x1b]8;;\x1b\\"
C1_CSI = "\x9b2J"
BIDI = "\u202egnp.exe"
MARKUP_CLICK = "[@click=app.quit]CLICKME[/]"
MARKUP_UNBALANCED = "bad [/] close"
WIDE = "株式会社トヨタ🚀"

HOSTILE = (
    f"A{CLEAR_SCREEN}B{SET_TITLE}C{CLIPBOARD}D{HYPERLINK}E{C1_CSI}F{BIDI} "
    f"{MARKUP_CLICK} {MARKUP_UNBALANCED} {WIDE}\x07\x08\r\n\t\x7f"
)
"""One string with every kind of trouble in it."""
RAW_OUTPUT_MARKERS = ("\x1b]0;PWNED", "\x1b]52;c;", "\x1b]8;;http://evil", "\x1b[2JB")
"""What would appear in the terminal's raw output if feed text reached it unescaped (the
title and clipboard payloads are unique to the hostile text)."""


@dataclass
class HostileServer:
    """``/live``, ``/newsfeed`` and ``/ws`` on 127.0.0.1, every string field hostile."""

    text: str = HOSTILE
    heartbeat_offset_ms: float = 0.0
    """Added to ``server_time``: positive is a server clock in the future."""
    quote_extra: dict[str, object] = field(default_factory=dict)
    """Fields laid over every quote (``{"delay_seconds": 900.0}``)."""
    close_codes: dict[str, list[int | None]] = field(default_factory=dict)
    server: Server | None = None
    port: int = 0

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    async def start(self) -> None:
        self.server = await serve(self._handle, "127.0.0.1", 0, max_size=2**20)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        path = ws.request.path.split("?", 1)[0] if ws.request is not None else ""
        codes = self.close_codes.setdefault(path, [])
        index = len(codes)
        codes.append(None)
        try:
            if path == "/live":
                await self._live(ws)
            elif path == "/newsfeed":
                await self._newsfeed(ws)
            else:
                await self._stocknews(ws)
        except ConnectionClosed:
            pass
        finally:
            received = ws.protocol.close_rcvd
            codes[index] = received.code if received is not None else None

    async def _live(self, ws: ServerConnection) -> None:
        await ws.send(json.dumps({"message": "Connecting...", "server": "hostile"}))
        request = json.loads(await ws.recv())
        codes = [s["code"] for s in request.get("subscriptions", [])]
        text = self.text
        await ws.send(json.dumps({"error": "bad_request", "message": text}))
        await ws.send(json.dumps({"message": text}))
        now_ms = time.time() * 1000
        quotes = [
            {
                "code": code,
                "status": text,
                "last_price": 1e300 if i == 0 else 123456789012345678901234567890.0,
                "volume": 1e300,
                "change": 1.5,
                "change_percent": 0.5,
                "currency_code": text,
                "delay_seconds": 0,
                "lp_time": now_ms / 1000,
                **self.quote_extra,
            }
            for i, code in enumerate(codes)
        ]
        frame = {"last_update": now_ms, "total_items": len(quotes), "data": quotes}
        await ws.send(json.dumps(frame))
        while True:
            server_ms = time.time() * 1000 + self.heartbeat_offset_ms
            await ws.send(json.dumps({"server_time": server_ms}))
            with contextlib.suppress(TimeoutError):
                reply = await asyncio.wait_for(ws.recv(), 1.0)
                if reply == "ping":
                    await ws.send("pong")

    async def _newsfeed(self, ws: ServerConnection) -> None:
        await ws.recv()  # the auth message
        await ws.send(
            json.dumps(
                {
                    "title": self.text,
                    "content": self.text,
                    "link": f"https://news.invalid/{self.text}",
                    "published_at": time.time(),
                    "related_symbols": ["NASDAQ:AAPL", self.text],
                    "source": self.text,
                }
            )
        )
        await self._idle(ws)

    async def _stocknews(self, ws: ServerConnection) -> None:
        text = self.text
        await ws.send(json.dumps({"type": "connected", "message": text}))
        data: dict[str, Any] = {
            "ticker": "AAPL",
            "sentimentScore": 0.7,
            "sentimentLabel": text,
            "confidence": 0.9,
            "summary": f"Story two {text}",
            "content": text,
            "category": text,
            "stockTickers": ["AAPL", text],
            "keyFactors": [text, text],
            "articleUrl": f"https://sn.invalid/{text}",
            "channel": text,
            "price": 1.0,
            "priceFormatted": text,
            "marketCap": text,
            "sector": text,
        }
        # raw UTF-8 this time (C1 controls and all), not \u escapes
        await ws.send(json.dumps({"type": "news", "data": data}, ensure_ascii=False))
        await self._idle(ws)

    async def _idle(self, ws: ServerConnection) -> None:
        async for frame in ws:
            if isinstance(frame, str) and "ping" in frame:
                await ws.send(json.dumps({"type": "pong"}) if frame.startswith("{") else "pong")


@contextlib.asynccontextmanager
async def run_hostile(**options: Any) -> AsyncIterator[HostileServer]:
    """A hostile server for the length of the block."""
    server = HostileServer(**options)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


class HostileThread:
    """A hostile server on its own thread (for tests that run the console script)."""

    def __init__(self, **options: Any) -> None:
        self.server = HostileServer(**options)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self.server.start())
        self._ready.set()
        self._loop.run_forever()

    def start(self) -> HostileServer:
        self._thread.start()
        self._ready.wait(10)
        return self.server

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
