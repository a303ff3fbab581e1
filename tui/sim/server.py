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
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from tui.protocol.live import Bar, Quote
from tui.sim.archive import SeriesArchive
from tui.sim.bars import BarSpec
from tui.sim.feeds import NewsfeedSession, StockNewsSession
from tui.sim.live import LiveSession
from tui.sim.market import Market, Trade
from tui.sim.news import NewsGenerator, Story
from tui.sim.outbox import ConnectionRecord
from tui.sim.rest import handle_rest
from tui.sim.settings import (
    DEMO_KEY,
    DEMO_RAPIDAPI_KEY,
    DEMO_STOCKNEWS_TOKEN,
    Faults,
    PlanSpec,
    SimSettings,
)
from tui.sim.universe import UNIVERSE, synthetic_instruments, trades_at

SERVER_MAX_SIZE = 4 * 1024 * 1024
"""Inbound frame limit in bytes: large enough to count 500,000 characters of any UTF-8."""
STORY_HISTORY = 200
"""Stories kept for replay on connect."""
RECORD_LIMIT = 20_000
"""Connection records kept (oldest forgotten first)."""
EVICTION_STORM = (3, 60.0)
"""Evictions within this many seconds that make the server refuse instead of evict."""


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


@dataclass
class Simulator:
    """One simulator instance: market, news, sessions, records and fault switches."""

    settings: SimSettings = field(default_factory=SimSettings)
    faults: Faults = field(default_factory=Faults)

    def __post_init__(self) -> None:
        now = time.time()
        instruments = UNIVERSE + synthetic_instruments(self.settings.synthetic_symbols)
        self.market = Market(
            instruments,
            self.settings.seed,
            now,
            always_open=self.settings.sessions == "always_open",
        )
        self.news = NewsGenerator(self.market, self.settings.seed)
        self.stories: deque[Story] = deque(maxlen=STORY_HISTORY)
        for k in range(30):
            self.stories.append(self.news.make(now - (30 - k) * 137.0))
        self.live_sessions: list[LiveSession] = []
        self.newsfeed_sessions: set[NewsfeedSession] = set()
        self.stocknews_sessions: set[StockNewsSession] = set()
        self.records: deque[ConnectionRecord] = deque(maxlen=RECORD_LIMIT)
        self.issued_keys: dict[str, tuple[str, float]] = {}
        self.issued_per_key: dict[str, list[float]] = {}
        self.message_times: dict[str, deque[float]] = {}
        self.connect_times: dict[str, deque[float]] = {}
        self.delayed_quotes: dict[str, deque[tuple[float, Quote]]] = {}
        """Recent quote snapshots of delayed instruments, for snapshots as of their delay."""
        self.issued_account: dict[str, str] = {}
        """WebSocket key -> the RapidAPI key (account) it was issued to."""
        self.evictions: dict[str, deque[float]] = {}
        self.started_at = now
        self.server: Server | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.background: set[asyncio.Task[None]] = set()
        self.archives: dict[tuple[str, BarSpec], SeriesArchive] = {}
        """Series built once from the market, whoever watches (real-time instruments)."""
        self._urls: SimUrls | None = None

    # ---- keys and plans --------------------------------------------------------------------

    def plan_for(self, key: str) -> PlanSpec | None:
        """The plan of a WebSocket key, or None if unknown or expired."""
        name = self.settings.key_plans.get(key)
        if name is None and key in self.issued_keys:
            plan_name, expires = self.issued_keys[key]
            name = plan_name if expires > time.time() else None
        return self.settings.plans.get(name) if name else None

    def stocknews_expiry(self, token: str) -> float | None:
        """Epoch expiry of a StockNews token, or None if unknown."""
        offset = self.settings.stocknews_tokens.get(token)
        return None if offset is None else self.started_at + offset

    def _keep_delayed(self, trades: dict[str, list[Trade]], now: float) -> None:
        """Remember the quotes of delayed instruments that traded, as long as their delay."""
        for code in trades:
            inst = self.market.instruments[code]
            if inst.delay_seconds <= 0:
                continue
            kept = self.delayed_quotes.setdefault(code, deque())
            kept.append((now, self.market.quote(code, now)))
            horizon = inst.delay_seconds * self.settings.delay_scale + 60.0
            while kept and now - kept[0][0] > horizon:
                kept.popleft()

    def quote_as_of(self, code: str, when: float) -> Quote:
        """The quote of ``code`` as it was at ``when`` (the oldest kept if none is older;
        the current one for a real-time instrument or before any trade)."""
        kept = self.delayed_quotes.get(code)
        if not kept:
            return self.market.quote(code, time.time())
        chosen = kept[0][1]
        for moment, quote in kept:
            if moment > when:
                break
            chosen = quote
        return chosen

    def account_for(self, key: str) -> str:
        """The account a key belongs to: a RapidAPI-issued WebSocket key counts against the
        RapidAPI key it came from (throttling is per account, guide section 2)."""
        return self.issued_account.get(key, key)

    def throttle_delay(self, key: str) -> float:
        """Seconds to delay this account's message: grows past 120 per 3 hours (section 2)."""
        return self._progressive(self.message_times, key, self.settings.messages_per_window)

    def reconnect_delay(self, key: str) -> float:
        """Seconds to delay this account's new connection: "rapid reconnections from the same
        account are throttled the same way" (section 2)."""
        return self._progressive(self.connect_times, key, self.settings.connects_per_window)

    def _progressive(self, log: dict[str, deque[float]], key: str, allowed: int) -> float:
        """The guide's progressive delay; with the ``throttle_errors`` switch, a refusal is
        not counted and its delay is when the window next has room (so waiting as told
        works)."""
        now = time.time()
        times = log.setdefault(self.account_for(key), deque())
        window = self.settings.window_seconds
        while times and now - times[0] > window:
            times.popleft()
        times.append(now)
        excess = len(times) - allowed
        if excess <= 0:
            return 0.0
        if self.faults.throttle_errors:
            times.pop()
            return max(0.05, window - (now - times[0]) + 0.01)
        return min(self.settings.throttle_max_seconds, excess * self.settings.throttle_step_seconds)

    async def admit_live(self, session: LiveSession) -> bool:
        """Enforce the key's connection limit by evicting its oldest connection."""
        key, plan = session.key, session.plan
        assert key is not None and plan is not None
        same = [s for s in self.live_sessions if s.key == key]
        if len(same) < plan.connections:
            self.live_sessions.append(session)
            return True
        now = time.time()
        recent = self.evictions.setdefault(key, deque())
        while recent and now - recent[0] > EVICTION_STORM[1]:
            recent.popleft()
        if len(recent) >= EVICTION_STORM[0]:
            session.error(
                "max_connections_exceeded",
                "Too many concurrent connections for your account.",
                details={"current": len(same) + 1, "allowed": plan.connections},
            )
            await session.close(1008, "max_connections_exceeded")
            return False
        oldest = same[0]
        recent.append(now)
        oldest.record.evicted = True
        self.live_sessions.remove(oldest)
        oldest.error(
            "connection_evicted", "A newer connection from your account replaced this one."
        )
        closing = asyncio.create_task(oldest.close(1000, "connection_evicted"))
        self.background.add(closing)
        closing.add_done_callback(self.background.discard)
        self.live_sessions.append(session)
        return True

    def forget_live(self, session: LiveSession) -> None:
        """Drop a finished session."""
        with contextlib.suppress(ValueError):
            self.live_sessions.remove(session)

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

    def archive_for(self, code: str, spec: BarSpec) -> SeriesArchive:
        """The one series every subscriber of (``code``, ``spec``) streams (made on first use)."""
        key = (code, spec)
        archive = self.archives.get(key)
        if archive is None:
            now = time.time()
            archive = self.archives[key] = SeriesArchive(
                self.market.instruments[code],
                spec,
                self.market.price(code),
                now,
                seed=self.settings.seed,
                always_open=self.market.always_open,
            )
        return archive

    def _step_archives(
        self, trades: dict[str, list[Trade]], now: float
    ) -> dict[tuple[str, BarSpec], list[list[Bar]]]:
        """Advance every kept series by one market step; its messages by (code, spec)."""
        out: dict[tuple[str, BarSpec], list[list[Bar]]] = {}
        market = self.market
        for (code, spec), archive in self.archives.items():
            inst = market.instruments[code]
            mine = trades.get(code, [])
            regular_only = not spec.extended and inst.asset in ("stock", "etf")
            if regular_only and mine and market.quote(code, now).status != "REG":
                mine = []
            trading = trades_at(
                inst.asset, now, extended=spec.extended, always_open=market.always_open
            )
            out[(code, spec)] = archive.step(mine, now, trading=trading)
        return out

    async def _news_loop(self) -> None:
        """Publish a story every ``news_interval_seconds / speed``."""
        while True:
            await asyncio.sleep(self.settings.news_interval_seconds / self.settings.speed)
            self.publish(self.news.make(time.time()))

    def publish(self, story: Story) -> None:
        """Send a story to every news connection."""
        self.stories.append(story)
        for session in list(self.newsfeed_sessions):
            session.on_story(story)
        for sn in list(self.stocknews_sessions):
            sn.on_story(story)

    def records_for(self, endpoint: str) -> list[ConnectionRecord]:
        """Connection records of one endpoint, oldest first."""
        return [r for r in self.records if r.endpoint == endpoint]

    def errors_sent(self, code: str, endpoint: str = "live") -> int:
        """How many error frames with ``code`` went out on ``endpoint``, over all connections."""
        return sum(r.errors.count(code) for r in self.records_for(endpoint))


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
