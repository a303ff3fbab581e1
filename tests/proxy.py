"""An in-process TCP proxy that can add latency, cut, blackhole or throttle connections.

toxiproxy is not available here; this stands between the engine and the simulator on
loopback so tests can break the network mid-stream.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.sim.server import Simulator


@dataclass
class Toxics:
    """What the proxy does to traffic right now."""

    latency: float = 0.0
    blackhole: bool = False
    bytes_per_second: float | None = None


@dataclass
class ToxicProxy:
    """Forwards 127.0.0.1:<port> to ``upstream``; ``toxics`` apply to every connection."""

    upstream_host: str
    upstream_port: int
    toxics: Toxics = field(default_factory=Toxics)
    connections: int = 0

    def __post_init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Listen on an ephemeral loopback port; returns it."""
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Close everything."""
        self.cut()
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)
        for task in list(self.tasks):
            task.cancel()

    def cut(self) -> None:
        """Abort every proxied connection (both sides see a reset, no close frame)."""
        for client, upstream in list(self.links):
            for writer in (client, upstream):
                writer.transport.abort()
        self.links.clear()

    async def _handle(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
        except OSError:
            client_writer.transport.abort()
            return
        link = (client_writer, up_writer)
        self.links.add(link)
        one = asyncio.create_task(self._pipe(client_reader, up_writer))
        two = asyncio.create_task(self._pipe(up_reader, client_writer))
        self.tasks.update((one, two))
        await asyncio.wait({one, two}, return_when=asyncio.FIRST_COMPLETED)
        for task in (one, two):
            task.cancel()
            self.tasks.discard(task)
        for writer in link:
            writer.transport.abort()
        self.links.discard(link)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                return
            toxics = self.toxics
            if toxics.blackhole:
                continue  # swallowed: the peer sees an open, silent connection
            if toxics.latency:
                await asyncio.sleep(toxics.latency)
            if toxics.bytes_per_second:
                await asyncio.sleep(len(data) / toxics.bytes_per_second)
            writer.write(data)
            await writer.drain()


async def proxied(sim: Simulator) -> tuple[ToxicProxy, str]:
    """A proxy in front of the simulator and the /live URL through it."""
    assert sim.urls is not None
    port = int(sim.urls.live.rsplit(":", 1)[1].split("/")[0])
    proxy = ToxicProxy("127.0.0.1", port)
    proxy_port = await proxy.start()
    return proxy, f"ws://127.0.0.1:{proxy_port}/live"
