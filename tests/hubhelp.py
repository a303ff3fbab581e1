"""The hub in tests: panes that keep a mirror and acknowledge, a hub on the test's simulator,
and private runtime folders short enough for a Unix socket path."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from tests.enginehelp import wait_for
from tui import __version__
from tui.alerts.model import AlertView
from tui.cli.launch import demo_keys, demo_runtime_config
from tui.config import Config, Watchlist, preset_plan
from tui.engine.engine import EngineSettings
from tui.engine.status import FeedStatus
from tui.hub.client import RemoteSession, hub_alive
from tui.hub.place import HubPlace
from tui.hub.server import Hub, HubOptions
from tui.hub.wire import PROTOCOL, Hello
from tui.portfolio.model import PortfolioFile
from tui.session.mirror import StoreMirror
from tui.session.values import SessionBatch, ViewState
from tui.sim.server import Simulator


class PaneView:
    """Keeps a mirror from the batches and acknowledges each (or not, when told)."""

    def __init__(self, session: RemoteSession, *, acks: bool = True) -> None:
        self.session, self.acks = session, acks
        self.mirror = StoreMirror()
        self.state: ViewState | None = None
        self.notices: list[str] = []
        self.batches = 0
        self.marks: dict[str, str] = {}
        self.series_marks: dict[str, str] = {}
        self.budget = ""
        self.via: str | None = None
        self.statuses: list[FeedStatus] = []
        self.portfolio: PortfolioFile | None = None
        self.alerts: list[AlertView] | None = None

    def on_batch(self, batch: SessionBatch) -> None:
        self.batches += 1
        self.mirror.apply_batch(batch)
        self.notices.extend(n.text for n in batch.notices)
        self.marks = batch.marks
        self.series_marks = batch.series_marks
        self.budget = batch.budget or self.budget
        self.via = batch.via
        self.statuses = batch.statuses
        if batch.state is not None:
            self.state = batch.state
        self.portfolio = batch.portfolio if batch.portfolio is not None else self.portfolio
        self.alerts = batch.alerts if batch.alerts is not None else self.alerts
        if self.acks:
            asyncio.get_running_loop().call_soon(self.session.batch_done)


TASKS: set[asyncio.Task[None]] = set()
"""Pane tasks (a reference keeps each alive until its session stops)."""


def hello(symbols: list[str] | None = None, protocol: int = PROTOCOL) -> Hello:
    return Hello(protocol, __version__, "test", symbols)


@contextlib.asynccontextmanager
async def running_hub(
    sim: Simulator,
    tmp_path: Path,
    plan: str = "mega",
    *,
    stocknews: bool = False,
    record_path: Path | None = None,
    watchlists: list[Watchlist] | None = None,
    engine: EngineSettings | None = None,
) -> AsyncIterator[Hub]:
    config = Config(plan=preset_plan(plan))
    if watchlists is not None:
        config.watchlists = watchlists
    assert sim.urls is not None
    hub = Hub(
        HubOptions(
            config=config,
            config_path=None,
            keys=demo_keys(),
            place=HubPlace("test", tmp_path),
            runtime_config=demo_runtime_config(config, sim.urls),
            demo=True,
            linger_seconds=0,
            engine_settings=dataclasses.replace(
                engine or EngineSettings(debounce=0.1), stocknews=stocknews
            ),
            record_path=record_path,
        )
    )
    task = asyncio.create_task(hub.serve())
    await wait_for(lambda: hub_alive(hub.options.place.socket))
    try:
        yield hub
    finally:
        hub.stop()
        await asyncio.wait_for(task, 10)


async def attach(hub: Hub, symbols: list[str] | None = None, acks: bool = True) -> PaneView:
    session = RemoteSession(hub.options.place, hello(symbols))
    view = PaneView(session, acks=acks)
    TASKS.add(asyncio.create_task(session.run(view.on_batch)))
    return view


def short_runtime_dir(prefix: str = "mp") -> Path:
    """A private runtime directory with a short path (a Unix socket path has ~100 bytes),
    removed when this test process ends (it is outside pytest's own temporary folders)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def _env(runtime: Path, home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        XDG_RUNTIME_DIR=str(runtime),
        MARKETPANE_STATE_DIR=str(home / "state"),
        MARKETPANE_CONFIG=str(home / "config.toml"),
    )
    return env
