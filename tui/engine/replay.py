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


async def replay_into(engine: Engine, rows: list[tuple[float, str, str]], speed: float) -> int:
    """Dispatch recorded frames into ``engine`` at ``speed`` times real time; returns count."""
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
        due = began + (when - start) / speed
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        feed.status.messages += 1
        feed.on_frame(frame, when)
    return len(rows)
