"""The one place the pieces are wired: a session (live, demo on the embedded simulator, or a
replay) under a view, run until closed. The CLI calls :func:`run_app`; tests and the benchmark
call :func:`build_app`."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui import paths
from tui.engine.engine import EngineSettings
from tui.session.demo import demo_keys, demo_runtime_config, demo_sim_settings
from tui.session.session import Session, SessionOptions
from tui.sim.server import SimulatorThread

if TYPE_CHECKING:
    from tui.cli import RunOptions
    from tui.ui.app import MarketpaneApp

__all__ = ["build_app", "demo_keys", "demo_runtime_config", "run_app", "run_until_closed"]

CLOSE_SECONDS = 1.0
"""How long an exit waits for the sockets' closing handshakes before aborting them."""


def build_app(session_options: SessionOptions, **view: Any) -> MarketpaneApp:
    """A view over a new in-process session; ``view`` sets :class:`ViewOptions` fields."""
    from tui.ui.app import MarketpaneApp, ViewOptions

    session = Session(session_options)
    return MarketpaneApp(session, ViewOptions(display=session_options.config.display, **view))


def run_app(
    options: RunOptions, replay: tuple[list[tuple[float, str, str]], float] | None = None
) -> int:
    """Run the dashboard for parsed CLI options; returns the exit status."""
    simulator = None
    runtime = options.config
    keys = options.keys
    demo = options.demo and replay is None
    if demo:
        simulator = SimulatorThread(
            demo_sim_settings(options.config, seed=options.seed, speed=options.speed)
        )
        runtime = demo_runtime_config(options.config, simulator.start())
        keys = demo_keys()
    display = options.config.display
    first_frame = os.environ.get("MARKETPANE_FIRST_FRAME_FILE")
    try:
        app = build_app(
            SessionOptions(
                config=options.config,
                config_path=options.config_path,
                keys=keys,
                runtime_config=runtime,
                demo=demo,
                symbols=options.symbols,
                engine_settings=EngineSettings(
                    ui_hz=display.ui_hz, quiet_hz=display.quiet_hz, idle_hz=display.idle_hz
                ),
                state_dir=paths.state_dir() if not options.demo else paths.state_dir() / "demo",
                record_path=options.record,
                replay=replay,
            ),
            theme=options.theme,
            layout=options.layout,
            handle_signals=True,
            first_frame_file=Path(first_frame) if first_frame else None,
        )
        return run_until_closed(app, headless=first_frame is not None)
    finally:
        if simulator is not None:
            simulator.stop()


def run_until_closed(app: MarketpaneApp, *, headless: bool = False) -> int:
    """Run ``app`` on a new event loop and return its exit status: 0 after ``q``, 128 + the
    signal after SIGHUP/SIGTERM/SIGINT, 1 after a crash."""
    asyncio.run(run_then_close(app, headless=headless))
    return app.return_code or 0


async def run_then_close(app: MarketpaneApp, *, headless: bool = False) -> None:
    """Run the app; however it ends (quit, signal, crash), close every socket with 1000 before
    the event loop goes away. A crash leaves ``app.return_code`` at 1."""
    try:
        await app.run_async(headless=headless)
    finally:
        await app.session.close(CLOSE_SECONDS)
