"""What the view needs of a session, the message a batch arrives in, and the view's options."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from textual.message import Message

from tui.config import Display
from tui.protocol.rest import SymbolInfo
from tui.session.values import Command, SessionBatch


class SessionLink(Protocol):
    """What the view needs of a session, in this process or behind a socket."""

    def send(self, command: Command) -> None: ...

    def batch_done(self) -> None: ...

    async def run(self, on_batch: Callable[[SessionBatch], None]) -> None:
        """Run until closed, handing each batch to ``on_batch``."""

    async def search(self, query: str) -> list[SymbolInfo]: ...

    async def close(self, timeout: float = 1.0) -> None: ...

    def stop(self) -> None: ...


class BatchReady(Message):
    """The session has a batch of changes for the view."""

    def __init__(self, batch: SessionBatch) -> None:
        super().__init__()
        self.batch = batch


@dataclass
class ViewOptions:
    """How this pane looks; what it shows comes from the session."""

    display: Display
    theme: str | None = None
    layout: str | None = None
    frozen_time: float | None = None
    theme_problem: str | None = None
    startup_notice: str | None = None
    """Said once the view is up (the hub could not be used, say)."""
    probe: Any = None
    """Benchmark hook: ``probe.drawn(app, batch)`` after each batch reaches the screen."""
    handle_signals: bool = False
    """Quit cleanly on SIGHUP, SIGTERM and SIGINT (the real app; tests leave them alone)."""
    settle_heap: bool = False
    """After the first frame, put what start-up built out of the garbage collector's sight
    (``gc.freeze``): a full collection then walks only what came since, not every Textual
    object (30 ms each, several a minute). The real app only: tests share their process."""
    first_frame_file: Path | None = None
    """Benchmark start-up probe: write the time of the first frame here, then quit."""
