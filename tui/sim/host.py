"""What every connection of one simulator shares (:class:`SimHost`), and what it needs of
the connections it keeps (:class:`LiveClient`, :class:`StoryClient`).

The sessions of :mod:`tui.sim.live` and :mod:`tui.sim.feeds` and the REST answers of
:mod:`tui.sim.rest` work on a :class:`SimHost`; :class:`~tui.sim.server.Simulator` adds the
server and its loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from tui.protocol.live import Bar, Quote
from tui.sim.archive import SeriesArchive
from tui.sim.bars import BarSpec
from tui.sim.market import Market, Trade
from tui.sim.news import NewsGenerator, Story
from tui.sim.outbox import ConnectionRecord, Outbox
from tui.sim.settings import Faults, PlanSpec, SimSettings
from tui.sim.universe import UNIVERSE, synthetic_instruments, trades_at

STORY_HISTORY = 200
"""Stories kept for replay on connect."""
RECORD_LIMIT = 20_000
"""Connection records kept (oldest forgotten first)."""
EVICTION_STORM = (3, 60.0)
"""Evictions within this many seconds that make the server refuse instead of evict."""


class LiveClient(Protocol):
    """What the host needs of a ``/live`` connection it admits and feeds."""

    @property
    def key(self) -> str | None: ...

    @property
    def plan(self) -> PlanSpec | None: ...

    @property
    def record(self) -> ConnectionRecord: ...

    @property
    def outbox(self) -> Outbox: ...

    def error(self, code: str, message: str, **extra: Any) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...

    def on_market(
        self,
        trades: dict[str, list[Trade]],
        now: float,
        series: dict[tuple[str, BarSpec], list[list[Bar]]],
    ) -> None: ...


class StoryClient(Protocol):
    """What the host needs of a news connection: each new story."""

    def on_story(self, story: Story) -> None: ...


@dataclass
class SimHost:
    """What every connection of one simulator shares: the market, news, keys and plans,
    throttling, the connection limit, the series archives and the connection records."""

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
        self.live_sessions: list[LiveClient] = []
        self.newsfeed_sessions: set[StoryClient] = set()
        self.stocknews_sessions: set[StoryClient] = set()
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
        self.background: set[asyncio.Task[None]] = set()
        self.archives: dict[tuple[str, BarSpec], SeriesArchive] = {}
        """Series built once from the market, whoever watches (real-time instruments)."""

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

    async def admit_live(self, session: LiveClient) -> bool:
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

    def forget_live(self, session: LiveClient) -> None:
        """Drop a finished session."""
        with contextlib.suppress(ValueError):
            self.live_sessions.remove(session)

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
