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
from websockets.asyncio.client import connect

from tests.enginehelp import make_engine, quotes, rapidapi_engine, wait_for
from tests.simhelp import fast_settings
from tui.engine import pacing
from tui.engine.budget import SubscriptionBudget
from tui.engine.direct import FrameConnection
from tui.engine.engine import Engine
from tui.engine.replay import read_recording, replay_into
from tui.engine.status import Batch, FeedState
from tui.protocol.live import Subscription
from tui.sim.server import Simulator, run_simulator
from tui.sim.settings import DEMO_KEY, DEMO_SMALL_KEY, Faults


async def _start(engine: Engine) -> asyncio.Task[None]:
    return asyncio.create_task(engine.run())


async def _finish(engine: Engine, task: asyncio.Task[None]) -> None:
    engine.stop()
    await asyncio.wait_for(task, 10)


async def test_quotes_series_and_news_reach_the_store() -> None:
    """Rule: after connect the full subscription is sent; data lands in the store."""
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim)
        series = Subscription(
            code="BINANCE:BTCUSDT", type="series", bar_type="second", bar_interval=1, max_dp=200
        )
        engine.set_desired([*quotes("NASDAQ:AAPL", "FX:EURUSD"), series])
        task = await _start(engine)
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
        await _finish(engine, task)


async def test_sparse_quotes_never_blank_known_fields() -> None:
    """Rule: quotes merged by code; sparse updates fill in, never blank out."""
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim, stocknews_token=None)
        engine.set_desired(quotes("BINANCE:BTCUSDT"))
        task = await _start(engine)
        await wait_for(lambda: "BINANCE:BTCUSDT" in engine.store.quotes)
        row = engine.store.quotes["BINANCE:BTCUSDT"]
        await wait_for(lambda: len(row.spark) >= 1 and row.values.get("prev_close_price"))
        assert row.get("prev_close_price") is not None and row.get("market_cap") is None
        assert row.get("currency_code") == "USDT"
        await _finish(engine, task)


async def test_1008_is_not_retried_in_a_loop(isolated_paths: Path) -> None:
    """Rule: auth failure (close 1008) stops the feed after at most one key refresh."""
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim, api_key="wrong-key", stocknews_token="wrong-token")
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await _start(engine)
        await wait_for(lambda: all(f.status.state is FeedState.STOPPED for f in engine.feeds))
        await asyncio.sleep(1.0)
        assert len(sim.records_for("live")) == 1
        assert len(sim.records_for("stocknews")) == 1
        assert any("stocknews stopped" in n.text for n in engine.notice_log)
        await _finish(engine, task)


async def test_rapidapi_auth_failure_refreshes_once_then_stops(isolated_paths: Path) -> None:
    """Rule: at most one key refresh on auth failure; 401/403 from key rotation is final."""
    async with run_simulator(fast_settings()) as sim:
        engine = rapidapi_engine(sim, isolated_paths / "state")
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await _start(engine)
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
        await _finish(engine, task)


async def test_mute_socket_replaced_and_resubscribed_once() -> None:
    """Rule: a watchdog reconnects when nothing arrives (30 s in the app; 1.5 s here); the
    full subscription is re-sent once per connection (guide section 5)."""
    async with run_simulator(fast_settings(heartbeat_seconds=0.3)) as sim:
        engine = make_engine(sim, newsfeed=False, stocknews=False, watchdog_seconds=1.5)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await _start(engine)
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
        await _finish(engine, task)


async def test_quit_sends_1000_on_every_feed() -> None:
    """Rule: every voluntary close sends close code 1000."""
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await _start(engine)
        await wait_for(lambda: all(f.status.state is FeedState.LIVE for f in engine.feeds))
        await wait_for(lambda: len(sim.records) == 3)
        await _finish(engine, task)
        await wait_for(lambda: all(r.closed_at for r in sim.records))
        assert [r.close_code_received for r in sim.records] == [1000, 1000, 1000]


async def test_budget_survives_restart(isolated_paths: Path) -> None:
    """Rule: the 120-per-3-hours counter is persisted and reconnects spend it too."""
    state = isolated_paths / "state"
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim, state_dir=state, newsfeed=False, stocknews=False)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await _start(engine)
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
        await _finish(engine, task)
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
        task = await _start(engine)
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
        await _finish(engine, task)


async def test_30000_bar_history_arrives_intact() -> None:
    """Rule: inbound size limit high enough for a 30,000-bar history (about 2.9 MB)."""
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim, newsfeed=False, stocknews=False)
        engine.set_desired([Subscription(code="NASDAQ:AAPL", bar_type="minute", max_dp=30_000)])
        task = await _start(engine)
        await wait_for(lambda: "NASDAQ:AAPL" in engine.store.series, 15)
        bars = engine.store.series["NASDAQ:AAPL"].bars
        assert len(bars) == 30_000
        times = [b.time for b in bars]
        assert times == sorted(times)
        await _finish(engine, task)


async def test_malformed_frames_are_counted_and_survived() -> None:
    """Rule: bad frames never stop the engine; they are counted."""
    settings = fast_settings(firehose_rate=3000)
    async with run_simulator(settings, Faults(malformed_every=2, binary_every=7)) as sim:
        engine = make_engine(sim, newsfeed=False, stocknews=False)
        engine.set_desired(quotes("NASDAQ:AAPL", "FX:EURUSD"))
        task = await _start(engine)
        live = engine.feeds[0]
        await wait_for(lambda: live.status.decode_errors >= 1000, 20)
        assert live.status.state is FeedState.LIVE and live.status.connects == 1
        assert "FX:EURUSD" in engine.store.quotes
        await _finish(engine, task)


async def test_fragmented_and_non_utf8_messages_are_taken_whole_and_in_order() -> None:
    """Rule: a message in several frames is one message (RFC 6455, 5.4); a text frame that
    is not UTF-8 is a bad frame, counted, and the connection stays (no traceback, no 1007
    reconnect). The engine takes frames in the connection's own callback: every message the
    server sent is counted once, in order, so exactly every fifth is the bad one."""
    settings = fast_settings(firehose_rate=2000)
    async with run_simulator(settings, Faults(fragmented_every=3, bad_utf8_every=5)) as sim:
        engine = make_engine(sim, newsfeed=False, stocknews=False)
        engine.set_desired(quotes("NASDAQ:AAPL", "FX:EURUSD"))
        task = await _start(engine)
        live = engine.feeds[0]
        await wait_for(lambda: live.status.messages >= 3000, 20)
        sim.faults.silent = True  # then everything sent is read before the counts compare
        (record,) = sim.records_for("live")
        status = live.status
        await wait_for(lambda: status.messages >= record.sent, 5)
        await asyncio.sleep(0.2)
        assert status.messages == record.sent  # none lost, none split into two
        assert status.connects == 1
        assert status.decode_errors == status.messages // 5
        assert {"NASDAQ:AAPL", "FX:EURUSD"} <= set(engine.store.quotes)
        await _finish(engine, task)


async def test_messages_that_come_before_the_reader_attaches_are_kept_in_order() -> None:
    """The moment between the handshake and the engine attaching to the connection: what
    the server sent then is handed over first, in order, then the rest as it comes."""
    async with run_simulator(fast_settings(firehose_rate=500)) as sim:
        assert sim.urls is not None
        ws = await connect(sim.urls.live, create_connection=FrameConnection)
        assert isinstance(ws, FrameConnection)
        try:
            subscribe = {
                "api_key": DEMO_KEY,
                "subscriptions": [{"code": "FX:EURUSD", "type": "quote"}],
            }
            await ws.send(json.dumps(subscribe))
            await wait_for(lambda: len(ws._early) >= 20)  # nobody attached: kept
            taken: list[tuple[bytes, bool]] = []
            ws.attach(lambda data, text: taken.append((data, text)))
            early = len(taken)
            assert early >= 20 and not ws._early
            await wait_for(lambda: len(taken) >= early + 20)  # then as they come
            stamps = [json.loads(data)["last_update"] for data, _ in taken if b'"data"' in data]
            assert stamps == sorted(stamps) and all(text for _, text in taken)
            ws.detach()
            count = len(taken)
            await asyncio.sleep(0.2)
            assert len(taken) == count and not ws._early  # a detached connection drops them
        finally:
            await ws.close()


async def test_a_handler_that_fails_ends_the_session_as_an_internal_error() -> None:
    """A bug in a frame's handler (called from the connection's callback) ends that session
    with a clear reason and a reconnect, not a dead reader or a traceback on screen."""
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim, newsfeed=False, stocknews=False)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        live = engine.feeds[0]
        handle = live.on_frame
        failures = iter([True])

        def on_frame(frame: str | bytes, now: float) -> object:
            if next(failures, False):
                raise RuntimeError("boom")
            return handle(frame, now)

        live.on_frame = on_frame  # type: ignore[method-assign,assignment]
        task = await _start(engine)
        await wait_for(lambda: live.status.connects >= 2 and "NASDAQ:AAPL" in engine.store.quotes)
        assert "internal error (RuntimeError)" in (live.status.last_error or "")
        await _finish(engine, task)


async def test_a_quiet_feed_is_read_a_few_times_a_second_not_once_a_quote() -> None:
    """In a quiet market (200 quotes a second here) the socket is read five times a second:
    the engine holds its batches for half a second there anyway."""
    async with run_simulator(fast_settings(firehose_rate=200)) as sim:
        engine = make_engine(sim, newsfeed=False, stocknews=False)
        engine.set_desired(quotes("NASDAQ:AAPL", "FX:EURUSD"))
        live = engine.feeds[0]
        task = await _start(engine)
        await wait_for(lambda: live.ws is not None and live.status.messages > 0)
        await asyncio.sleep(3.0)  # past a new connection's prompt first seconds
        ws = live.ws
        assert isinstance(ws, FrameConnection)
        reads, messages = ws.reads, live.status.messages
        await asyncio.sleep(2.0)
        per_read = (live.status.messages - messages) / max(1, ws.reads - reads)
        assert per_read >= 5, per_read  # about 40 a read; read as they come, 1 or 2
        assert live.status.connects == 1 and live.status.decode_errors == 0
        await _finish(engine, task)


@pytest.mark.parametrize("window", [True, False])
async def test_paced_reads_never_make_the_latency_shown(
    window: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads are prompt around a due heartbeat, and a heartbeat that waited behind a pause
    anyway (``window`` off: nothing keeps them apart) gives no latency sample: the latency
    shown is the network's, never the pause's (which would add up to 200 ms)."""
    if not window:
        monkeypatch.setattr(pacing, "HEARTBEAT_WINDOW_SECONDS", -1e9)
    async with run_simulator(fast_settings(firehose_rate=200, heartbeat_seconds=1.0)) as sim:
        engine = make_engine(sim, newsfeed=False, stocknews=False)
        engine.set_desired(quotes("NASDAQ:AAPL", "FX:EURUSD"))
        live = engine.feeds[0]
        samples: list[tuple[bool, float]] = []
        moved_by_late: list[float] = []
        beat = live.heartbeat

        def heartbeat(server_ms: float, now: float) -> None:
            samples.append((live.read_late, now * 1000.0 - server_ms))
            before = live.status.latency_ms
            beat(server_ms, now)
            if live.read_late and live.status.latency_ms != before:
                moved_by_late.append(now * 1000.0 - server_ms)

        live.heartbeat = heartbeat  # type: ignore[method-assign]
        task = await _start(engine)
        await wait_for(lambda: len(samples) >= 7, 20)
        prompt = [ms for late, ms in samples if not late]
        assert max(prompt, default=0.0) < 40.0, samples  # loopback: a few ms
        if window:
            assert len(prompt) >= 3, samples  # the heartbeats found the socket read at once
        else:
            assert any(late for late, _ in samples), samples  # they waited, and said so
        assert not moved_by_late, moved_by_late  # a late heartbeat leaves the latency alone
        latency = live.status.latency_ms
        assert latency is None or latency < 40.0, samples
        await _finish(engine, task)


async def test_in_band_error_removes_subscription_without_reconnect() -> None:
    """Rule: errors that keep the socket open remove that subscription and are shown."""
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim, newsfeed=False, stocknews=False)
        engine.set_desired(quotes("NASDAQ:AAPL", "NASDAQ:ZZZZ"))
        task = await _start(engine)
        await wait_for(lambda: [s.code for s in engine.desired] == ["NASDAQ:AAPL"])
        assert any("NASDAQ:ZZZZ: unknown symbol" in n.text for n in engine.notice_log)
        await asyncio.sleep(0.5)
        assert len(sim.records_for("live")) == 1
        assert len(sim.records[0].subscription_messages) == 1
        await _finish(engine, task)


async def test_evicted_backs_off_long() -> None:
    """Rule: connection_evicted backs off long and says another client holds the account."""
    async with run_simulator(fast_settings()) as sim:
        first = make_engine(sim, api_key=DEMO_SMALL_KEY, newsfeed=False, stocknews=False)
        second = make_engine(sim, api_key=DEMO_SMALL_KEY, newsfeed=False, stocknews=False)
        for engine in (first, second):
            engine.config.plan.subscriptions = 2
            engine.set_desired(quotes("NASDAQ:AAPL"))
        one = await _start(first)
        await wait_for(lambda: "NASDAQ:AAPL" in first.store.quotes)
        two = await _start(second)
        status = first.feeds[0].status
        await wait_for(lambda: status.state is FeedState.RECONNECTING)
        assert status.retry_at is not None and status.retry_at - time.time() > 55
        assert any("Another client" in n.text for n in first.notice_log)
        await _finish(first, one)
        await _finish(second, two)


async def test_server_1001_reconnects() -> None:
    """Rule: server-initiated 1000/1001 (maintenance) reconnects with backoff, never exits."""
    async with run_simulator(
        fast_settings(), Faults(close_code=1001, close_after_seconds=0.3)
    ) as sim:
        engine = make_engine(sim, newsfeed=False, stocknews=False)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await _start(engine)
        await wait_for(lambda: len(sim.records_for("live")) >= 3, 10)
        assert engine.feeds[0].status.state is not FeedState.STOPPED
        assert "1001" in (engine.feeds[0].status.last_error or "")
        await _finish(engine, task)


async def test_latency_from_server_time() -> None:
    """Rule: latency = local ms - server_time, smoothed (guide FAQ)."""
    async with run_simulator(fast_settings(heartbeat_seconds=0.2)) as sim:
        engine = make_engine(sim, newsfeed=False, stocknews=False)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await _start(engine)
        status = engine.feeds[0].status
        await wait_for(lambda: status.latency_ms is not None)
        assert status.latency_ms is not None and 0 <= status.latency_ms < 1000
        await wait_for(lambda: status.rate > 0 and status.byte_rate > 0, 5)  # per-feed counters
        await _finish(engine, task)


async def test_record_and_replay(tmp_path: Path) -> None:
    """Rule: --record writes frames with receive times, keys masked; replay feeds them through
    the same decode and store path."""
    recording = tmp_path / "rec.jsonl"
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim, stocknews=False, record_path=recording)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await _start(engine)
        await wait_for(lambda: "NASDAQ:AAPL" in engine.store.quotes and engine.store.news)
        await _finish(engine, task)
    text = recording.read_text()
    assert "demo-mega-key" not in text and '"feed": "live"' in text
    rows = read_recording(recording)
    fresh = make_engine(sim, live=False, newsfeed=False, stocknews=False)
    count = await replay_into(fresh, rows, speed=1000.0)
    assert count == len(rows) and "NASDAQ:AAPL" in fresh.store.quotes and fresh.store.news


async def test_near_budget_limit_changes_are_held(isolated_paths: Path) -> None:
    """Rule: near the limit the engine stops sending non-essential changes and says so."""
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim, newsfeed=False, stocknews=False)
        engine.budget.limit = 11  # the reserve of 10 leaves room for one change
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await _start(engine)
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
        await _finish(engine, task)


async def test_duplicate_and_out_of_order_bars() -> None:
    """Rule: same time replaces the last bar, newer appends, older is ignored and counted."""
    faults = Faults(duplicate_bars=True, out_of_order_bars=True)
    async with run_simulator(fast_settings(), faults) as sim:
        engine = make_engine(sim, newsfeed=False, stocknews=False)
        engine.set_desired([Subscription(code="BINANCE:BTCUSDT", bar_type="second", max_dp=50)])
        task = await _start(engine)
        await wait_for(lambda: "BINANCE:BTCUSDT" in engine.store.series)
        series = engine.store.series["BINANCE:BTCUSDT"]
        await wait_for(lambda: series.ignored_older > 0)
        times = [b.time for b in series.bars]
        assert times == sorted(set(times))
        await _finish(engine, task)


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
        task = await _start(engine)
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
        await _finish(engine, task)


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
        task = await _start(engine)
        await wait_for(lambda: len(delays) >= 4, 15)
        assert max(delays[1:]) < 300, delays  # each lone update at once, not up to 1 s later
        await _finish(engine, task)


async def test_a_replay_never_says_a_subscription_change_is_pending(tmp_path: Path) -> None:
    """A replay sends nothing upstream, so its status bar never shows a pending change."""
    from tui.config import Config
    from tui.secrets import Keys
    from tui.session.session import Session, SessionOptions
    from tui.session.values import SessionBatch

    recording = tmp_path / "rec.jsonl"
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim, stocknews=False, record_path=recording)
        engine.set_desired(quotes("NASDAQ:AAPL", "NASDAQ:MSFT"))
        task = await _start(engine)
        await wait_for(lambda: "NASDAQ:MSFT" in engine.store.quotes)
        await asyncio.sleep(0.5)
        await _finish(engine, task)
    rows = read_recording(recording)
    session = Session(
        SessionOptions(config=Config(), keys=Keys(), replay=(rows, 50.0), persist=False)
    )
    batches: list[SessionBatch] = []

    def on_batch(batch: SessionBatch) -> None:
        batches.append(batch)
        asyncio.get_running_loop().call_soon(session.batch_done)

    runner = asyncio.create_task(session.run(on_batch))
    await wait_for(lambda: any(q.code == "NASDAQ:AAPL" for b in batches for q in b.quotes), 10)
    session.stop()
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    assert batches and all(b.pending is None for b in batches), [b.pending for b in batches]


async def _one_frame_a_second(tmp_path: Path) -> tuple[Simulator, list[tuple[float, str, str]]]:
    """A recording of NASDAQ:AAPL from the simulator, re-timed to one frame a second."""
    recording = tmp_path / "rec.jsonl"
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim, stocknews=False, record_path=recording)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await _start(engine)
        await wait_for(lambda: "NASDAQ:AAPL" in engine.store.quotes)
        await asyncio.sleep(0.5)
        await _finish(engine, task)
    recorded = read_recording(recording)
    start = recorded[0][0]
    rows = [(start + i, feed, frame) for i, (_t, feed, frame) in enumerate(recorded)]  # 1/s
    assert len(rows) > 10
    return sim, rows


async def test_a_replay_pauses_and_skips_ahead(tmp_path: Path) -> None:
    """p pauses a replay's clock (no frame while paused); > skips it ahead (the frames between
    are applied at once)."""
    from tui.engine.replay import ReplayClock

    sim, rows = await _one_frame_a_second(tmp_path)
    fresh = make_engine(sim, live=False, newsfeed=False, stocknews=False)
    clock = ReplayClock()
    replay = asyncio.create_task(replay_into(fresh, rows, 1.0, clock))

    await wait_for(lambda: clock.position >= 1.0)  # the recording's second frame played
    clock.toggle()
    await asyncio.sleep(0.4)
    held = clock.position
    await asyncio.sleep(1.5)  # a frame a second would have come meanwhile
    assert clock.position == held and clock.paused
    clock.toggle()
    clock.seek(len(rows) + 10.0)
    count = await asyncio.wait_for(replay, 5)  # the rest at once, not in len(rows) seconds
    assert count == len(rows) and clock.position == len(rows) - 1
    assert "NASDAQ:AAPL" in fresh.store.quotes


@pytest.mark.long(9)
async def test_a_replay_seeks_back_to_what_the_recording_held_then(tmp_path: Path) -> None:
    """< in a replay: the view is emptied and filled again from the recording's start up to
    the target, so its quotes are the recorded ones of that moment; the status text says
    where the replay is, and at the end it waits for a seek back rather than stopping."""
    from tui.config import Config
    from tui.secrets import Keys
    from tui.session.mirror import StoreMirror
    from tui.session.session import Session, SessionOptions
    from tui.session.values import SeekReplay, SessionBatch

    _sim, rows = await _one_frame_a_second(tmp_path)
    start = rows[0][0]
    session = Session(
        SessionOptions(config=Config(), keys=Keys(), replay=(rows, 4.0), persist=False)
    )
    mirror = StoreMirror()
    batches: list[SessionBatch] = []

    def on_batch(batch: SessionBatch) -> None:
        batches.append(batch)
        mirror.apply_batch(batch)
        asyncio.get_running_loop().call_soon(session.batch_done)

    runner = asyncio.create_task(session.run(on_batch))
    try:
        last = rows[-1][0]
        await wait_for(lambda: session.replay_clock.ended, 10)  # the whole recording played
        await wait_for(lambda: (batches[-1].replay or "").endswith("ended"), 5)
        length = len(rows) - 1
        assert f"/{length // 60}:{length % 60:02d}) x4 ended" in (batches[-1].replay or "")
        seen = mirror.quotes["NASDAQ:AAPL"].updated_at
        assert seen >= last - 1
        session.send(SeekReplay(-(len(rows) + 5.0)))  # back past the start: from the start
        await wait_for(lambda: any(b.rewound for b in batches), 5)
        assert session.replay_clock.rewinds == 1 and not session.replay_clock.ended
        rewound = next(b for b in batches if b.rewound)
        assert (rewound.replay or "").startswith("REPLAY ") and "(0:0" in (rewound.replay or "")
        row = mirror.quotes.get("NASDAQ:AAPL")
        assert row is None or row.updated_at <= start + 2, "later quotes survived the seek"
        await wait_for(lambda: session.replay_clock.ended, 10)  # it plays on, and ends again
    finally:
        session.stop()
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
