"""Reliability and security: faults over real loopback sockets, through the simulator's fault
switches and an in-process TCP proxy. Each case names the rule and the guide sentence it
protects (guide = shared/api/000_*.txt unless said otherwise)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.enginehelp import (
    finish_engine,
    live_only,
    make_engine,
    open_fds,
    quotes,
    rapidapi_engine,
    start_engine,
    wait_for,
)
from tests.proxy import proxied
from tests.simhelp import fast_settings
from tui.engine.feeds import LiveFeed
from tui.engine.status import FeedState
from tui.protocol.live import Subscription
from tui.sim.server import Simulator, run_simulator
from tui.sim.settings import EXPIRED_STOCKNEWS_TOKEN, Faults

# 1 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("faults", "most", "least"),
    [
        (Faults(accept_then_close=True), 5, 3),
        (Faults(accept_then_close=True, close_code=1008), 1, 1),
        (Faults(inject_error="connection_evicted"), 1, 1),
    ],
    ids=["close-1000", "close-1008", "connection_evicted"],
)
async def test_case01_accept_then_close_storms(faults: Faults, most: int, least: int) -> None:
    """Guide section 5: 'Never reconnect in a tight loop. Start with a short delay (e.g.,
    500ms), double it on each consecutive failure'. Dials in 6 s stay within the schedule."""
    async with run_simulator(fast_settings(), faults) as sim:
        engine = live_only(sim)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await start_engine(engine)
        await asyncio.sleep(6.0)
        await finish_engine(engine, task)
        assert least <= len(sim.records_for("live")) <= most


@pytest.mark.soak
async def test_case01_storm_over_60_seconds() -> None:
    """The same rule over the full minute: at most 9 dials (0.25+0.5+1+2+4+8+15+15+15 s)."""
    async with run_simulator(fast_settings(), Faults(accept_then_close=True)) as sim:
        engine = live_only(sim)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await start_engine(engine)
        await asyncio.sleep(60.0)
        await finish_engine(engine, task)
        assert len(sim.records_for("live")) <= 9


# 2 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
async def test_case02_handshake_auth_failure_stops(status: int) -> None:
    """Rule: an auth failure stops the feed (no refresh is possible for a direct key) and says
    why; guide section 5: clients that reconnect aggressively hit the throttle."""
    async with run_simulator(fast_settings(), Faults(refuse_handshake=status)) as sim:
        engine = live_only(sim)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await start_engine(engine)
        feed = engine.feeds[0]
        await wait_for(lambda: feed.status.state is FeedState.STOPPED)
        await asyncio.sleep(1.0)
        assert f"HTTP {status}" in feed.status.detail
        assert any("live stopped" in n.text for n in engine.notice_log)
        await finish_engine(engine, task)


async def test_case02_expired_stocknews_subscription() -> None:
    """StockNews guide: '1008: Authentication failed or subscription expired' — no loop."""
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim, api_key=None, stocknews_token=EXPIRED_STOCKNEWS_TOKEN)
        task = await start_engine(engine)
        feed = engine.feeds[0]
        await wait_for(lambda: feed.status.state is FeedState.STOPPED)
        await asyncio.sleep(1.0)
        assert len(sim.records_for("stocknews")) == 1
        assert "subscription expired" in feed.status.detail
        await finish_engine(engine, task)


@pytest.mark.parametrize(
    ("rest_status", "delay", "expected"),
    [
        (401, 0.0, "RapidAPI key rejected"),
        (429, 0.0, "could not get a WebSocket key"),
        (None, 2.0, "timed out"),
    ],
)
async def test_case02_key_rotation_failures(
    isolated_paths: Path, rest_status: int | None, delay: float, expected: str
) -> None:
    """Guide section 7 key rotation: 401 is final (the feed stops and says why); a 429 or a
    timeout is transient, so the feed keeps waiting slowly and says so (it used to
    stop for ever); never a loop, never a dial without a key."""
    faults = Faults(rest_status=rest_status, rest_delay_seconds=delay, retry_after_header=1)
    async with run_simulator(fast_settings(), faults) as sim:
        engine = rapidapi_engine(sim, isolated_paths / "state", rest_timeout=0.5)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await start_engine(engine)
        feed = engine.feeds[0]
        if rest_status == 401:
            await wait_for(lambda: feed.status.state is FeedState.STOPPED, 20)
            assert expected in feed.status.detail
        else:
            await wait_for(lambda: expected in (feed.status.last_error or ""), 20)
            await asyncio.sleep(2.0)
            assert feed.status.state is not FeedState.STOPPED
            assert engine.rest.calls <= 2  # the first backoff step is 5 s
        assert not sim.records_for("live")  # never dialled without a key
        await finish_engine(engine, task)


# 3 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pings_answered", [True, False])
async def test_case03_connected_but_mute(pings_answered: bool) -> None:
    """Guide section 8 example: 'If it's not received within 30 seconds, there may be a
    connection issue'. A mute socket is replaced (30 s watchdog, 1.5 s here) whether or not
    pongs still arrive, and the subscription is re-sent once on the new socket."""
    async with run_simulator(fast_settings(heartbeat_seconds=0.3)) as sim:
        engine = live_only(sim, watchdog_seconds=1.5, ping_seconds=(0.3, 0.4), min_ping_gap=0.2)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await start_engine(engine)
        await wait_for(lambda: "NASDAQ:AAPL" in engine.store.quotes)
        sim.faults.silent = sim.faults.mute_heartbeats = True
        sim.faults.ignore_pings = not pings_answered
        started = time.monotonic()
        await wait_for(lambda: len(sim.records_for("live")) >= 2, 10)
        assert time.monotonic() - started < 1.5 + 2.5
        sim.faults.silent = sim.faults.mute_heartbeats = sim.faults.ignore_pings = False
        await wait_for(lambda: bool(sim.records_for("live")[1].subscription_messages))
        await asyncio.sleep(0.5)
        assert len(sim.records_for("live")[1].subscription_messages) == 1
        assert sim.records_for("live")[0].pings > 0
        await finish_engine(engine, task)


# 4 ------------------------------------------------------------------------------------------


async def test_case04_blackholed_peer_no_zombie_socket() -> None:
    """Guide section 5: 'explicitly close the existing socket first ... Do not just abandon
    the old connection'. A blackholed peer is detected, the old socket is closed within its
    close timeout, and no file descriptor is left behind."""
    async with run_simulator(fast_settings(heartbeat_seconds=0.3)) as sim:
        proxy, url = await proxied(sim)
        engine = live_only(sim, watchdog_seconds=1.5, close_timeout=0.5)
        engine.config.endpoints.live_url = url
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await start_engine(engine)
        await wait_for(lambda: "NASDAQ:AAPL" in engine.store.quotes)
        await asyncio.sleep(0.5)
        baseline = open_fds()
        feed = engine.feeds[0]
        proxy.toxics.blackhole = True
        started = time.monotonic()
        await wait_for(lambda: feed.status.state is not FeedState.LIVE, 6)
        assert time.monotonic() - started < 1.5 + 0.5 + 1.5  # watchdog + close timeout
        proxy.toxics.blackhole = False
        await wait_for(lambda: feed.status.state is FeedState.LIVE and feed.status.connects >= 2)
        await asyncio.sleep(0.5)
        assert feed.sockets_open == 1
        assert open_fds() <= baseline
        await finish_engine(engine, task)
        await proxy.stop()


# 5 ------------------------------------------------------------------------------------------

CHURN_CODES = ["NASDAQ:AAPL", "NASDAQ:MSFT", "NYSE:IBM", "FX:EURUSD", "BINANCE:BTCUSDT"]
"""Symbols the churn test adds and removes."""
churn_ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.sampled_from(CHURN_CODES)),
        st.tuples(st.just("remove"), st.sampled_from(CHURN_CODES)),
        st.tuples(st.just("focus"), st.sampled_from(CHURN_CODES)),
        st.tuples(st.just("drop"), st.just("")),
    ),
    min_size=1,
    max_size=8,
)


async def _churn(ops: list[tuple[str, str]]) -> None:
    async with run_simulator(fast_settings()) as sim:
        proxy, url = await proxied(sim)
        engine = live_only(sim, debounce=0.05)
        engine.config.endpoints.live_url = url
        watch = ["NASDAQ:AAPL"]
        focus = "NASDAQ:AAPL"

        def desired() -> list[Subscription]:
            series = Subscription(code=focus, type="series", bar_type="minute", max_dp=5)
            return [*quotes(*watch), series]

        engine.set_desired(desired())
        task = await start_engine(engine)
        await wait_for(lambda: bool(sim.records_for("live")))
        for op, code in ops:
            if op == "add" and code not in watch:
                watch.append(code)
            elif op == "remove" and code in watch and len(watch) > 1:
                watch.remove(code)
            elif op == "focus":
                focus = code
            elif op == "drop":
                proxy.cut()
            engine.set_desired(desired())
            await asyncio.sleep(0.03)
        feed = engine.feeds[0]
        await wait_for(lambda: feed.status.state is FeedState.LIVE, 20)
        connects = feed.status.connects
        proxy.cut()  # and one last drop: the new socket must re-subscribe on its own
        await wait_for(lambda: feed.status.connects > connects, 20)

        def settled() -> bool:
            records = [r for r in sim.records_for("live") if r.subscription_messages]
            return (
                feed.status.state is FeedState.LIVE
                and bool(records)
                and records[-1].closed_at is None
                and records[-1].subscription_messages[-1] == engine.desired
            )

        await wait_for(settled, 20)
        records = [r for r in sim.records_for("live") if r.subscription_messages]
        assert records[-1].subscription_messages[-1] == desired()
        for record in records:  # every connection began with one full subscription message
            assert record.subscription_messages[0]
        sent = sum(len(r.subscription_messages) for r in records)
        assert sent <= len(records) + len(ops)
        await finish_engine(engine, task)
        await proxy.stop()


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(churn_ops)
@example([("drop", "")])
def test_case05_resubscribe_under_churn(ops: list[tuple[str, str]]) -> None:
    """Guide section 2: 'Each new subscription message completely replaces your current
    subscriptions'; section 5: re-send the subscription in the open handler. Whatever the
    interleaving of edits and drops, the server ends with exactly the desired set."""
    asyncio.run(_churn(ops))


# 6 ------------------------------------------------------------------------------------------


async def test_case06_budget_under_storm_churn_and_restart(isolated_paths: Path) -> None:
    """Guide section 2: 'Avoid sending more than 120 subscription messages per 3 hours ...
    Rapid reconnections from the same account are throttled the same way.' Every message the
    server saw is counted, across a restart, and leaves the window after 3 hours."""
    state = isolated_paths / "state"
    clock = [time.time()]
    faults = Faults(close_code=1001, close_after_seconds=0.3)
    async with run_simulator(fast_settings(), faults) as sim:
        engine = live_only(sim, state_dir=state, debounce=0.05)
        engine.budget.clock = lambda: clock[0]
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await start_engine(engine)
        for index in range(20):  # keyboard churn during a reconnect storm
            engine.set_desired(quotes("NASDAQ:AAPL", CHURN_CODES[index % 5]))
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        await finish_engine(engine, task)
        seen = sum(len(r.subscription_messages) for r in sim.records_for("live"))
    assert seen >= 3 and engine.budget.used() == seen
    again = live_only(sim, state_dir=state)
    again.budget.clock = lambda: clock[0]
    assert again.budget.used() == seen
    clock[0] += 3 * 3600 + 1
    assert again.budget.used() == 0


# 7 ------------------------------------------------------------------------------------------


async def _close_path(path: str, sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = live_only(sim, watchdog_seconds=1.0)
    engine.set_desired(quotes("NASDAQ:AAPL"))
    task = await start_engine(engine)
    await wait_for(lambda: "NASDAQ:AAPL" in engine.store.quotes)
    if path == "quit":
        await finish_engine(engine, task)
    elif path == "cancelled worker":
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    elif path == "crash in a handler":
        original = LiveFeed.on_frame

        def explode(self: LiveFeed, frame: str | bytes, now: float) -> None:
            monkeypatch.setattr(LiveFeed, "on_frame", original)
            raise RuntimeError("handler bug")

        monkeypatch.setattr(LiveFeed, "on_frame", explode)
        await wait_for(lambda: len(sim.records_for("live")) >= 2)
        await finish_engine(engine, task)
    elif path == "manual reconnect":
        engine.reconnect()
        await wait_for(lambda: len(sim.records_for("live")) >= 2)
        await finish_engine(engine, task)
    elif path == "watchdog":
        sim.faults.silent = sim.faults.mute_heartbeats = True
        await wait_for(lambda: len(sim.records_for("live")) >= 2)
        await finish_engine(engine, task)


@pytest.mark.parametrize(
    "path", ["quit", "cancelled worker", "crash in a handler", "manual reconnect", "watchdog"]
)
async def test_case07_close_code_hygiene(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Guide section 5: 'explicitly close the existing socket first (e.g., ws.close(1000))'.
    The server sees 1000 on every exit path (websockets >= 17.2 would send 1011 from a context
    manager exited by an exception)."""
    async with run_simulator(fast_settings()) as sim:
        await _close_path(path, sim, monkeypatch)
        await wait_for(lambda: all(r.closed_at for r in sim.records_for("live")))
        assert {r.close_code_received for r in sim.records_for("live")} == {1000}


# 8 ------------------------------------------------------------------------------------------

ERROR_REACTIONS = {
    "invalid_request": "open",
    "invalid_symbol": "open-removed",
    "invalid_bar_interval": "open-removed",
    "invalid_currency_code": "open-removed",
    "invalid_unit_code": "open-removed",
    "max_connections_exceeded": "long-backoff",
    "connection_evicted": "long-backoff",
    "server_busy": "reconnect",
    "internal_server_error": "reconnect",
}
"""Guide section 6, Error Codes, and what the client must do for each."""


@pytest.mark.parametrize(("code", "reaction"), sorted(ERROR_REACTIONS.items()))
async def test_case08_error_table(code: str, reaction: str) -> None:
    """Guide section 6: 'For errors that stay open, correct the invalid fields ... For errors
    that close the connection, reconnect with exponential backoff'."""
    async with run_simulator(fast_settings(), Faults(inject_error=code)) as sim:
        engine = live_only(sim)
        series = Subscription(code="NASDAQ:MSFT", type="series", bar_type="minute")
        engine.set_desired([series, *quotes("NASDAQ:AAPL")])
        task = await start_engine(engine)
        feed = engine.feeds[0]
        if reaction.startswith("open"):
            await wait_for(
                lambda: any(code in n.text or "removed" in n.text for n in engine.notice_log)
            )
            await asyncio.sleep(1.0)
            assert len(sim.records_for("live")) == 1 and feed.status.state is FeedState.LIVE
            if reaction == "open-removed":
                assert all(s.code != "NASDAQ:MSFT" or s.type == "quote" for s in engine.desired)
        elif reaction == "reconnect":
            await wait_for(lambda: len(sim.records_for("live")) >= 2, 5)
            assert code in (feed.status.last_error or "")
        else:
            await wait_for(lambda: feed.status.state is FeedState.RECONNECTING)
            assert feed.status.retry_at is not None and feed.status.retry_at - time.time() > 55
            assert any("Another client" in n.text for n in engine.notice_log)
        await finish_engine(engine, task)


# 9 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [1000, 1001])
async def test_case09_server_maintenance_close(code: int) -> None:
    """Guide section 5: 'Network issues, server restarts ... will occasionally close your
    connection'; reconnect with backoff, never exit, never a tight loop."""
    faults = Faults(close_code=code, close_after_seconds=0.2)
    async with run_simulator(fast_settings(), faults) as sim:
        engine = live_only(sim)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await start_engine(engine)
        await asyncio.sleep(5.0)
        attempts = len(sim.records_for("live"))
        assert 2 <= attempts <= 6
        assert engine.feeds[0].status.state is not FeedState.STOPPED
        await finish_engine(engine, task)
