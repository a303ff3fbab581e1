"""The client against the guide's sentences, over loopback with the simulator."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from tests.enginehelp import make_engine, quotes, wait_for
from tests.hostile import HostileServer, run_hostile
from tests.proxy import ToxicProxy
from tests.simhelp import (
    fast_settings,
    is_error,
    is_series,
    open_ws,
    recv_json,
    recv_until,
    subscribe,
)
from tui.config import Config
from tui.engine.engine import Engine, EngineSettings
from tui.engine.status import FeedState
from tui.protocol.live import QuoteUpdate, SeriesUpdate, Subscription, dispatch_live
from tui.secrets import Keys, Secret
from tui.sim.server import run_simulator
from tui.sim.settings import DEMO_KEY, Faults


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
    counted, never costing the frame."""
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


async def test_a_quiet_news_socket_is_kept_and_a_dead_one_is_found() -> None:
    """StockNews documents ``{"type":"ping"}`` but not its reply, and ``/newsfeed`` documents
    no heartbeat (guide section 5 covers ``/live``): liveness on the news sockets rests on
    RFC 6455 ping frames. A healthy socket with no news and no answer to application pings is
    never reconnected; one whose peer stops answering at all is replaced."""
    async with run_simulator(fast_settings(news_interval_seconds=3600.0)) as sim:
        sim.faults.ignore_pings = True  # no {"type": "pong"}, no text pong
        port = int(sim.urls.stocknews.rsplit(":", 1)[1].split("/")[0])
        proxy = ToxicProxy("127.0.0.1", port)
        proxy_port = await proxy.start()
        engine = make_engine(
            sim,
            newsfeed=False,
            stocknews_ping_seconds=0.2,
            min_ping_gap=0.1,
            keepalive_seconds=0.2,
            keepalive_timeout=0.5,
        )
        engine.config.endpoints.stocknews_url = f"ws://127.0.0.1:{proxy_port}/ws"
        engine.feeds = [f for f in engine.feeds if f.name == "stocknews"]
        task = asyncio.create_task(engine.run())
        feed = engine.feeds[0]
        await wait_for(lambda: feed.status.state is FeedState.LIVE)
        await asyncio.sleep(2.5)  # quiet, pings unanswered at the application level
        assert feed.status.state is FeedState.LIVE and feed.status.connects == 1
        proxy.toxics.blackhole = True  # now nothing answers, not even ping frames
        await wait_for(lambda: feed.status.state is not FeedState.LIVE, 5)
        proxy.toxics.blackhole = False
        await wait_for(lambda: feed.status.connects >= 2, 15)
        await _stop(engine, task)
        await proxy.stop()


async def test_event_loop_lag_is_measured_and_said() -> None:
    """Guide FAQ reads a negative ``now - server_time`` as a blocked thread; a blocked loop in
    fact shows as lag. The engine measures its own loop's scheduling delay and says so."""
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim, newsfeed=False, stocknews=False)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = asyncio.create_task(engine.run())
        await wait_for(lambda: "NASDAQ:AAPL" in engine.store.quotes)
        await asyncio.sleep(0.6)
        assert engine.loop_warning() is None
        time.sleep(0.8)  # block the event loop, as a slow draw or a blocking call would
        await wait_for(lambda: engine.loop_warning() is not None, 3)
        assert "event loop lag" in (engine.loop_warning() or "")
        await _stop(engine, task)


SAMPLE_FAULTS = {
    "drop_after_seconds": "1.5",
    "drop_after_messages": "10",
    "malformed_every": "3",
    "binary_every": "4",
    "fragmented_every": "3",
    "bad_utf8_every": "5",
    "history_bars": "30000",
    "error_then_close": "internal_server_error",
    "error_delay_seconds": "2",
    "close_code": "1001",
    "close_after_seconds": "0.2",
    "refuse_handshake": "429",
    "retry_after_header": "5",
    "inject_error": "invalid_symbol",
    "rest_status": "503",
    "rest_delay_seconds": "0.5",
}
"""A value for every fault switch that takes one (the rest are flags)."""


@pytest.mark.parametrize("name", sorted(Faults.__dataclass_fields__))
def test_every_fault_switch_parses_from_text(name: str) -> None:
    """``marketpane sim --faults`` reads every switch (``error_then_close=server_busy`` used
    to crash the simulator at start-up: "internal" in its type read as an int)."""
    faults = Faults()
    raw = SAMPLE_FAULTS.get(name)
    faults.set_from_text(f"{name}={raw}" if raw is not None else name)
    expected = getattr(Faults(), name)
    assert getattr(faults, name) != expected


def test_sim_command_starts_with_error_then_close() -> None:
    """The console script's simulator starts with the fault the guide's error table names,
    and a client sees the error then the close (guide section 6, server_busy)."""
    script = Path(sys.executable).with_name("marketpane")
    if not script.exists():
        pytest.skip("console script not installed")
    result = subprocess.run(
        [
            str(script),
            "sim",
            "--port",
            "0",
            "--faults",
            "error_then_close=server_busy",
            "--for-seconds",
            "0.5",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "live:" in result.stdout
    bad = subprocess.run(
        [str(script), "sim", "--port", "0", "--faults", "error_then_close=banana"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2 and "server_busy" in bad.stderr


# ---- the vendor's newer vocabulary ---------------------------------------


async def test_official_client_messages_are_understood() -> None:
    """InsightSentry's published client sends ``dp`` (not the guide's ``max_dp``), uses
    ``type: "both"`` and waits for ``{"event": "subscription_status", "status": "active"}``.
    Spoken here as that client speaks it (messages written from the vendor's public
    description, no code copied): the simulator answers all three."""
    async with run_simulator(fast_settings()) as sim:
        ws = await open_ws(sim.urls.live)
        await recv_json(ws)  # the greeting
        sub = {"code": "NASDAQ:AAPL", "type": "both", "bar_type": "minute", "dp": 25}
        await subscribe(ws, DEMO_KEY, [sub])
        status = await recv_until(ws, lambda m: isinstance(m, dict) and "event" in m)
        assert status == {"event": "subscription_status", "status": "active"}
        history = await recv_until(ws, is_series("NASDAQ:AAPL"))
        assert len(history["series"]) == 25
        quote = await recv_until(ws, lambda m: isinstance(m, dict) and "data" in m)
        assert quote["data"][0]["code"] == "NASDAQ:AAPL"
        assert not sim.records_for("live")[0].ping_floods
        await ws.close()


async def test_client_dp_both_and_confirmation_end_to_end() -> None:
    """The ``dp`` option works end to end (config ``history_field = "dp"``), a ``both``
    subscription brings quote and series, and the confirmation is recorded."""
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim, newsfeed=False, stocknews=False)
        engine.config.endpoints.history_field = "dp"
        both = Subscription(code="NASDAQ:AAPL", type="both", bar_type="minute", max_dp=40)
        engine.set_desired([both])
        task = asyncio.create_task(engine.run())
        await wait_for(lambda: "NASDAQ:AAPL" in engine.store.series)
        await wait_for(lambda: "NASDAQ:AAPL" in engine.store.quotes)
        assert len(engine.store.series["NASDAQ:AAPL"].bars) >= 40
        assert sim.records_for("live")[0].subscription_messages[0][0].max_dp == 40
        live = engine.feeds[0]
        await wait_for(lambda: live.status.subscription_confirmed_at is not None)
        await _stop(engine, task)


async def test_guide_throttle_delays_subscriptions_but_never_pings_or_data() -> None:
    """Guide section 2: past the limit the server "adds small progressive delays to request
    processing"; "your existing data feed continues uninterrupted". A throttled subscription
    waits; a ping sent after it is answered at once."""
    settings = fast_settings(messages_per_window=1, throttle_step_seconds=1.5)
    async with run_simulator(settings) as sim:
        ws = await open_ws(sim.urls.live)
        await recv_json(ws)
        await subscribe(ws, DEMO_KEY, [{"code": "FX:EURUSD", "type": "quote"}])
        await recv_until(ws, lambda m: isinstance(m, dict) and "event" in m)
        started = time.monotonic()
        await subscribe(ws, DEMO_KEY, [{"code": "NASDAQ:MSFT", "type": "quote"}])
        await ws.send("ping")
        assert await recv_until(ws, lambda m: m == "pong") == "pong"
        assert time.monotonic() - started < 1.0
        await recv_until(ws, lambda m: isinstance(m, dict) and "event" in m)
        assert time.monotonic() - started >= 1.5
        await ws.close()


async def test_throttle_errors_are_obeyed() -> None:
    """The official client's throttle errors: ``processing_throttled`` (the set is sent again
    after the named delay, no sooner) and ``reconnect_throttled`` (the next dial waits the
    named delay, not our shorter backoff)."""
    settings = fast_settings(messages_per_window=1, window_seconds=2.0, throttle_step_seconds=0.6)
    async with run_simulator(settings, Faults(throttle_errors=True)) as sim:
        engine = make_engine(sim, newsfeed=False, stocknews=False, debounce=0.05)
        engine.set_desired(quotes("FX:EURUSD"))
        task = asyncio.create_task(engine.run())
        await wait_for(lambda: "FX:EURUSD" in engine.store.quotes)
        engine.set_desired(quotes("FX:EURUSD", "NASDAQ:MSFT"))
        await wait_for(lambda: engine.pending is not None and "resending" in engine.pending)
        await wait_for(lambda: "NASDAQ:MSFT" in engine.store.quotes, 15)
        record = sim.records_for("live")[0]
        assert len(record.subscription_messages) == 2  # the throttled ones were not applied
        assert engine.budget.used() >= 3  # every message sent counts
        await _stop(engine, task)

    settings = fast_settings(connects_per_window=1, window_seconds=60, throttle_step_seconds=2)
    async with run_simulator(settings, Faults(throttle_errors=True)) as sim:
        engine = make_engine(sim, newsfeed=False, stocknews=False)
        engine.set_desired(quotes("FX:EURUSD"))
        task = asyncio.create_task(engine.run())
        live = engine.feeds[0]
        await wait_for(lambda: "FX:EURUSD" in engine.store.quotes)
        engine.reconnect()  # a second connection within the window: throttled
        await wait_for(lambda: "reconnect_throttled" in (live.status.last_error or ""))
        assert live.status.retry_at is not None
        assert live.status.retry_at - time.time() >= 1.5  # the named 2 s, not a 0.5 s backoff
        await _stop(engine, task)


async def test_ping_flood_is_answered_as_the_guide_warns() -> None:
    """Guide section 5: "Don't send pings more than once every 15 seconds to avoid triggering
    rate limits". The simulator answers a second ping within 15 s with a rate-limit error and
    no pong; the client's own pinger never comes that close."""
    async with run_simulator(fast_settings(ping_min_gap_seconds=15.0)) as sim:
        ws = await open_ws(sim.urls.live)
        await recv_json(ws)
        await ws.send("ping")
        assert await recv_until(ws, lambda m: m == "pong") == "pong"
        await ws.send("ping")
        flood = await recv_until(ws, is_error("rate_limited"))
        assert flood["delay_seconds"] == 15.0
        assert sim.records_for("live")[0].ping_floods == 1
        await ws.close()
    assert EngineSettings().min_ping_gap >= 15.0


async def test_delayed_data_is_really_delayed() -> None:
    """Guide section 3: ``delay_seconds`` is how far behind real time the data is. The
    simulator delivers a 900 s instrument that far behind (scaled here to 1.8 s) with its true
    timestamps, while a real-time one arrives at once."""
    settings = fast_settings(delay_scale=0.002)
    async with run_simulator(settings) as sim:
        assert sim.market.instruments["AMEX:GLD"].delay_seconds == 900
        ws = await open_ws(sim.urls.live)
        await recv_json(ws)
        subs = [{"code": c, "type": "quote"} for c in ("AMEX:GLD", "NASDAQ:AAPL")]
        await subscribe(ws, DEMO_KEY, subs)
        lags: dict[str, list[float]] = {"AMEX:GLD": [], "NASDAQ:AAPL": []}
        deadline = time.monotonic() + 15
        snapshot_seen = False
        while time.monotonic() < deadline and min(len(v) for v in lags.values()) < 5:
            message = await recv_json(ws)
            if not isinstance(message, dict) or "data" not in message:
                continue
            if not snapshot_seen:  # the first is the snapshot (as of the delay)
                snapshot_seen = True
                continue
            for quote in message["data"]:
                if "lp_time" in quote and quote["code"] in lags:
                    lags[quote["code"]].append(time.time() - quote["lp_time"])
        await ws.close()
    assert min(lags["AMEX:GLD"]) >= 1.6, lags["AMEX:GLD"]
    assert max(lags["NASDAQ:AAPL"]) < 1.0, lags["NASDAQ:AAPL"]


async def test_flags_badj_and_float_numbers_over_loopback() -> None:
    """Guide section 4 over a real socket: a flag of the other asset class is left out (one
    warning, however often the set is resent), ``badj`` goes out explicitly for a continuous
    future; and a quote whose integers arrive as floats (``900.0``) is used whole."""
    future = Subscription(
        code="CME_MINI:ES1!", type="series", bar_type="minute", max_dp=20, extended=False
    )
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim, newsfeed=False, stocknews=False)
        engine.set_desired([future, *quotes("AMEX:GLD")])
        task = asyncio.create_task(engine.run())
        await wait_for(lambda: "CME_MINI:ES1!" in engine.store.series)
        sent = sim.records_for("live")[0].subscription_messages[0][0]
        assert sent.badj is True and sent.extended is None
        engine.set_desired([future, *quotes("AMEX:GLD", "NASDAQ:AAPL")])
        await wait_for(lambda: len(sim.records_for("live")[0].subscription_messages) == 2)
        warned = [n for n in engine.notice_log if "extended applies to non-futures" in n.text]
        assert len(warned) == 1
        await wait_for(lambda: "AMEX:GLD" in engine.store.quotes)
        assert engine.store.quotes["AMEX:GLD"].get("delay_seconds") == 900
        await _stop(engine, task)
    async with run_hostile(quote_extra={"delay_seconds": 900.0}) as server:
        engine = make_engine_for(server)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = asyncio.create_task(engine.run())
        await wait_for(lambda: "NASDAQ:AAPL" in engine.store.quotes)
        assert engine.store.quotes["NASDAQ:AAPL"].get("delay_seconds") == 900.0
        assert engine.feeds[0].status.decode_errors == 0
        await _stop(engine, task)


def make_engine_for(server: HostileServer) -> Engine:
    """A /live-only engine pointed at a scripted server."""
    config = Config()
    config.endpoints.live_url = server.url("/live")
    return Engine(
        config,
        Keys(insightsentry_api_key=Secret("scripted-key")),
        settings=EngineSettings(newsfeed=False, stocknews=False, debounce=0.05),
    )


async def _series_frames(url: str, sub: dict[str, object], seconds: float) -> list[dict]:  # type: ignore[type-arg]
    """Every series message for ``sub`` over ``seconds``, the history first."""
    ws = await open_ws(url)
    await recv_json(ws)
    await subscribe(ws, DEMO_KEY, [sub])
    frames: list[dict] = []  # type: ignore[type-arg]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            message = await recv_json(ws, timeout=max(0.05, deadline - time.monotonic()))
        except TimeoutError:
            break
        if is_series(str(sub["code"]))(message):
            frames.append(message)
    await ws.close()
    return frames


@pytest.mark.parametrize("status", ["CLOSED", "REG"])
async def test_a_closed_market_pushes_no_flat_bars(
    status: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guide section 3 (bars are built from trades): with the stock market closed, a stock's
    1-second series gets its history and then nothing, never flat bars; the same market
    open (the control) streams bars."""
    import tui.sim.market
    import tui.sim.universe

    real = tui.sim.universe.session_status

    def pinned(asset: str, when: float, *, always_open: bool = False) -> str:
        return status if asset in ("stock", "etf") else real(asset, when, always_open=always_open)  # type: ignore[arg-type]

    monkeypatch.setattr(tui.sim.universe, "session_status", pinned)
    monkeypatch.setattr(tui.sim.market, "session_status", pinned)
    settings = fast_settings(sessions="real")
    async with run_simulator(settings) as sim:
        sub = {
            "code": "NASDAQ:AAPL",
            "type": "series",
            "bar_type": "second",
            "bar_interval": 1,
            "max_dp": 20,
        }
        frames = await _series_frames(sim.urls.live, sub, 3.0)
    assert frames, "no history"
    streamed = [bar for frame in frames[1:] for bar in frame["series"]]
    if status == "CLOSED":
        assert streamed == [], streamed[:3]
    else:
        assert len(streamed) >= 2


async def test_the_stream_agrees_with_its_history() -> None:
    """Guide section 3: the history sent on (re)subscribe is the same bars the stream built:
    a second connection's history matches, bar for bar, what the first one streamed."""
    async with run_simulator(fast_settings()) as sim:
        sub = {
            "code": "BINANCE:BTCUSDT",
            "type": "series",
            "bar_type": "second",
            "bar_interval": 1,
            "max_dp": 200,
        }
        frames = await _series_frames(sim.urls.live, sub, 5.0)
        final: dict[float, dict] = {}  # type: ignore[type-arg]
        for frame in frames[1:]:
            for bar in frame["series"]:
                final[bar["time"]] = bar  # the last version of each bar
        history = (await _series_frames(sim.urls.live, sub, 0.3))[0]["series"]
    by_time = {bar["time"]: bar for bar in history}
    finished = sorted(final)[:-1]  # the newest may still be forming
    assert len(finished) >= 3
    for t in finished:
        assert t in by_time, t
        for name in ("open", "high", "low", "close", "volume"):
            assert by_time[t][name] == pytest.approx(final[t][name]), (t, name)
