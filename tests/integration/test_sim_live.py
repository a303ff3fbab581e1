"""The simulator's /live endpoint over real loopback sockets.

Each test cites the guide section (shared/api/000_*.txt) whose sentence it checks.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from websockets.exceptions import ConnectionClosed

from tests.simhelp import (
    fast_settings,
    is_error,
    is_series,
    open_ws,
    recv_json,
    recv_until,
    subscribe,
)
from tui.sim.server import run_simulator
from tui.sim.settings import DEMO_KEY, DEMO_SMALL_KEY, Faults

QUOTE_AAPL = {"code": "NASDAQ:AAPL", "type": "quote"}


async def test_greeting_then_subscription() -> None:
    """Section 1: 'the server immediately sends a greeting message before you authenticate'."""
    async with run_simulator(fast_settings()) as sim:
        ws = await open_ws(sim.urls.live)
        assert await recv_json(ws) == {"message": "Connecting...", "server": "sim-loopback"}
        await subscribe(ws, DEMO_KEY, [QUOTE_AAPL])
        quote = await recv_until(ws, lambda m: "data" in m)
        assert quote["data"][0]["code"] == "NASDAQ:AAPL" and quote["total_items"] == 1
        await ws.close()


async def test_initial_request_timeout_closes() -> None:
    """Section 1: 'Idle connections that never authenticate are closed automatically.'"""
    async with run_simulator(fast_settings(auth_timeout_seconds=0.3)) as sim:
        ws = await open_ws(sim.urls.live)
        await recv_json(ws)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 3)


async def test_api_key_missing_and_unknown_key() -> None:
    """Section 6 plain error 'api_key field is missing.'; unknown key: error then close 1008
    (the guide is silent; our documented choice)."""
    async with run_simulator(fast_settings()) as sim:
        ws = await open_ws(sim.urls.live)
        await recv_json(ws)
        await ws.send(json.dumps({"subscriptions": [QUOTE_AAPL]}))
        assert await recv_json(ws) == {"message": "api_key field is missing."}
        await subscribe(ws, "not-a-key", [QUOTE_AAPL])
        assert (await recv_json(ws))["error"] == "unauthorized"
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 3)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1008


async def test_each_message_replaces_the_set() -> None:
    """Section 2: 'The server replaces all previous subscriptions with the new ones.'"""
    async with run_simulator(fast_settings()) as sim:
        ws = await open_ws(sim.urls.live)
        await recv_json(ws)
        await subscribe(ws, DEMO_KEY, [{"code": "BINANCE:BTCUSDT", "type": "quote"}])
        await recv_until(ws, lambda m: "data" in m)
        await subscribe(ws, DEMO_KEY, [{"code": "BINANCE:ETHUSDT", "type": "quote"}])
        await recv_until(ws, lambda m: "data" in m and m["data"][0]["code"] == "BINANCE:ETHUSDT")
        for _ in range(20):
            message = await recv_json(ws)
            if isinstance(message, dict) and "data" in message:
                assert message["data"][0]["code"] == "BINANCE:ETHUSDT"
        assert len(sim.records_for("live")[0].subscription_messages) == 2
        await ws.close()


async def test_empty_list_and_oversized_message_rejected_socket_open() -> None:
    """Section 2 'You cannot send an empty subscriptions array'; section 1 'Inbound messages
    larger than 500,000 characters are rejected'. Both: invalid_request, stays open."""
    async with run_simulator(fast_settings()) as sim:
        ws = await open_ws(sim.urls.live)
        await recv_json(ws)
        await subscribe(ws, DEMO_KEY, [])
        assert "empty" in (await recv_until(ws, is_error("invalid_request")))["message"]
        big = json.dumps({"api_key": DEMO_KEY, "subscriptions": [QUOTE_AAPL], "pad": "é" * 500_000})
        await ws.send(big)
        assert "500,000" in (await recv_until(ws, is_error("invalid_request")))["message"]
        await ws.send("not json")
        await recv_until(ws, is_error("invalid_request"))
        await ws.send("ping")
        assert await recv_until(ws, lambda m: m == "pong") == "pong"
        await ws.close()


async def test_invalid_symbol_rejects_only_that_symbol() -> None:
    """Section 6: invalid_symbol — 'Other symbols in the same message are still processed.'"""
    async with run_simulator(fast_settings()) as sim:
        ws = await open_ws(sim.urls.live)
        await recv_json(ws)
        await subscribe(ws, DEMO_KEY, [{"code": "NASDAQ:NOPE", "type": "quote"}, QUOTE_AAPL])
        error = await recv_until(ws, is_error("invalid_symbol"))
        assert error["symbol"] == "NASDAQ:NOPE"
        quote = await recv_until(ws, lambda m: "data" in m)
        assert quote["data"][0]["code"] == "NASDAQ:AAPL"
        await ws.close()


@pytest.mark.parametrize(
    ("sub", "error"),
    [
        ({"code": "NASDAQ:AAPL", "bar_type": "second", "bar_interval": 2}, "invalid_bar_interval"),
        ({"code": "NASDAQ:AAPL", "bar_type": "tick", "bar_interval": 5}, "invalid_bar_interval"),
        ({"code": "NASDAQ:AAPL", "bar_type": "minute", "currency": "XXX"}, "invalid_currency_code"),
        ({"code": "NASDAQ:AAPL", "bar_type": "minute", "unit": "PARSECS"}, "invalid_unit_code"),
        ({"code": "NASDAQ:AAPL", "bar_type": "fortnight"}, "invalid_request"),
    ],
)
async def test_error_table_stays_open(sub: dict[str, object], error: str) -> None:
    """Section 6, Error Codes: these errors leave the connection open."""
    async with run_simulator(fast_settings()) as sim:
        ws = await open_ws(sim.urls.live)
        await recv_json(ws)
        await subscribe(ws, DEMO_KEY, [sub])
        message = await recv_until(ws, is_error(error))
        if error == "invalid_bar_interval":
            assert "Allowed values" in message["message"]
        await ws.send("ping")
        assert await recv_until(ws, lambda m: m == "pong") == "pong"
        await ws.close()


async def test_history_first_and_plan_clamp() -> None:
    """Section 4: 'the first message will contain the most recent max_dp bars ... followed by
    real-time updates with single bars'; 'clamped to your plan's maximum' (pro: 1,000)."""
    async with run_simulator(fast_settings()) as sim:
        ws = await open_ws(sim.urls.live)
        await recv_json(ws)
        sub = {"code": "BINANCE:BTCUSDT", "bar_type": "second", "bar_interval": 1, "max_dp": 5000}
        await subscribe(ws, DEMO_SMALL_KEY, [sub])
        history = await recv_until(ws, is_series("BINANCE:BTCUSDT"))
        assert len(history["series"]) == 1000 and history["bar_type"] == "1s"
        times = [b["time"] for b in history["series"]]
        assert times == sorted(times)
        update = await recv_until(ws, is_series("BINANCE:BTCUSDT"))
        assert len(update["series"]) == 1 and update["series"][0]["time"] >= times[-1]
        await ws.close()


async def test_default_max_dp_is_one_and_30000_on_mega() -> None:
    """Section 4: 'If not specified, defaults to 1'; Mega plan 'up to 30,000 data points'."""
    async with run_simulator(fast_settings()) as sim:
        ws = await open_ws(sim.urls.live)
        await recv_json(ws)
        await subscribe(ws, DEMO_KEY, [{"code": "NASDAQ:AAPL", "bar_type": "minute"}])
        assert len((await recv_until(ws, is_series("NASDAQ:AAPL")))["series"]) == 1
        await subscribe(
            ws, DEMO_KEY, [{"code": "NASDAQ:AAPL", "bar_type": "minute", "max_dp": 30000}]
        )
        big = await recv_until(ws, lambda m: is_series("NASDAQ:AAPL")(m) and len(m["series"]) > 1)
        assert len(big["series"]) == 30_000
        await ws.close()


async def _history(sim_url: str, sub: dict[str, object]) -> list[dict[str, float]]:
    ws = await open_ws(sim_url)
    await recv_json(ws)
    await subscribe(ws, DEMO_KEY, [sub])
    message = await recv_until(ws, is_series(str(sub["code"])))
    await ws.close()
    return list(message["series"])


async def test_adjustment_flags_change_history() -> None:
    """Section 4: split false returns unadjusted prices; dadj applies dividend adjustment;
    badj removes roll gaps; currency converts price values."""
    async with run_simulator(fast_settings(speed=1e-6)) as sim:  # a market that stands still
        url = sim.urls.live
        base = {"code": "NASDAQ:AAPL", "bar_type": "day", "bar_interval": 1, "max_dp": 400}
        adjusted = await _history(url, base)
        unadjusted = await _history(url, {**base, "split": False})
        assert unadjusted[0]["close"] == pytest.approx(adjusted[0]["close"] * 4.0, rel=1e-6)
        assert unadjusted[-1]["close"] == adjusted[-1]["close"]
        dadj = await _history(url, {**base, "dadj": True})
        assert dadj[0]["close"] < adjusted[0]["close"]
        forced = await _history(url, {**base, "dadj": True, "split": False})
        assert forced == unadjusted  # section 4: dadj forced false when split is false
        fut = {"code": "CME_MINI:ES1!", "bar_type": "day", "bar_interval": 1, "max_dp": 400}
        gaps = await _history(url, fut)
        smooth = await _history(url, {**fut, "badj": True})
        assert gaps[0]["close"] != smooth[0]["close"] and gaps[-1] == smooth[-1]
        eur = await _history(url, {**base, "currency": "EUR"})
        assert eur[0]["close"] == pytest.approx(adjusted[0]["close"] * 0.9486, rel=1e-4)


async def test_same_seed_same_history() -> None:
    """Deterministic with a seed."""
    sub = {"code": "NASDAQ:MSFT", "bar_type": "hour", "bar_interval": 1, "max_dp": 50}
    async with run_simulator(fast_settings(seed=3, speed=1e-6)) as one:
        first = await _history(one.urls.live, sub)
    async with run_simulator(fast_settings(seed=3, speed=1e-6)) as two:
        second = await _history(two.urls.live, sub)
    assert [b["open"] for b in first] == [b["open"] for b in second]


async def test_quotes_sparse_and_delay_seconds() -> None:
    """Section 3: delay_seconds 0 / 900 / -1; protocol-notes: sparse quote updates."""
    async with run_simulator(fast_settings()) as sim:
        ws = await open_ws(sim.urls.live)
        await recv_json(ws)
        codes = ["NASDAQ:AAPL", "AMEX:SPY", "OTC:NSRGY"]
        await subscribe(ws, DEMO_KEY, [{"code": c, "type": "quote"} for c in codes])
        snapshot = await recv_until(ws, lambda m: "data" in m)
        delays = {q["code"]: q["delay_seconds"] for q in snapshot["data"]}
        assert delays == {"NASDAQ:AAPL": 0, "AMEX:SPY": 900, "OTC:NSRGY": -1}
        assert snapshot["total_items"] == 3
        update = await recv_until(
            ws, lambda m: "data" in m and m["data"][0]["code"] == "NASDAQ:AAPL"
        )
        assert "prev_close_price" not in update["data"][0]  # unchanged fields are not resent
        await ws.close()


async def test_heartbeats_and_ping() -> None:
    """Section 5: heartbeats {"server_time": ms}; 'Server responds with pong'."""
    async with run_simulator(fast_settings(heartbeat_seconds=0.2)) as sim:
        ws = await open_ws(sim.urls.live)
        beat = await recv_until(ws, lambda m: "server_time" in m)
        assert abs(beat["server_time"] - time.time() * 1000) < 5000
        await ws.send("ping")
        assert await recv_until(ws, lambda m: m == "pong") == "pong"
        await ws.close()


async def test_rate_limit_delays_never_drops() -> None:
    """Section 2: 'The server does not drop your messages when you exceed this — instead, it
    adds small progressive delays'."""
    settings = fast_settings(messages_per_window=2, throttle_step_seconds=0.2)
    async with run_simulator(settings) as sim:
        ws = await open_ws(sim.urls.live)
        await recv_json(ws)
        started = time.monotonic()
        for _ in range(4):
            await subscribe(ws, DEMO_KEY, [{"code": "FX:EURUSD", "type": "quote"}])
        snapshots = 0
        while snapshots < 4:
            message = await recv_json(ws)
            if (
                isinstance(message, dict)
                and message.get("total_items") == 1
                and ("prev_close_price" in message["data"][0])
            ):
                snapshots += 1
        assert time.monotonic() - started >= 0.2 + 0.4  # excess 1 then 2 steps
        assert len(sim.records_for("live")[0].subscription_messages) == 4
        await ws.close()


async def test_connection_limit_evicts_oldest() -> None:
    """Section 1: 'the server will evict your oldest connection (sending a connection_evicted
    error)'; section 6: connection_evicted — Closed by server."""
    async with run_simulator(fast_settings()) as sim:
        first = await open_ws(sim.urls.live)
        await recv_json(first)
        await subscribe(first, DEMO_SMALL_KEY, [QUOTE_AAPL])
        await recv_until(first, lambda m: "data" in m)
        second = await open_ws(sim.urls.live)
        await recv_json(second)
        await subscribe(second, DEMO_SMALL_KEY, [QUOTE_AAPL])
        await recv_until(first, is_error("connection_evicted"))
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(first.recv(), 3)
        await recv_until(second, lambda m: "data" in m)
        await second.close()


@pytest.mark.parametrize(
    ("error", "code"), [("server_busy", 1013), ("internal_server_error", 1011)]
)
async def test_error_then_close_fault(error: str, code: int) -> None:
    """Section 6: server_busy / internal_server_error — Closed by server."""
    faults = Faults(error_then_close=error, close_after_seconds=0.1)  # type: ignore[arg-type]
    async with run_simulator(fast_settings(), faults) as sim:
        ws = await open_ws(sim.urls.live)
        await recv_json(ws)
        await subscribe(ws, DEMO_KEY, [QUOTE_AAPL])
        assert (await recv_until(ws, is_error(error)))["retryable"] is True
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await asyncio.wait_for(ws.recv(), 3)
        assert info.value.rcvd is not None and info.value.rcvd.code == code


async def test_second_bars_only_on_change_minute_bars_on_period_start() -> None:
    """Section 3: second bars 'pushed only when close price or volume changes'; minute bars
    also 'when new bar periods start'."""
    async with run_simulator(fast_settings()) as sim:
        ws = await open_ws(sim.urls.live)
        await recv_json(ws)
        await subscribe(ws, DEMO_KEY, [{"code": "OTC:NSRGY", "bar_type": "second"}])
        await recv_until(ws, is_series("OTC:NSRGY"))  # history; NSRGY is end-of-day: no trades
        with pytest.raises(TimeoutError):
            await recv_until(ws, is_series("OTC:NSRGY"), timeout=1.5)
        await ws.close()
