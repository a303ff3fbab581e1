"""The simulator's server: one ``websockets`` server on loopback for every endpoint.

Paths: ``/live`` and ``/newsfeed`` (InsightSentry), ``/ws`` (StockNews), and the REST paths
``/v2/...`` and ``/v3/...`` answered from ``process_request``. :func:`run_simulator` is the
in-process async context manager; :class:`SimulatorThread` runs one on its own thread and
event loop so a busy UI never slows the market.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from tui.sim.feeds import NewsfeedSession, StockNewsSession
from tui.sim.host import SimHost
from tui.sim.live import LiveSession
from tui.sim.outbox import ConnectionRecord
from tui.sim.rest import handle_rest
from tui.sim.settings import DEMO_KEY, DEMO_RAPIDAPI_KEY, DEMO_STOCKNEWS_TOKEN, Faults, SimSettings

SERVER_MAX_SIZE = 4 * 1024 * 1024
"""Inbound frame limit in bytes: large enough to count 500,000 characters of any UTF-8."""


@dataclass(frozen=True)
class SimUrls:
    """Where a running simulator listens, and the demo credentials for it."""

    live: str
    newsfeed: str
    stocknews: str
    rest: str
    api_key: str = DEMO_KEY
    rapidapi_key: str = DEMO_RAPIDAPI_KEY
    stocknews_token: str = DEMO_STOCKNEWS_TOKEN


class Simulator(SimHost):
    """One simulator instance: the shared state of :class:`SimHost`, served on loopback."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.server: Server | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self._urls: SimUrls | None = None

    # ---- server ----------------------------------------------------------------------------

    async def _process_request(self, ws: ServerConnection, request: Request) -> Response | None:
        """REST paths and handshake faults; ``None`` lets the WebSocket handshake proceed."""
        path = request.path.split("?", 1)[0]
        if path.startswith(("/v2/", "/v3/", "/sim/")):
            return await handle_rest(self, ws, request)
        if path not in ("/live", "/newsfeed", "/ws"):
            return ws.respond(404, f"No endpoint at {path}\n")
        status = self.faults.refuse_handshake
        if status:
            response = ws.respond(status, f"Handshake refused ({status})\n")
            if self.faults.retry_after_header is not None:
                response.headers["Retry-After"] = str(self.faults.retry_after_header)
            return response
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        """Route a new connection by path."""
        path = ws.request.path.split("?", 1)[0] if ws.request else ""
        endpoint = {"/live": "live", "/newsfeed": "newsfeed", "/ws": "stocknews"}[path]
        record = ConnectionRecord(endpoint=endpoint, opened_at=time.time())
        self.records.append(record)
        try:
            if self.faults.accept_then_close:
                record.close_code_sent = self.faults.close_code or 1000
                await ws.close(record.close_code_sent, "simulated accept-then-close")
                return
            if endpoint == "live":
                await LiveSession(self, ws, record).run()
            elif endpoint == "newsfeed":
                await NewsfeedSession(self, ws, record).run()
            else:
                await StockNewsSession(self, ws, record).run()
        finally:
            record.closed_at = time.time()
            received = ws.protocol.close_rcvd
            if received is not None:
                record.close_code_received = received.code

    async def start(self) -> SimUrls:
        """Listen on the configured host and port (0: an ephemeral port)."""
        self.server = await serve(
            self._handler,
            self.settings.host,
            self.settings.port,
            process_request=self._process_request,
            max_size=SERVER_MAX_SIZE,
            ping_interval=None,
            compression=None,
            close_timeout=2,
        )
        sock = next(iter(self.server.sockets))
        host, port = sock.getsockname()[:2]
        base = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
        self._urls = SimUrls(
            live=f"ws://{base}/live",
            newsfeed=f"ws://{base}/newsfeed",
            stocknews=f"ws://{base}/ws",
            rest=f"http://{base}",
        )
        self.tasks = [
            asyncio.create_task(self._market_loop()),
            asyncio.create_task(self._news_loop()),
        ]
        return self._urls

    @property
    def urls(self) -> SimUrls:
        """Where the running simulator listens (an error before :meth:`start`)."""
        if self._urls is None:
            raise RuntimeError("the simulator has not started")
        return self._urls

    async def stop(self) -> None:
        """Stop the loops and the server."""
        for task in self.tasks:
            task.cancel()
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 5)

    async def _market_loop(self) -> None:
        """Advance the market each step and fan out to every live session."""
        step = self.settings.step_seconds
        while True:
            await asyncio.sleep(step)
            if self.settings.market_paused:
                continue
            now = time.time()
            trades = self.market.step(now, step * self.settings.speed)
            self._keep_delayed(trades, now)
            series = self._step_archives(trades, now)
            for session in list(self.live_sessions):
                session.on_market(trades, now, series)

    def trade(self, code: str, price: float, size: float = 1.0) -> None:
        """A scripted trade of ``code`` at ``price``, sent at once to every subscriber as a
        market step with that one trade (set ``market_paused`` for prices only the script
        moves). Call on the simulator's event loop."""
        now = time.time()
        trades = {code: [self.market.state(code).force_trade(now, price, size)]}
        self._keep_delayed(trades, now)
        series = self._step_archives(trades, now)
        for session in list(self.live_sessions):
            session.on_market(trades, now, series)

    async def _news_loop(self) -> None:
        """Publish a story every ``news_interval_seconds / speed``."""
        while True:
            await asyncio.sleep(self.settings.news_interval_seconds / self.settings.speed)
            self.publish(self.news.make(time.time()))


@contextlib.asynccontextmanager
async def run_simulator(
    settings: SimSettings | None = None, faults: Faults | None = None
) -> AsyncIterator[Simulator]:
    """Start a simulator on 127.0.0.1 and an ephemeral port; stop it on exit."""
    sim = Simulator(settings or SimSettings(), faults or Faults())
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


class SimulatorThread:
    """A simulator on its own thread and event loop (the dashboard's demo mode)."""

    def __init__(self, settings: SimSettings | None = None, faults: Faults | None = None) -> None:
        self.sim = Simulator(settings or SimSettings(), faults or Faults())
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="marketpane-sim", daemon=True)

    @property
    def urls(self) -> SimUrls:
        """The running simulator's URLs."""
        return self.sim.urls

    def start(self, timeout: float = 10.0) -> SimUrls:
        """Start and wait until it listens."""
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("simulator did not start in time")
        if self._error is not None:
            raise RuntimeError(f"simulator failed to start: {self._error}")
        return self.urls

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            await self.sim.start()
        except BaseException as exc:  # reported to the caller of start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        await self._stop.wait()
        await self.sim.stop()

    def trade(self, code: str, price: float, size: float = 1.0) -> None:
        """:meth:`Simulator.trade` from another thread (waits until it was sent)."""
        assert self._loop is not None
        done = threading.Event()

        def run() -> None:
            try:
                self.sim.trade(code, price, size)
            finally:
                done.set()

        self._loop.call_soon_threadsafe(run)
        done.wait(5)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the simulator and join its thread."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
