"""Over loopback: WebSocket key rotation that never hammers the
vendor, state that cannot be saved is told once, and a crash still closes with 1000."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path

from tests.enginehelp import make_engine, quotes, wait_for
from tests.simhelp import fast_settings
from tests.uihelp import engine_of, sim_app
from tui.cli.launch import run_until_closed
from tui.engine.engine import Engine
from tui.engine.keys import KEYS_PER_DAY
from tui.engine.status import FeedState
from tui.sim.server import Simulator, SimulatorThread, run_simulator
from tui.sim.settings import DEMO_RAPIDAPI_KEY


def _rapid(sim: Simulator, state_dir: Path, *, newsfeed: bool = True) -> Engine:
    """An engine whose /live and /newsfeed keys both come from ``/v2/websocket-key``."""
    return make_engine(
        sim,
        api_key=None,
        rapidapi_key=DEMO_RAPIDAPI_KEY,
        stocknews_token=None,
        newsfeed=newsfeed,
        state_dir=state_dir,
    )


def _issued(sim: Simulator) -> int:
    return len(sim.issued_per_key.get(DEMO_RAPIDAPI_KEY, []))


async def _stop(engine: Engine, task: asyncio.Task[None]) -> None:
    engine.stop()
    await asyncio.wait_for(task, 10)


async def test_live_and_newsfeed_share_one_key_fetch(isolated_paths: Path) -> None:
    """The two feeds asking at once at start-up get one key between them."""
    async with run_simulator(fast_settings()) as sim:
        engine = _rapid(sim, isolated_paths / "state")
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = asyncio.create_task(engine.run())
        await wait_for(lambda: all(f.status.state is FeedState.LIVE for f in engine.feeds))
        await wait_for(lambda: "NASDAQ:AAPL" in engine.store.quotes)
        assert _issued(sim) == 1
        assert engine.rest.calls == 1
        await _stop(engine, task)


async def test_short_lived_key_is_used_until_it_expires(isolated_paths: Path) -> None:
    """A key issued with less than the 24 h margin is not re-fetched on every
    reconnect (it was: 7 fetches in 30 s)."""
    async with run_simulator(fast_settings(ws_key_lifetime_seconds=3600)) as sim:
        engine = _rapid(sim, isolated_paths / "state", newsfeed=False)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = asyncio.create_task(engine.run())
        live = engine.feeds[0]
        for connects in range(1, 5):
            await wait_for(lambda c=connects: live.status.connects >= c)  # type: ignore[misc]
            await wait_for(lambda: live.status.state is FeedState.LIVE)
            engine.reconnect()
        assert _issued(sim) == 1
        await _stop(engine, task)


async def test_transient_429_backs_off_by_retry_after_and_keeps_trying(
    isolated_paths: Path,
) -> None:
    """After a 429 the feed waits as ``Retry-After`` says, says so, never stops
    for good, and connects once the server gives a key again."""
    async with run_simulator(fast_settings()) as sim:
        sim.faults.rest_status, sim.faults.retry_after_header = 429, 1
        engine = _rapid(sim, isolated_paths / "state", newsfeed=False)
        engine.keys.backoff_steps = (0.2, 0.2, 0.2)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = asyncio.create_task(engine.run())
        live = engine.feeds[0]
        calls: list[float] = []
        seen = 0
        deadline = time.monotonic() + 3.5
        while time.monotonic() < deadline:
            if engine.rest.calls != seen:
                seen = engine.rest.calls
                calls.append(time.monotonic())
            assert live.status.state is not FeedState.STOPPED, live.status.detail
            await asyncio.sleep(0.01)
        assert 2 <= len(calls) <= 4, calls
        gaps = [b - a for a, b in itertools.pairwise(calls)]
        assert all(gap >= 0.95 for gap in gaps), gaps  # Retry-After: 1 beats our 0.2 s
        assert "WebSocket key" in (live.status.last_error or ""), live.status.last_error
        sim.faults.rest_status = None
        await wait_for(lambda: "NASDAQ:AAPL" in engine.store.quotes, 10)
        assert _issued(sim) == 1
        await _stop(engine, task)


async def test_daily_cap_is_counted_across_restarts(isolated_paths: Path) -> None:
    """Ten fetches in the last day, stored by an earlier run, mean no eleventh:
    the feed waits (saying when) instead of asking or stopping."""
    state = isolated_paths / "state"
    state.mkdir(parents=True)
    now = time.time()
    stamps = [now - 3600 - i for i in range(KEYS_PER_DAY)]
    (state / "websocket-key.json").write_text(json.dumps({"api_key": None, "fetched": stamps}))
    async with run_simulator(fast_settings()) as sim:
        engine = _rapid(sim, state, newsfeed=False)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = asyncio.create_task(engine.run())
        live = engine.feeds[0]
        await wait_for(lambda: "daily limit" in (live.status.last_error or ""))
        await asyncio.sleep(0.5)
        assert engine.rest.calls == 0 and _issued(sim) == 0
        assert live.status.state is FeedState.RECONNECTING
        assert live.status.retry_at is not None and live.status.retry_at - time.time() > 3600
        await _stop(engine, task)


async def test_unwritable_state_is_told_once(isolated_paths: Path) -> None:
    """A budget that cannot be saved is said once, on screen and in the log."""
    blocker = isolated_paths / "not-a-folder"
    blocker.write_text("a file where the state folder should be")
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim, state_dir=blocker / "state", newsfeed=False, stocknews=False)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = asyncio.create_task(engine.run())
        await wait_for(lambda: engine.feeds[0].status.subscriptions_sent >= 1)
        engine.set_desired(quotes("NASDAQ:AAPL", "NASDAQ:MSFT"))
        await wait_for(lambda: engine.feeds[0].status.subscriptions_sent >= 2)
        told = [n for n in engine.notice_log if "cannot save the subscription budget" in n.text]
        assert len(told) == 1, list(engine.notice_log)
        assert "restart" in told[0].text
        await _stop(engine, task)


def test_a_crash_closes_every_socket_with_1000_and_exits_non_zero() -> None:
    """A crash inside the app exits 1, after every socket closed
    with 1000, on the app's own event loop as the console script runs it."""
    simulator = SimulatorThread(fast_settings())
    simulator.start()
    sim = simulator.sim
    try:
        app = sim_app(sim)

        def crash_when_live() -> None:
            engine = engine_of(app)
            if engine is not None and all(feed.ws is not None for feed in engine.feeds):
                raise RuntimeError("boom")

        app.call_later(lambda: app.set_interval(0.05, crash_when_live))
        assert run_until_closed(app, headless=True) == 1
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(
            r.close_code_received is None for r in sim.records
        ):
            time.sleep(0.05)
        for endpoint in ("live", "newsfeed", "stocknews"):
            codes = [r.close_code_received for r in sim.records_for(endpoint)]
            assert codes and all(code == 1000 for code in codes), (endpoint, codes)
    finally:
        simulator.stop()
