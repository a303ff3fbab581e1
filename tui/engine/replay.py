"""Read a ``--record`` file and feed it through the same decode and store path as live frames,
with no network (``marketpane replay`` is wired in :mod:`tui.cli`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
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


def _span(seconds: float) -> str:
    """``2:05`` or ``1:02:05``."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ReplayClock:
    """Where a replay is in its recording: paused, skipped ahead, or sought back (a seek back
    empties the store and plays the recording again from its start, at once, up to the
    target, so what is shown is what the recording held then)."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self.length = 0.0
        """The recording's length in seconds (its last frame's offset)."""
        self.started_at = 0.0
        """The recording's first frame's wall time (epoch seconds)."""
        self.ended = False
        """Every frame was played; a seek back plays again."""
        self.rewind_to: float | None = None
        """A seek back asked for and not yet begun."""
        self.rewinds = 0
        """Seeks back done: each emptied the store first."""
        self.woken = asyncio.Event()
        """Set by a seek or a pause change, so the replay acts on it at once."""
        self._origin = time.monotonic()
        self._offset = 0.0
        self._paused_at: float | None = None

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    @property
    def position(self) -> float:
        """Where the replay is (seconds from the recording's start), paused or not."""
        now = self._paused_at if self._paused_at is not None else time.monotonic()
        return min(self.length, (now - self._origin) * self.speed + self._offset)

    def restart(self, offset: float) -> None:
        """Schedule the recording so that ``offset`` is now (kept paused if it was)."""
        self._origin = self._paused_at if self._paused_at is not None else time.monotonic()
        self._offset = offset

    def toggle(self) -> None:
        """Pause, or go on from where it paused."""
        now = time.monotonic()
        if self._paused_at is None:
            self._paused_at = now
        else:
            self._origin += now - self._paused_at  # the pause does not count
            self._paused_at = None
        self.woken.set()

    def seek(self, seconds: float) -> None:
        """Move ``seconds`` of the recording ahead (the frames between are applied at once)
        or back (negative: played again from the start up to there)."""
        if seconds >= 0:
            self._offset += seconds
        else:
            self.rewind_to = max(0.0, self.position + seconds)
        self.woken.set()

    def describe(self) -> str:
        """``REPLAY Fri 14:03:12 (2:05/10:00)``: the recorded moment shown, and how far in."""
        moment = time.strftime("%a %H:%M:%S", time.localtime(self.started_at + self.position))
        text = f"REPLAY {moment} ({_span(self.position)}/{_span(self.length)})"
        if self.speed != 1:
            text += f" x{self.speed:g}"
        return text + (" ended" if self.ended else "")

    async def until(self, offset: float) -> bool:
        """Wait until the frame ``offset`` seconds into the recording is due; False when a
        seek back interrupts the wait."""
        while self.rewind_to is None:
            late = self.position - offset
            if late >= 0:
                return True
            self.woken.clear()
            wait = None if self.paused else -late / self.speed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.woken.wait(), wait)
        return False


async def replay_into(
    engine: Engine,
    rows: list[tuple[float, str, str]],
    speed: float,
    clock: ReplayClock | None = None,
    *,
    hold: bool = False,
    on_end: Callable[[int], None] | None = None,
) -> int:
    """Dispatch recorded frames into ``engine`` at ``speed`` times real time (paused, skipped
    and sought by ``clock``); returns the frames played. With ``hold`` it waits at the end
    for a seek back instead of returning (``on_end`` is told each time the end is reached)."""
    clock = clock or ReplayClock()
    clock.speed = speed
    feeds: dict[str, Supervisor] = {f.name: f for f in engine.feeds}
    for cls in (LiveFeed, NewsfeedFeed, StockNewsFeed):
        if cls.name not in feeds:
            feeds[cls.name] = cls(engine)
    start = rows[0][0]
    clock.started_at, clock.length = start, rows[-1][0] - start
    clock.restart(0.0)
    index = played = 0
    while True:
        if clock.rewind_to is not None:
            clock.restart(clock.rewind_to)
            clock.rewind_to = None
            engine.store.clear()
            clock.rewinds += 1
            clock.ended = False
            index = played = 0
        if index == len(rows):
            clock.ended = True
            if on_end is not None:
                on_end(played)
            if not hold:
                return played
            while clock.rewind_to is None:
                clock.woken.clear()
                await clock.woken.wait()
            continue
        when, feed_name, frame = rows[index]
        feed = feeds.get(feed_name)
        if feed is not None:
            if not await clock.until(when - start):
                continue  # sought back: start again
            feed.status.messages += 1
            feed.on_frame(frame, when)
            played += 1
        index += 1
