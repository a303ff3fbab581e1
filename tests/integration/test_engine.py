"""The feed engine against the simulator over real loopback sockets.

Each test names the rule it checks (issue: the feed engine; guide sections cited).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Collection
from pathlib import Path

import pytest

from tests.enginehelp import (
    finish_engine,
    live_only,
    make_engine,
    quotes,
    rapidapi_engine,
    start_engine,
    wait_for,
)
from tests.simhelp import fast_settings
from tui.engine.budget import SubscriptionBudget
from tui.engine.status import Batch, FeedState
from tui.protocol.live import Subscription
from tui.sim.server import run_simulator
from tui.sim.settings import DEMO_SMALL_KEY, Faults


async def test_quotes_series_and_news_reach_the_store() -> None:
    """Rule: after connect the full subscription is sent; data lands in the store."""
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim)
        series = Subscription(
            code="BINANCE:BTCUSDT", type="series", bar_type="second", bar_interval=1, max_dp=200
        )
        engine.set_desired([*quotes("NASDAQ:AAPL", "FX:EURUSD"), series])
        task = await start_engine(engine)
        store = engine.store
        await wait_for(lambda: {"NASDAQ:AAPL", "FX:EURUSD"} <= set(store.quotes))
        await wait_for(lambda: "BINANCE:BTCUSDT" in store.series)
        assert len(store.series["BINANCE:BTCUSDT"].bars) >= 200
        await wait_for(lambda: len(store.news) >= 10)  # guide section 1: 10 most recent
        await wait_for(lambda: len(sim.stocknews_sessions) == 1)
        sim.publish(sim.news.make(time.time()))
        # one story from both sources is one item, keeping both as its origin
        await wait_for(lambda: any(n.origin == "newsfeed+stocknews" for n in store.news))
        assert len([n for n in store.news if "newsfeed" in n.origin]) == 11
        aapl = store.quotes["NASDAQ:AAPL"]
        assert aapl.get("prev_close_price") is not None and aapl.get("delay_seconds") == 0
        await finish_engine(engine, task)


async def test_sparse_quotes_never_blank_known_fields() -> None:
    """Rule: quotes merged by code; sparse updates fill in, never blank out."""
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim, stocknews_token=None)
        engine.set_desired(quotes("BINANCE:BTCUSDT"))
        task = await start_engine(engine)
        await wait_for(lambda: "BINANCE:BTCUSDT" in engine.store.quotes)
        row = engine.store.quotes["BINANCE:BTCUSDT"]
        await wait_for(lambda: len(row.spark) >= 1 and row.values.get("prev_close_price"))
        assert row.get("prev_close_price") is not None and row.get("market_cap") is None
        assert row.get("currency_code") == "USDT"
        await finish_engine(engine, task)


async def test_1008_is_not_retried_in_a_loop(isolated_paths: Path) -> None:
    """Rule: auth failure (close 1008) stops the feed after at most one key refresh."""
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim, api_key="wrong-key", stocknews_token="wrong-token")
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await start_engine(engine)
        await wait_for(lambda: all(f.status.state is FeedState.STOPPED for f in engine.feeds))
        await asyncio.sleep(1.0)
        assert len(sim.records_for("live")) == 1
        assert len(sim.records_for("stocknews")) == 1
        assert any("stocknews stopped" in n.text for n in engine.notice_log)
        await finish_engine(engine, task)


async def test_rapidapi_auth_failure_refreshes_once_then_stops(isolated_paths: Path) -> None:
    """Rule: at most one key refresh on auth failure; 401/403 from key rotation is final."""
    async with run_simulator(fast_settings()) as sim:
        engine = rapidapi_engine(sim, isolated_paths / "state")
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await start_engine(engine)
        await wait_for(lambda: "NASDAQ:AAPL" in engine.store.quotes)
        stored = isolated_paths / "state" / "websocket-key.json"
        assert stored.stat().st_mode & 0o777 == 0o600
        key = json.loads(stored.read_text())["api_key"]
        assert sim.records_for("live")[0].key == key
        sim.issued_keys.clear()  # every issued key is now unknown to the server
        sim.faults.rest_status = 401
        engine.reconnect()
        await wait_for(lambda: engine.feeds[0].status.state is FeedState.STOPPED, 15)
        assert len(sim.records_for("live")) == 2
        assert "RapidAPI key rejected" in engine.feeds[0].status.detail
        await finish_engine(engine, task)


async def test_mute_socket_replaced_and_resubscribed_once() -> None:
    """Rule: a watchdog reconnects when nothing arrives (30 s in the app; 1.5 s here); the
    full subscription is re-sent once per connection (guide section 5)."""
    async with run_simulator(fast_settings(heartbeat_seconds=0.3)) as sim:
        engine = make_engine(sim, newsfeed=False, stocknews=False, watchdog_seconds=1.5)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await start_engine(engine)
        await wait_for(lambda: "NASDAQ:AAPL" in engine.store.quotes)
        sim.faults.silent = True
        sim.faults.mute_heartbeats = True
        started = time.monotonic()
        await wait_for(lambda: len(sim.records_for("live")) >= 2, 10)
        assert time.monotonic() - started < 4.0
        sim.faults.silent = sim.faults.mute_heartbeats = False
        await wait_for(lambda: len(sim.records_for("live")[1].subscription_messages) == 1)
        await asyncio.sleep(0.5)
        records = sim.records_for("live")
        assert [len(r.subscription_messages) for r in records] == [1, 1]
        assert records[0].close_code_received == 1000  # the old socket was closed properly
        await finish_engine(engine, task)


async def test_quit_sends_1000_on_every_feed() -> None:
    """Rule: every voluntary close sends close code 1000."""
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await start_engine(engine)
        await wait_for(lambda: all(f.status.state is FeedState.LIVE for f in engine.feeds))
        await wait_for(lambda: len(sim.records) == 3)
        await finish_engine(engine, task)
        await wait_for(lambda: all(r.closed_at for r in sim.records))
        assert [r.close_code_received for r in sim.records] == [1000, 1000, 1000]


async def test_budget_survives_restart(isolated_paths: Path) -> None:
    """Rule: the 120-per-3-hours counter is persisted and reconnects spend it too."""
    state = isolated_paths / "state"
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim, state_dir=state, newsfeed=False, stocknews=False)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await start_engine(engine)
        await wait_for(
            lambda: len(sim.records_for("live")) == 1 and sim.records[0].subscription_messages
        )
        engine.set_desired(quotes("NASDAQ:AAPL", "NASDAQ:MSFT"))
        await wait_for(lambda: len(sim.records[0].subscription_messages) == 2)
        engine.reconnect()
        await wait_for(
            lambda: (
                len(sim.records_for("live")) == 2
                and sim.records_for("live")[1].subscription_messages
            )
        )
        await finish_engine(engine, task)
    assert SubscriptionBudget(state / "budget.json").used() == 3


def test_budget_window_with_fake_clock(tmp_path: Path) -> None:
    """Rule: a strict sliding window; near the limit only essential sends are allowed."""
    now = [1000.0]
    budget = SubscriptionBudget(tmp_path / "b.json", limit=120, clock=lambda: now[0])
    for _ in range(110):
        budget.record()
    assert not budget.allows(essential=False) and budget.allows(essential=True)
    assert budget.describe() == "budget 110/120 in the last 3 h"
    now[0] += 3 * 3600
    assert budget.used() == 0
    (tmp_path / "bad.json").write_text("{nope")
    broken = SubscriptionBudget(tmp_path / "bad.json")
    assert broken.used() == 0 and broken.load_error and "bad.json" in broken.load_error


async def test_debounced_changes_become_one_message() -> None:
    """Rule: a burst of keyboard switching becomes one subscription message."""
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim, newsfeed=False, stocknews=False, debounce=0.3)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await start_engine(engine)
        await wait_for(lambda: "NASDAQ:AAPL" in engine.store.quotes)
        for code in ("NASDAQ:MSFT", "NASDAQ:NVDA", "NASDAQ:TSLA", "NYSE:JPM", "NYSE:IBM"):
            engine.set_desired(
                [*quotes("NASDAQ:AAPL"), Subscription(code=code, bar_type="minute", max_dp=10)]
            )
            await asyncio.sleep(0.05)
        await wait_for(lambda: "NYSE:IBM" in engine.store.series)
        await asyncio.sleep(0.5)
        messages = sim.records_for("live")[0].subscription_messages
        assert len(messages) == 2 and messages[-1][-1].code == "NYSE:IBM"
        await finish_engine(engine, task)


async def test_30000_bar_history_arrives_intact() -> None:
    """Rule: inbound size limit high enough for a 30,000-bar history (about 2.9 MB)."""
    async with run_simulator(fast_settings()) as sim:
        engine = live_only(sim)
        engine.set_desired([Subscription(code="NASDAQ:AAPL", bar_type="minute", max_dp=30_000)])
        task = await start_engine(engine)
        await wait_for(lambda: "NASDAQ:AAPL" in engine.store.series, 15)
        bars = engine.store.series["NASDAQ:AAPL"].bars
        assert len(bars) == 30_000
        times = [b.time for b in bars]
        assert times == sorted(times)
        await finish_engine(engine, task)


async def test_in_band_error_removes_subscription_without_reconnect() -> None:
    """Rule: errors that keep the socket open remove that subscription and are shown."""
    async with run_simulator(fast_settings()) as sim:
        engine = live_only(sim)
        engine.set_desired(quotes("NASDAQ:AAPL", "NASDAQ:ZZZZ"))
        task = await start_engine(engine)
        await wait_for(lambda: [s.code for s in engine.desired] == ["NASDAQ:AAPL"])
        assert any("NASDAQ:ZZZZ: unknown symbol" in n.text for n in engine.notice_log)
        await asyncio.sleep(0.5)
        assert len(sim.records_for("live")) == 1
        assert len(sim.records[0].subscription_messages) == 1
        await finish_engine(engine, task)


async def test_evicted_backs_off_long() -> None:
    """Rule: connection_evicted backs off long and says another client holds the account."""
    async with run_simulator(fast_settings()) as sim:
        first = make_engine(sim, api_key=DEMO_SMALL_KEY, newsfeed=False, stocknews=False)
        second = make_engine(sim, api_key=DEMO_SMALL_KEY, newsfeed=False, stocknews=False)
        for engine in (first, second):
            engine.config.plan.subscriptions = 2
            engine.set_desired(quotes("NASDAQ:AAPL"))
        one = await start_engine(first)
        await wait_for(lambda: "NASDAQ:AAPL" in first.store.quotes)
        two = await start_engine(second)
        status = first.feeds[0].status
        await wait_for(lambda: status.state is FeedState.RECONNECTING)
        assert status.retry_at is not None and status.retry_at - time.time() > 55
        assert any("Another client" in n.text for n in first.notice_log)
        await finish_engine(first, one)
        await finish_engine(second, two)


async def test_server_1001_reconnects() -> None:
    """Rule: server-initiated 1000/1001 (maintenance) reconnects with backoff, never exits."""
    async with run_simulator(
        fast_settings(), Faults(close_code=1001, close_after_seconds=0.3)
    ) as sim:
        engine = live_only(sim)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await start_engine(engine)
        await wait_for(lambda: len(sim.records_for("live")) >= 3, 10)
        assert engine.feeds[0].status.state is not FeedState.STOPPED
        assert "1001" in (engine.feeds[0].status.last_error or "")
        await finish_engine(engine, task)


async def test_latency_from_server_time() -> None:
    """Rule: latency = local ms - server_time, smoothed (guide FAQ)."""
    async with run_simulator(fast_settings(heartbeat_seconds=0.2)) as sim:
        engine = live_only(sim)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await start_engine(engine)
        status = engine.feeds[0].status
        await wait_for(lambda: status.latency_ms is not None)
        assert status.latency_ms is not None and 0 <= status.latency_ms < 1000
        await wait_for(lambda: status.rate > 0 and status.byte_rate > 0, 5)  # per-feed counters
        await finish_engine(engine, task)


async def test_near_budget_limit_changes_are_held(isolated_paths: Path) -> None:
    """Rule: near the limit the engine stops sending non-essential changes and says so."""
    async with run_simulator(fast_settings()) as sim:
        engine = live_only(sim)
        engine.budget.limit = 11  # the reserve of 10 leaves room for one change
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await start_engine(engine)
        await wait_for(lambda: "NASDAQ:AAPL" in engine.store.quotes)
        engine.set_desired(quotes("NASDAQ:AAPL", "NASDAQ:MSFT"))
        await wait_for(lambda: engine.pending is not None and "held" in engine.pending)
        assert len(sim.records[0].subscription_messages) == 1
        engine.reconnect()  # an essential re-subscription still goes out, with the new set
        await wait_for(lambda: len(sim.records) == 2 and bool(sim.records[1].subscription_messages))
        assert [s.code for s in sim.records[1].subscription_messages[0]] == [
            "NASDAQ:AAPL",
            "NASDAQ:MSFT",
        ]
        await finish_engine(engine, task)


async def test_duplicate_and_out_of_order_bars() -> None:
    """Rule: same time replaces the last bar, newer appends, older is ignored and counted."""
    faults = Faults(duplicate_bars=True, out_of_order_bars=True)
    async with run_simulator(fast_settings(), faults) as sim:
        engine = live_only(sim)
        engine.set_desired([Subscription(code="BINANCE:BTCUSDT", bar_type="second", max_dp=50)])
        task = await start_engine(engine)
        await wait_for(lambda: "BINANCE:BTCUSDT" in engine.store.series)
        series = engine.store.series["BINANCE:BTCUSDT"]
        await wait_for(lambda: series.ignored_older > 0)
        times = [b.time for b in series.bars]
        assert times == sorted(set(times))
        await finish_engine(engine, task)


async def test_quiet_market_batches_slowly_but_a_history_goes_at_once() -> None:
    """Rule (performance issue): under ``idle_below_rate`` messages a second, batches of
    quote changes are at least ``1/idle_hz`` apart; a history that just arrived is not held."""
    async with run_simulator(fast_settings(step_seconds=0.25, speed=1.0)) as sim:
        engine = make_engine(sim, idle_hz=2.0, stocknews=False)
        sent: list[tuple[float, Collection[str]]] = []
        news_sent: list[float] = []
        quotes_sent: list[tuple[float, Collection[str]]] = []

        def on_batch(batch: Batch) -> None:
            sent.append((time.time(), batch.series))
            quotes_sent.append((time.time(), batch.quotes))
            if batch.news:
                news_sent.append(time.time())
            engine.batch_done()

        engine.on_batch = on_batch
        engine.set_desired(quotes("BINANCE:BTCUSDT", "FX:EURUSD", "NASDAQ:AAPL"))
        task = await start_engine(engine)
        await wait_for(lambda: len(sent) >= 9)
        assert sum(f.status.rate for f in engine.feeds) < 100  # an idle market indeed
        gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(sent[2:])]
        assert min(gaps) >= 0.45, gaps  # 1/idle_hz, less timer slack
        engine.settings.idle_hz = 0.25  # a held history would now wait up to 4 s
        series = Subscription(code="BINANCE:BTCUSDT", type="series", bar_type="second")
        engine.set_desired([*quotes("BINANCE:BTCUSDT", "FX:EURUSD", "NASDAQ:AAPL"), series])
        await wait_for(lambda: any("BINANCE:BTCUSDT" in codes for _, codes in sent))
        stored_at = engine.store.series["BINANCE:BTCUSDT"].loaded_at
        shown_at = next(at for at, codes in sent if "BINANCE:BTCUSDT" in codes)
        assert shown_at - stored_at < 0.3
        await asyncio.sleep(0.5)
        news_sent.clear()
        published_at = time.time()
        sim.publish(sim.news.make(published_at))
        await wait_for(lambda: bool(news_sent))
        assert news_sent[0] - published_at < 0.5  # news is not held either
        engine.set_desired(quotes("BINANCE:BTCUSDT", "FX:EURUSD", "NASDAQ:AAPL", "NYSE:JPM"))
        await wait_for(lambda: "NYSE:JPM" in engine.store.quotes, 5)
        first_quote_at = time.time()
        await wait_for(lambda: any("NYSE:JPM" in codes for _, codes in quotes_sent), 5)
        shown_at = next(at for at, codes in quotes_sent if "NYSE:JPM" in codes)
        assert shown_at - first_quote_at < 0.5  # nor is a symbol just added
        await finish_engine(engine, task)


@pytest.mark.long(8)
async def test_lone_update_in_a_quiet_market_is_shown_at_once() -> None:
    """Rule (performance issue): the quiet-market hold runs from the last batch that carried
    data, so an update after a silence is not made to wait for it (status-only batches, one a
    second, do not restart it; the publisher sleeps until the update comes)."""
    settings = fast_settings(market_paused=True, firehose_rate=0.4, heartbeat_seconds=30.0)
    async with run_simulator(settings) as sim:
        engine = make_engine(sim, idle_hz=1.0, newsfeed=False, stocknews=False)
        delays: list[float] = []

        def on_batch(batch: Batch) -> None:
            for code in batch.quotes:
                row = engine.store.quotes[code]
                if row.server_ms:
                    delays.append(time.time() * 1000 - row.server_ms)
            engine.batch_done()

        engine.on_batch = on_batch
        engine.set_desired(quotes("FX:EURUSD"))
        task = await start_engine(engine)
        await wait_for(lambda: len(delays) >= 4, 15)
        assert max(delays[1:]) < 300, delays  # each lone update at once, not up to 1 s later
        await finish_engine(engine, task)
