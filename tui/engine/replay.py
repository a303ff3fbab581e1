"""Read a ``--record`` file and feed it through the same decode and store path as live frames,
with no network (``marketpane replay`` is wired in :mod:`tui.cli`)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tui.engine.engine import Engine
from tui.engine.feeds import LiveFeed, NewsfeedFeed, StockNewsFeed
from tui.engine.supervisor import Supervisor


class ReplayError(Exception):
    """The recording cannot be read."""


def read_recording(path: Path) -> list[tuple[float, str, str]]:
    """``(time, feed, frame)`` rows of a recording; bad lines are skipped and counted."""
    rows: list[tuple[float, str, str]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ReplayError(f"{path}: cannot read recording: {exc}") from None
    for line in lines:
        try:
            item = json.loads(line)
            rows.append((float(item["t"]), str(item["feed"]), str(item["frame"])))
        except (ValueError, KeyError, TypeError):
            continue
    if not rows:
        raise ReplayError(f"{path}: no recorded frames")
    return rows


class ReplayClock:
    """Where a replay is in its recording: it can be paused, and skipped forward (a replay is
    a stream of frames into the store, so it never goes back)."""

    def __init__(self) -> None:
        self.running = asyncio.Event()
        self.running.set()
        self.skipped = 0.0
        """Recording seconds skipped so far."""
        self.position = 0.0
        """Where in the recording (seconds from its start) the last frame played was."""

    @property
    def paused(self) -> bool:
        return not self.running.is_set()

    def toggle(self) -> None:
        """Pause, or go on from where it paused."""
        if self.running.is_set():
            self.running.clear()
        else:
            self.running.set()

    def skip(self, seconds: float) -> None:
        """Jump ``seconds`` of the recording ahead (the frames between are applied at once)."""
        self.skipped += seconds


async def replay_into(
    engine: Engine,
    rows: list[tuple[float, str, str]],
    speed: float,
    clock: ReplayClock | None = None,
) -> int:
    """Dispatch recorded frames into ``engine`` at ``speed`` times real time (paused and
    skipped by ``clock``); returns count."""
    clock = clock or ReplayClock()
    feeds: dict[str, Supervisor] = {f.name: f for f in engine.feeds}
    for cls in (LiveFeed, NewsfeedFeed, StockNewsFeed):
        if cls.name not in feeds:
            feeds[cls.name] = cls(engine)
    start = rows[0][0]
    loop = asyncio.get_running_loop()
    began = loop.time()
    for when, feed_name, frame in rows:
        feed = feeds.get(feed_name)
        if feed is None:
            continue
        while True:
            if clock.paused:
                stopped = loop.time()
                await clock.running.wait()
                began += loop.time() - stopped  # the pause does not count
            due = began + (when - start - clock.skipped) / speed
            delay = due - loop.time()
            if delay <= 0:
                break
            await asyncio.sleep(min(delay, 0.25))  # a pause or a skip is seen within 0.25 s
        clock.position = when - start
        feed.status.messages += 1
        feed.on_frame(frame, when)
    return len(rows)
