"""Record and replay: a recording of the simulator's frames (keys masked) played back through
the same decode and store path, with the replay's pause, skip and seek."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.enginehelp import finish_engine, make_engine, quotes, start_engine, wait_for
from tests.simhelp import fast_settings
from tui.engine.replay import read_recording, replay_into
from tui.sim.server import Simulator, run_simulator


async def test_record_and_replay(tmp_path: Path) -> None:
    """Rule: --record writes frames with receive times, keys masked; replay feeds them through
    the same decode and store path."""
    recording = tmp_path / "rec.jsonl"
    async with run_simulator(fast_settings()) as sim:
        engine = make_engine(sim, stocknews=False, record_path=recording)
        engine.set_desired(quotes("NASDAQ:AAPL"))
        task = await start_engine(engine)
        await wait_for(lambda: "NASDAQ:AAPL" in engine.store.quotes and engine.store.news)
        await finish_engine(engine, task)
    text = recording.read_text()
    assert "demo-mega-key" not in text and '"feed": "live"' in text
    rows = read_recording(recording)
    fresh = make_engine(sim, live=False, newsfeed=False, stocknews=False)
    count = await replay_into(fresh, rows, speed=1000.0)
    assert count == len(rows) and "NASDAQ:AAPL" in fresh.store.quotes and fresh.store.news


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
        task = await start_engine(engine)
        await wait_for(lambda: "NASDAQ:MSFT" in engine.store.quotes)
        await asyncio.sleep(0.5)
        await finish_engine(engine, task)
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
        task = await start_engine(engine)
        await wait_for(lambda: "NASDAQ:AAPL" in engine.store.quotes)
        await asyncio.sleep(0.5)
        await finish_engine(engine, task)
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
