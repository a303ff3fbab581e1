"""Helpers for tests that talk to the simulator over real loopback sockets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from tui.sim.settings import SimSettings

RECV_TIMEOUT = 5.0
"""Seconds a test waits for one expected frame before failing."""


def fast_settings(**overrides: Any) -> SimSettings:
    """Settings for tests: always open, quick steps, short heartbeats."""
    base: dict[str, Any] = {
        "sessions": "always_open",
        "step_seconds": 0.05,
        "speed": 4.0,
        "heartbeat_seconds": 30.0,
        "news_interval_seconds": 30.0,
        "ping_min_gap_seconds": 0.1,  # tests ping fast; the flood test sets the guide's 15 s
    }
    base.update(overrides)
    return SimSettings(**base)


async def open_ws(url: str) -> ClientConnection:
    """A client connection with an inbound limit large enough for 30,000 bars."""
    return await connect(url, max_size=8 * 1024 * 1024, ping_interval=None, open_timeout=5)


async def recv_json(ws: ClientConnection, timeout: float = RECV_TIMEOUT) -> Any:
    """The next frame decoded as JSON (``pong`` returned as the string)."""
    frame = await asyncio.wait_for(ws.recv(), timeout)
    if frame == "pong":
        return "pong"
    return json.loads(frame)


async def recv_until(
    ws: ClientConnection, predicate: Callable[[Any], bool], timeout: float = RECV_TIMEOUT
) -> Any:
    """Read frames until one matches ``predicate``; fail after ``timeout`` seconds."""

    async def loop() -> Any:
        while True:
            frame = await ws.recv()
            value = "pong" if frame == "pong" else json.loads(frame)
            if predicate(value):
                return value

    return await asyncio.wait_for(loop(), timeout)


async def subscribe(ws: ClientConnection, key: str, subs: list[dict[str, Any]]) -> None:
    """Send one subscription message."""
    await ws.send(json.dumps({"api_key": key, "subscriptions": subs}))


def is_error(code: str) -> Callable[[Any], bool]:
    """Predicate for a typed error frame with ``error == code``."""
    return lambda m: isinstance(m, dict) and m.get("error") == code


def is_series(code: str) -> Callable[[Any], bool]:
    """Predicate for a series message of ``code``."""
    return lambda m: isinstance(m, dict) and m.get("code") == code and "series" in m
