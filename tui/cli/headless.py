"""A session with no view: ``marketpane print --watch`` reads its batches as values.

Through the account's hub when the config allows one (started if none answers, exactly as a
pane does), else an engine in this process (the demo's simulator with it). Nothing here
imports Textual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tui import __version__, paths
from tui.config import Config
from tui.engine.engine import EngineSettings
from tui.hub.client import HubError, RemoteSession, check_hello, ensure_hub, hub_place
from tui.hub.place import account_id
from tui.hub.wire import PROTOCOL, Hello
from tui.secrets import Keys
from tui.session.demo import start_demo, state_dir_for
from tui.session.session import Session, SessionOptions
from tui.session.values import SessionBatch
from tui.sim.server import SimulatorThread

Values = dict[str, tuple[dict[str, Any] | None, float | None]]


class HeadlessSession:
    """Runs a session and hands each batch's quotes to a callback, acknowledging each."""

    def __init__(self, session: Session | RemoteSession, simulator: SimulatorThread | None) -> None:
        self.session = session
        self.simulator = simulator
        self.via_hub = isinstance(session, RemoteSession)

    async def run(self, on_values: Callable[[Values], None]) -> None:
        loop = asyncio.get_running_loop()

        def on_batch(batch: SessionBatch) -> None:
            values: Values = {q.code: (q.values, q.updated_at) for q in batch.quotes}
            if values:
                on_values(values)
            loop.call_soon(self.session.batch_done)

        await self.session.run(on_batch)

    async def close(self) -> None:
        """Close every socket with 1000 (the hub keeps its own), then the simulator."""
        self.session.stop()
        await self.session.close()
        if self.simulator is not None:
            await asyncio.to_thread(self.simulator.stop)


def headless_session(
    config: Config,
    keys: Keys,
    *,
    demo: bool,
    codes: list[str],
    no_hub: bool,
    config_path: Path | None = None,
) -> HeadlessSession:
    """A session watching ``codes``: via the hub unless ``no_hub`` or the config says off."""
    mode = config.hub.mode
    if not no_hub and mode != "off":
        account = account_id(config, keys, demo=demo)
        serve = ["--config", str(config_path or paths.config_path(None))]
        if demo:
            serve.append("--demo")
        try:
            place = hub_place(account)
            ensure_hub(place, serve)
            hello = Hello(PROTOCOL, __version__, account, codes)
            check_hello(place, hello)
            return HeadlessSession(
                RemoteSession(place, hello, restart=lambda: ensure_hub(place, serve)), None
            )
        except HubError:
            if mode == "require":
                raise
    simulator, runtime, keys = start_demo(config, keys, demo=demo)
    session = Session(
        SessionOptions(
            config=config,
            keys=keys,
            runtime_config=runtime,
            symbols=codes,
            persist=False,
            demo=demo,
            engine_settings=EngineSettings(newsfeed=False, stocknews=False),
            state_dir=state_dir_for(demo),
        )
    )
    return HeadlessSession(session, simulator)
