"""Ways out of the view: quit, a signal, a crash. Each stops the session first so every socket
closes with 1000 (the launcher waits for it), and a crash report never shows locals."""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual.worker import Worker

from tui.secrets import mask_secrets
from tui.ui.link import SessionLink, ViewOptions
from tui.ui.terminal import arm_exit_watchdog, guard_output_thread
from tui.ui.theming import ThemedApp

CLOSE_SECONDS = 1.0
"""How long an exit signal waits for the sockets' closing handshakes."""


class ExitingApp(ThemedApp):
    """Quit, signals and the crash report."""

    def __init__(self, session: SessionLink, options: ViewOptions) -> None:
        super().__init__(session, options)
        self.session_worker: Worker[None] | None = None
        self.exit_signal: int | None = None
        if options.handle_signals:  # a real terminal: it may go away under us
            guard_output_thread()

    def crash_report(self) -> Text:
        """The exception being handled as plain text: no local variables, keys masked."""
        import io

        import rich
        from rich.console import Console
        from rich.traceback import Traceback

        buffer = io.StringIO()
        console = Console(
            file=buffer,
            width=max(80, self.console.width or 100),
            color_system=None,
            force_terminal=False,
        )
        console.print(Traceback(show_locals=False, width=None, suppress=[rich]))
        return Text(mask_secrets(buffer.getvalue()))

    def _fatal_error(self) -> None:
        """Textual's crash exit, with :meth:`crash_report` instead of a traceback with locals.

        Textual's own report shows locals (``show_locals=True``); a subscription message held
        in a local would print the key. (A private method: Textual is pinned to its minor
        version in ``pyproject.toml`` for this.)
        """
        self.bell()
        self._exit_renderables.append(self.crash_report())
        self._close_messages_no_wait()

    def exit_on_signal(self, signum: int) -> None:
        """SIGHUP (a dropped SSH session), SIGTERM or SIGINT: close every socket with 1000
        first (at most a second), then restore the terminal and exit with 128 + the signal's
        number. The watchdog (``terminal.py``) ends the process if that exit then hangs."""
        arm_exit_watchdog(128 + signum)
        if self.exit_signal is not None:
            return
        self.exit_signal = signum
        self.session.stop()
        asyncio.get_running_loop().create_task(self._close_then_exit(128 + signum))

    async def _close_then_exit(self, code: int) -> None:
        try:
            await asyncio.wait_for(self.session.close(CLOSE_SECONDS), CLOSE_SECONDS + 0.5)
        except Exception:  # the exit goes on whatever the sockets did
            pass
        self.exit(return_code=code)

    async def action_quit(self) -> None:
        """Close every socket with 1000, then exit."""
        self.session.stop()
        if self.session_worker is not None:
            try:
                await self.session_worker.wait()
            except Exception:  # the worker's own error was already shown
                pass
        self.exit(0)
