"""How the engine reads ``/live``'s frames over real loopback sockets: malformed, fragmented
and non-UTF-8 ones counted and survived in order, messages before the reader attaches kept,
a failing handler ending the session, and a quiet feed's paced reads (never at the cost of
a truthful latency)."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from tests.enginehelp import (
    finish_engine,
    live_only,
    quotes,
    start_engine,
    wait_for,
)
from tests.simhelp import fast_settings
from tui.engine import pacing
from tui.engine.direct import FrameConnection
from tui.engine.status import FeedState
from tui.sim.server import run_simulator
from tui.sim.settings import DEMO_KEY, Faults


async def test_malformed_frames_are_counted_and_survived() -> None:
    """Rule: bad frames never stop the engine; they are counted."""
    settings = fast_settings(firehose_rate=3000)
    async with run_simulator(settings, Faults(malformed_every=2, binary_every=7)) as sim:
        engine = live_only(sim)
        engine.set_desired(quotes("NASDAQ:AAPL", "FX:EURUSD"))
        task = await start_engine(engine)
        live = engine.feeds[0]
        await wait_for(lambda: live.status.decode_errors >= 1000, 20)
        assert live.status.state is FeedState.LIVE and live.status.connects == 1
        assert "FX:EURUSD" in engine.store.quotes
        await finish_engine(engine, task)


async def test_fragmented_and_non_utf8_messages_are_taken_whole_and_in_order() -> None:
    """Rule: a message in several frames is one message (RFC 6455, 5.4); a text frame that
    is not UTF-8 is a bad frame, counted, and the connection stays (no traceback, no 1007
    reconnect). The engine takes frames in the connection's own callback: every message the
    server sent is counted once, in order, so exactly every fifth is the bad one."""
    settings = fast_settings(firehose_rate=2000)
    async with run_simulator(settings, Faults(fragmented_every=3, bad_utf8_every=5)) as sim:
        engine = live_only(sim)
        engine.set_desired(quotes("NASDAQ:AAPL", "FX:EURUSD"))
        task = await start_engine(engine)
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
        await finish_engine(engine, task)


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
        engine = live_only(sim)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        live = engine.feeds[0]
        handle = live.on_frame
        failures = iter([True])

        def on_frame(frame: str | bytes, now: float) -> object:
            if next(failures, False):
                raise RuntimeError("boom")
            return handle(frame, now)

        live.on_frame = on_frame  # type: ignore[method-assign,assignment]
        task = await start_engine(engine)
        await wait_for(lambda: live.status.connects >= 2 and "NASDAQ:AAPL" in engine.store.quotes)
        assert "internal error (RuntimeError)" in (live.status.last_error or "")
        await finish_engine(engine, task)


async def test_a_quiet_feed_is_read_a_few_times_a_second_not_once_a_quote() -> None:
    """In a quiet market (200 quotes a second here) the socket is read five times a second:
    the engine holds its batches for half a second there anyway."""
    async with run_simulator(fast_settings(firehose_rate=200)) as sim:
        engine = live_only(sim)
        engine.set_desired(quotes("NASDAQ:AAPL", "FX:EURUSD"))
        live = engine.feeds[0]
        task = await start_engine(engine)
        await wait_for(lambda: live.ws is not None and live.status.messages > 0)
        await asyncio.sleep(3.0)  # past a new connection's prompt first seconds
        ws = live.ws
        assert isinstance(ws, FrameConnection)
        reads, messages = ws.reads, live.status.messages
        await asyncio.sleep(2.0)
        per_read = (live.status.messages - messages) / max(1, ws.reads - reads)
        assert per_read >= 5, per_read  # about 40 a read; read as they come, 1 or 2
        assert live.status.connects == 1 and live.status.decode_errors == 0
        await finish_engine(engine, task)


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
        engine = live_only(sim)
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
        task = await start_engine(engine)
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
        await finish_engine(engine, task)
