"""Issue 14: the client against the guide's sentences, over loopback with the simulator."""

from __future__ import annotations

import asyncio
import itertools

import msgspec

from tests.enginehelp import make_engine, quotes, wait_for
from tests.simhelp import fast_settings
from tui.engine.engine import Engine
from tui.engine.status import FeedState
from tui.protocol.live import QuoteUpdate, SeriesUpdate, Subscription, dispatch_live
from tui.sim.server import run_simulator


async def _stop(engine: Engine, task: asyncio.Task[None]) -> None:
    engine.stop()
    await asyncio.wait_for(task, 10)


async def test_every_trade_of_a_tick_series_is_kept() -> None:
    """Guide section 3: tick series are "pushed for every individual trade": rows that share a
    timestamp are separate trades and all are kept (bars with the same time merge)."""
    code = "BINANCE:BTCUSDT"
    async with run_simulator(fast_settings(step_seconds=0.02, speed=8.0)) as sim:
        engine = make_engine(sim, newsfeed=False, stocknews=False)
        rows: list[int] = []
        times: list[float] = []

        def count(feed: str, frame: str | bytes, now: float) -> None:
            event = dispatch_live(frame)
            if isinstance(event, SeriesUpdate) and event.code == code:
                rows.append(len(event.series))
                times.extend(bar.time for bar in event.series)

        def shared_timestamps() -> int:
            return sum(1 for a, b in itertools.pairwise(times) if a == b)

        engine.frame_observers.append(count)
        tick = Subscription(code=code, type="series", bar_type="tick", bar_interval=1, max_dp=50)
        engine.set_desired([tick])
        task = asyncio.create_task(engine.run())
        await wait_for(lambda: sum(rows) > 200 and shared_timestamps() > 0, 30)
        await asyncio.sleep(0.1)
        engine.stop()
        await asyncio.wait_for(task, 10)
        assert len(engine.store.series[code].bars) == sum(rows)


async def test_nothing_to_subscribe_means_no_live_socket() -> None:
    """Guide section 2: an empty list is refused, "to stop all data, disconnect"; a socket that
    never subscribes is closed after 5 minutes. No socket while nothing is wanted; the last
    symbol removed closes it with 1000; a symbol added dials again."""
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim, newsfeed=False, stocknews=False)
        task = asyncio.create_task(engine.run())
        live = engine.feeds[0]
        await wait_for(lambda: live.status.state is FeedState.IDLE)
        await asyncio.sleep(0.5)
        assert not sim.records_for("live")
        engine.set_desired(quotes("NASDAQ:AAPL"))
        await wait_for(lambda: "NASDAQ:AAPL" in engine.store.quotes)
        assert engine.set_desired([]) is None
        await wait_for(lambda: sim.records_for("live")[0].close_code_received == 1000)
        await wait_for(lambda: live.status.state is FeedState.IDLE)
        await asyncio.sleep(0.5)
        assert len(sim.records_for("live")) == 1
        assert live.status.reconnects == 0
        engine.set_desired(quotes("NASDAQ:MSFT"))
        await wait_for(lambda: "NASDAQ:MSFT" in engine.store.quotes)
        assert len(sim.records_for("live")) == 2
        await _stop(engine, task)


async def test_only_changed_series_wait_for_a_new_history() -> None:
    """Guide section 2 (each message replaces the set) and section 3 (history on subscribe):
    a watchlist edit that leaves the charted series unchanged does not mark it as awaiting a
    history, so whatever the server sends for it merges into the buffer."""
    series = Subscription(code="NASDAQ:AAPL", type="series", bar_type="minute", max_dp=200)
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim, newsfeed=False, stocknews=False)
        engine.set_desired([*quotes("FX:EURUSD"), series])
        task = asyncio.create_task(engine.run())
        live = engine.feeds[0]
        await wait_for(
            lambda: (
                "NASDAQ:AAPL" in engine.store.series
                and len(engine.store.series["NASDAQ:AAPL"].bars) > 100
            )
        )
        loaded = engine.store.series["NASDAQ:AAPL"].loaded_at
        engine.set_desired([*quotes("FX:EURUSD", "NASDAQ:MSFT"), series])
        await wait_for(lambda: "NASDAQ:MSFT" in engine.store.quotes)
        assert "NASDAQ:AAPL" not in live.awaiting_history  # type: ignore[attr-defined]
        assert engine.store.series["NASDAQ:AAPL"].loaded_at == loaded
        assert len(engine.store.series["NASDAQ:AAPL"].bars) > 100
        changed = msgspec.structs.replace(series, bar_interval=5)
        engine.set_desired([*quotes("FX:EURUSD", "NASDAQ:MSFT"), changed])
        await wait_for(lambda: engine.store.series["NASDAQ:AAPL"].loaded_at > loaded)
        await _stop(engine, task)


def test_numbers_as_the_server_writes_them() -> None:
    """Guide section 3 types ``delay_seconds`` and ``total_items`` as integers; servers write
    ``900.0``. Such a frame is decoded whole, and a value no field accepts is left out and
    counted, never costing the frame (issue 14.7)."""
    frame = msgspec.json.encode(
        {
            "last_update": 1.0,
            "total_items": 1.0,
            "data": [
                {"code": "A:B", "delay_seconds": 900.0, "last_price": 10.5},
                {"code": "C:D", "last_price": "n/a", "volume": 12},
            ],
        }
    )
    event = dispatch_live(frame)
    assert isinstance(event, QuoteUpdate), event
    assert [q.code for q in event.data] == ["A:B", "C:D"]
    assert event.data[0].delay_seconds == 900.0 and event.data[1].volume == 12
    assert event.data[1].last_price is None and event.unusable == 1
