"""The one place the pieces are wired: a session (live, demo on the embedded simulator, or a
replay) under a view, run until closed. The CLI calls :func:`run_app`; tests and the benchmark
call :func:`build_app`."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui import __version__
from tui.session.demo import (
    demo_keys,
    demo_runtime_config,
    paced_settings,
    start_demo,
    state_dir_for,
)
from tui.session.session import Session, SessionOptions
from tui.ui.terminal import EXIT_SIGNALS, chain_exit_watchdog

if TYPE_CHECKING:
    from tui.cli.options import RunOptions
    from tui.config import Display
    from tui.hub.client import RemoteSession
    from tui.ui.app import MarketpaneApp

__all__ = ["build_app", "demo_keys", "demo_runtime_config", "run_app", "run_until_closed"]

CLOSE_SECONDS = 1.0
"""How long an exit waits for the sockets' closing handshakes before aborting them."""


def build_app(session_options: SessionOptions, **view: Any) -> MarketpaneApp:
    """A view over a new in-process session; ``view`` sets :class:`ViewOptions` fields."""
    from tui.ui.app import MarketpaneApp, ViewOptions

    session = Session(session_options)
    return MarketpaneApp(session, ViewOptions(display=session_options.config.display, **view))


def _import_view() -> None:
    """Import the view (Textual and the widgets, a fifth of a second or more) while the session
    connects, or while a hub this pane started comes up on the other core."""
    import tui.ui.app  # noqa: F401


def hub_session(options: RunOptions) -> RemoteSession:
    """Attach to this account's hub, starting it if none answers; :class:`HubError` says why
    that failed (the caller falls back to in-process, or refuses in ``require`` mode)."""
    from tui.hub.client import RemoteSession, check_hello, ensure_hub, hub_place
    from tui.hub.place import account_id
    from tui.hub.wire import PROTOCOL, Hello

    demo = options.demo
    account = account_id(options.config, options.keys, demo=demo)
    place = hub_place(account)
    serve = ["--config", str(options.config_path), *options.endpoint_flags]
    if demo:
        serve += ["--demo", "--seed", str(options.seed)]
    if options.plan:
        serve += ["--plan", options.plan]
    ensure_hub(place, serve, while_starting=_import_view)
    record = str(options.record.resolve()) if options.record is not None else None
    hello = Hello(PROTOCOL, __version__, account, options.symbols, record=record)
    check_hello(place, hello)
    return RemoteSession(place, hello, restart=lambda: ensure_hub(place, serve))


def run_app(
    options: RunOptions, replay: tuple[list[tuple[float, str, str]], float] | None = None
) -> int:
    """Run the dashboard for parsed CLI options; returns the exit status."""
    off = options.hub_mode == "off"
    if off and replay is None and not options.demo and (taken := _served_elsewhere(options)):
        sys.stderr.write(f"marketpane: error: {taken}; leave out --no-hub to share it\n")
        return 2
    if options.hub_mode != "off" and replay is None:
        from tui.hub.client import HubError

        try:
            remote = hub_session(options)
        except HubError as exc:
            if options.hub_mode == "require":
                sys.stderr.write(f"marketpane: error: {exc} (hub.mode = require)\n")
                return 2
            if not options.demo and (taken := _served_elsewhere(options)):
                sys.stderr.write(f"marketpane: error: {exc}; {taken}\n")
                return 2
            return _run_in_process(options, replay, startup_notice=f"{exc}; running in-process")
        return asyncio.run(_start_then_show(remote, options.config.display, _view(options)))
    return _run_in_process(options, replay)


def _view(options: RunOptions, **more: Any) -> dict[str, Any]:
    """The view's options (:class:`~tui.ui.link.ViewOptions` fields) for the real app; a dict,
    as the view is imported only once the session has started."""
    return {
        "theme": options.theme,
        "layout": options.layout,
        "handle_signals": True,
        "settle_heap": True,
        **more,
    }


def _served_elsewhere(options: RunOptions) -> str | None:
    """Why this pane must not open its own upstream connection: a hub answers for the account
    (asked only where the pane would otherwise run in-process)."""
    from tui.hub.client import HubError, hub_alive, hub_place
    from tui.hub.owner import running_pid
    from tui.hub.place import account_id

    try:
        place = hub_place(account_id(options.config, options.keys, demo=False))
    except HubError:
        return None
    if not hub_alive(place.socket):
        return None
    pid = running_pid(place)
    who = f"pid {pid}" if pid is not None else str(place.socket)
    return f"a hub ({who}) holds this account's connection, and a second would evict it"


def _run_in_process(
    options: RunOptions,
    replay: tuple[list[tuple[float, str, str]], float] | None,
    startup_notice: str | None = None,
) -> int:
    """Everything in this process: the session, its engine, and the demo's simulator."""
    demo = options.demo and replay is None
    simulator, runtime, keys = start_demo(
        options.config, options.keys, demo=demo, seed=options.seed, speed=options.speed
    )
    first_frame = os.environ.get("MARKETPANE_FIRST_FRAME_FILE")
    if options.config.hub.broker is not None and not demo and replay is None:
        fleet = (
            "hub.broker is set but this pane runs in-process with its own upstream connection: "
            "on a one-connection plan it and the fleet's leader evict each other (run "
            "without --no-hub to join the fleet)"
        )
        startup_notice = f"{startup_notice}. {fleet}" if startup_notice else fleet
    session_options = SessionOptions(
        config=options.config,
        config_path=options.config_path,
        keys=keys,
        runtime_config=runtime,
        demo=demo,
        symbols=options.symbols,
        engine_settings=paced_settings(options.config.display),
        state_dir=state_dir_for(options.demo),
        record_path=options.record,
        replay=replay,
    )
    view = _view(
        options,
        first_frame_file=Path(first_frame) if first_frame else None,
        startup_notice=startup_notice,
    )
    try:
        headless = first_frame is not None
        session = Session(session_options)
        display = session_options.config.display
        return asyncio.run(_start_then_show(session, display, view, headless=headless))
    finally:
        if simulator is not None:
            simulator.stop()


async def _start_then_show(
    session: Session | RemoteSession,
    display: Display,
    view: dict[str, Any],
    *,
    headless: bool = False,
) -> int:
    """Start the session first, then import the view on a thread: the connections are made
    (to the upstream, or to the hub) and the first quotes come while Textual and the widgets
    load (a fifth of a second or more), so the first frame can already show prices. An exit
    signal before the view is up (a terminal closed during start-up) still closes every socket
    with 1000; once the app exists it takes the signal itself."""
    loop = asyncio.get_running_loop()
    app: MarketpaneApp | None = None
    early: asyncio.Future[int] = loop.create_future()

    def on_signal(signum: int) -> None:
        if app is not None:
            app.exit_on_signal(signum)
        elif not early.done():
            early.set_result(128 + signum)

    if view.get("handle_signals"):  # SIGHUP (a dropped SSH session), SIGTERM, SIGINT
        for signum in EXIT_SIGNALS:
            loop.add_signal_handler(signum, on_signal, signum)
        chain_exit_watchdog(EXIT_SIGNALS)  # armed even while the loop is blocked
    session.start()
    loading: asyncio.Future[Any] = asyncio.ensure_future(asyncio.to_thread(_import_view))
    waiting: list[asyncio.Future[Any]] = [loading, early]
    try:
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if not early.done():
            loading.result()  # the view failed to load: raised here, after the sockets close
    except BaseException:  # interrupted or failed while loading: still closed with 1000
        await session.close(CLOSE_SECONDS)
        raise
    if early.done():
        await session.close(CLOSE_SECONDS)
        return early.result()
    from tui.ui.app import MarketpaneApp, ViewOptions

    app = MarketpaneApp(session, ViewOptions(display=display, **view))
    return await run_then_close(app, headless=headless)


def run_until_closed(app: MarketpaneApp, *, headless: bool = False) -> int:
    """Run ``app`` on a new event loop and return its exit status (see
    :func:`run_then_close`)."""
    return asyncio.run(run_then_close(app, headless=headless))


async def run_then_close(app: MarketpaneApp, *, headless: bool = False) -> int:
    """Run the app; however it ends (quit, signal, crash), close every socket with 1000 before
    the event loop goes away. Returns the exit status: 0 after ``q``, 128 + the signal after
    SIGHUP/SIGTERM/SIGINT, 1 after a crash."""
    try:
        await app.run_async(headless=headless)
    finally:
        await app.session.close(CLOSE_SECONDS)
    return app.return_code or 0
