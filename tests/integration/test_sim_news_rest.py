"""The simulator's /newsfeed, StockNews /ws and REST endpoints over loopback."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.simhelp import fast_settings, open_ws, recv_json, recv_until
from tui.protocol.stocknews import News, dispatch_stocknews
from tui.sim.server import run_simulator
from tui.sim.settings import (
    DEMO_KEY,
    DEMO_RAPIDAPI_KEY,
    DEMO_STOCKNEWS_TOKEN,
    EXPIRED_STOCKNEWS_TOKEN,
)


async def test_newsfeed_ten_recent_then_new() -> None:
    """Guide section 1: 'the server automatically sends the 10 most recent news items'."""
    async with run_simulator(fast_settings()) as sim:
        ws = await open_ws(sim.urls.newsfeed)
        await ws.send(json.dumps({"api_key": DEMO_KEY}))
        items = [await recv_json(ws) for _ in range(10)]
        assert [i["title"] for i in items] == [s.title for s in list(sim.stories)[-10:]]
        assert set(items[0]) >= {
            "title",
            "content",
            "link",
            "published_at",
            "related_symbols",
            "source",
        }
        sim.publish(sim.news.make(0.0))
        new = await recv_json(ws)
        assert new["title"] == sim.stories[-1].title
        await ws.close()


async def test_newsfeed_filters_and_bad_key() -> None:
    """protocol-notes: optional source/related_symbols/content filters; bad key refused."""
    async with run_simulator(fast_settings()) as sim:
        source = sim.stories[-1].source
        ws = await open_ws(sim.urls.newsfeed)
        await ws.send(json.dumps({"api_key": DEMO_KEY, "source": source}))
        expected = [s for s in sim.stories if s.source == source][-10:]
        got = [await recv_json(ws) for _ in expected]
        assert all(i["source"] == source for i in got)
        await ws.close()
        bad = await open_ws(sim.urls.newsfeed)
        await bad.send(json.dumps({"api_key": "nope"}))
        assert (await recv_json(bad))["error"] == "unauthorized"
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(bad.recv(), 3)


async def test_stocknews_tokens() -> None:
    """StockNews guide, Error Handling: '1008: Authentication failed or subscription expired'."""
    async with run_simulator(fast_settings()) as sim:
        for token in ("wrong", EXPIRED_STOCKNEWS_TOKEN):
            ws = await open_ws(f"{sim.urls.stocknews}?token={token}")
            with pytest.raises(ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), 3)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1008


async def test_stocknews_connected_news_subscribe_ping() -> None:
    """StockNews guide: connected, then news with every documented field; subscribe; ping."""
    async with run_simulator(fast_settings()) as sim:
        ws = await open_ws(f"{sim.urls.stocknews}?token={DEMO_STOCKNEWS_TOKEN}")
        connected = await recv_json(ws)
        assert connected["type"] == "connected" and connected["subscription"]["isActive"]
        sim.publish(sim.news.make(0.0))
        raw = await asyncio.wait_for(ws.recv(), 5)
        event = dispatch_stocknews(raw)
        assert isinstance(event, News)
        data = json.loads(raw)["data"]
        documented = {
            "ticker",
            "sentimentScore",
            "sentimentLabel",
            "confidence",
            "summary",
            "content",
            "category",
            "stockTickers",
            "keyFactors",
            "price",
            "priceChange",
            "priceFormatted",
            "marketCap",
            "sector",
            "articleUrl",
            "timestamp",
            "volume",
            "priceCurrency",
            "isStockRelated",
            "articleSlug",
            "channel",
            "guild",
        }
        assert documented <= set(data)
        assert isinstance(data["volume"], int | float) and data["volume"] > 0
        score, label = data["sentimentScore"], data["sentimentLabel"]
        assert (score > 0.2) == ("Bullish" in label) and (score < -0.2) == ("Bearish" in label)
        await ws.send(json.dumps({"type": "subscribe", "tickers": ["ZZZZ"]}))
        await recv_until(ws, lambda m: m.get("type") == "subscribed")
        sim.publish(sim.news.make(0.0))
        await ws.send(json.dumps({"type": "ping"}))
        assert (await recv_json(ws)) == {"type": "pong"}  # the filtered story never arrived
        await ws.close()


async def test_rest_websocket_key_rotation_limits() -> None:
    """Guide section 7: key response {api_key, expiration}, a week ahead; 10 a day."""
    async with run_simulator(fast_settings()) as sim:
        async with httpx.AsyncClient(base_url=sim.urls.rest) as client:
            headers = {
                "x-rapidapi-key": DEMO_RAPIDAPI_KEY,
                "x-rapidapi-host": "insightsentry.p.rapidapi.com",
            }
            keys = []
            for _ in range(10):
                response = await client.get("/v2/websocket-key", headers=headers)
                assert response.status_code == 200
                keys.append(response.json())
            assert keys[0]["expiration"] - keys[0]["api_key"].__len__() > 0
            limited = await client.get("/v2/websocket-key", headers=headers)
            assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
            denied = await client.get("/v2/websocket-key", headers={"x-rapidapi-key": "x"})
            assert denied.status_code == 403
        ws = await open_ws(sim.urls.live)
        await recv_json(ws)
        await ws.send(
            json.dumps(
                {
                    "api_key": keys[0]["api_key"],
                    "subscriptions": [{"code": "FX:EURUSD", "type": "quote"}],
                }
            )
        )
        assert "data" in await recv_until(ws, lambda m: "data" in m or "error" in m)
        await ws.close()


async def test_rest_search_and_quotes() -> None:
    """protocol-notes: /v3/symbols/search and /v3/symbols/quotes shapes; Bearer auth."""
    async with run_simulator(fast_settings()) as sim:
        async with httpx.AsyncClient(base_url=sim.urls.rest) as client:
            auth = {"Authorization": f"Bearer {DEMO_KEY}"}
            found = (
                await client.get("/v3/symbols/search", params={"query": "apple"}, headers=auth)
            ).json()
            assert found["symbols"][0]["code"] == "NASDAQ:AAPL" and found["has_more"] is False
            quotes = (
                await client.get(
                    "/v3/symbols/quotes", params={"codes": "NASDAQ:AAPL,FX:EURUSD"}, headers=auth
                )
            ).json()
            assert quotes["total_items"] == 2 and quotes["data"][1]["code"] == "FX:EURUSD"
            assert (await client.get("/v3/symbols/search")).status_code == 401


@pytest.mark.parametrize("status", [401, 429, 503])
async def test_refuse_handshake_fault(status: int) -> None:
    """Fault switch: refuse the handshake with 401/429/503."""
    async with run_simulator(fast_settings()) as sim:
        sim.faults.refuse_handshake = status
        with pytest.raises(InvalidStatus) as info:
            await open_ws(sim.urls.live)
        assert info.value.response.status_code == status


async def test_send_side_faults() -> None:
    """Fault switches: malformed JSON, binary frames, mute heartbeats, drop after N."""
    async with run_simulator(fast_settings(heartbeat_seconds=0.1)) as sim:
        sim.faults.malformed_every = 2
        sim.faults.binary_every = 3
        ws = await open_ws(sim.urls.live)
        frames = [await asyncio.wait_for(ws.recv(), 3) for _ in range(6)]
        assert any(isinstance(f, bytes) for f in frames)
        assert any(isinstance(f, str) and f.startswith('{"last_update": 1, "data"') for f in frames)
        await ws.close()
        sim.faults.malformed_every = sim.faults.binary_every = None
        sim.faults.mute_heartbeats = True
        mute = await open_ws(sim.urls.live)
        await recv_json(mute)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(mute.recv(), 0.6)
        await mute.close()
        sim.faults.mute_heartbeats = False
        sim.faults.drop_after_messages = 2
        dropped = await open_ws(sim.urls.live)
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await asyncio.wait_for(dropped.recv(), 3)
        assert info.value.rcvd is None  # no close frame: the TCP connection was cut


@pytest.mark.parametrize("code", [1000, 1001, 1011])
async def test_close_code_and_accept_then_close(code: int) -> None:
    """Fault switches: close with 1000/1001/1011; accept-then-close immediately."""
    async with run_simulator(fast_settings()) as sim:
        sim.faults.close_code = code
        sim.faults.close_after_seconds = 0.1
        ws = await open_ws(sim.urls.live)
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await asyncio.wait_for(ws.recv(), 3)
        assert info.value.rcvd is not None and info.value.rcvd.code == code
        sim.faults.accept_then_close = True
        quick = await open_ws(sim.urls.live)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(quick.recv(), 3)


async def test_slow_consumer_is_bounded() -> None:
    """A client that never reads cannot grow the simulator's memory: bounded, counted."""
    settings = fast_settings(send_queue_limit=500, firehose_rate=60_000)
    async with run_simulator(settings) as sim:
        ws = await open_ws(sim.urls.live)
        await ws.send(
            json.dumps(
                {"api_key": DEMO_KEY, "subscriptions": [{"code": "FX:EURUSD", "type": "quote"}]}
            )
        )
        await asyncio.sleep(3.0)  # never read
        session = sim.live_sessions[0]
        assert len(session.outbox.queue) <= 500
        assert sim.records_for("live")[0].dropped > 0
        assert ws.transport is not None
        ws.transport.abort()
