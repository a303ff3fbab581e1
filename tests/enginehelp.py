"""Helpers to run the real engine against the simulator."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tui.config import Config, Endpoints
from tui.engine.engine import Engine, EngineSettings
from tui.engine.status import FeedStatus
from tui.engine.store import MarketStore
from tui.protocol.live import Subscription
from tui.secrets import Keys, Secret
from tui.session.session import Session, SessionOptions
from tui.sim.server import Simulator
from tui.sim.settings import DEMO_KEY, DEMO_STOCKNEWS_TOKEN


def sim_config(sim: Simulator) -> Config:
    """A config pointing every endpoint at ``sim`` (mega plan limits)."""
    urls = sim.urls
    assert urls is not None
    config = Config()
    config.endpoints = Endpoints(
        live_url=urls.live,
        newsfeed_url=urls.newsfeed,
        stocknews_url=urls.stocknews,
        rest_url=urls.rest,
        rapidapi_url=urls.rest,
    )
    config.plan.subscriptions = 12
    config.plan.max_dp = 30_000
    return config


def make_engine(
    sim: Simulator,
    *,
    state_dir: Path | None = None,
    api_key: str | None = DEMO_KEY,
    rapidapi_key: str | None = None,
    stocknews_token: str | None = DEMO_STOCKNEWS_TOKEN,
    record_path: Path | None = None,
    **settings: Any,
) -> Engine:
    """An engine wired to the simulator with fast test timings."""
    keys = Keys(
        insightsentry_api_key=Secret(api_key) if api_key else None,
        insightsentry_rapidapi_key=Secret(rapidapi_key) if rapidapi_key else None,
        stocknews_token=Secret(stocknews_token) if stocknews_token else None,
    )
    base: dict[str, Any] = {"debounce": 0.1, "ui_hz": 50.0}
    base.update(settings)
    return Engine(
        sim_config(sim),
        keys,
        settings=EngineSettings(**base),
        state_dir=state_dir,
        record_path=record_path,
    )


async def start_engine(engine: Engine) -> asyncio.Task[None]:
    """Run ``engine`` as a task of the running loop."""
    return asyncio.create_task(engine.run())


async def finish_engine(engine: Engine, task: asyncio.Task[None]) -> None:
    """Stop ``engine`` and wait (10 s at most) for its task to end."""
    engine.stop()
    await asyncio.wait_for(task, 10)


async def wait_for(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll ``predicate`` every 20 ms; fail with TimeoutError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)


def quotes(*codes: str) -> list[Subscription]:
    """Quote subscriptions for ``codes``."""
    return [Subscription(code=c, type="quote") for c in codes]


def rapidapi_engine(sim: Simulator, state_dir: Path, **settings: Any) -> Engine:
    """A /live-only engine that gets its WebSocket key from ``/v2/websocket-key``."""
    from tui.sim.settings import DEMO_RAPIDAPI_KEY

    return make_engine(
        sim,
        api_key=None,
        rapidapi_key=DEMO_RAPIDAPI_KEY,
        stocknews_token=None,
        newsfeed=False,
        state_dir=state_dir,
        **settings,
    )


class StaticSession(Session):
    """A session that shows a fixed store and statuses and never connects (snapshots)."""

    def __init__(
        self, options: SessionOptions, store: MarketStore, statuses: list[FeedStatus]
    ) -> None:
        self.store, self.statuses = store, statuses
        super().__init__(options)

    def _own_engine(self) -> Engine | None:
        return None

    def shown_store(self) -> MarketStore:
        return self.store

    def shown_statuses(self) -> list[FeedStatus]:
        return self.statuses


def live_only(sim: Simulator, **settings: Any) -> Engine:
    """An engine with only the /live feed."""
    return make_engine(sim, newsfeed=False, stocknews=False, **settings)


def open_fds() -> int:
    """File descriptors this process holds."""
    return len(os.listdir("/proc/self/fd"))
