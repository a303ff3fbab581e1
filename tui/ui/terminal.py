"""A pane always dies with its terminal: a guarded output thread and a last-resort watchdog.

Why a pane could outlive its terminal: Textual writes the screen from a thread that takes text
from a queue of 30. When the terminal goes away (the pty closed), that thread's write fails
with ``EIO`` and the thread ends; the queue then fills, and the next write on the event loop
(a refresh, or the driver's own stop at exit) blocks forever on ``Queue.put``, so the loop never
runs the SIGHUP handler and the process stays, holding its sockets.

- :func:`guard_output_thread` makes the output thread, after a failed write, keep taking
  (and dropping) what is queued, so no write ever blocks, and raise SIGHUP in the process so
  the normal way out runs: the sockets close with 1000, the app exits.
- :func:`arm_exit_watchdog` starts, on the first exit signal, a timer that ends the process
  after :data:`EXIT_WATCHDOG_SECONDS` if the normal way out has not (the sockets close first,
  in the signal handler; this only guards against a shutdown that hangs after them).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("marketpane.ui")

EXIT_SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)
"""The signals that close every socket with 1000 and exit with 128 + the signal."""

EXIT_WATCHDOG_SECONDS = 4.0
"""How long after an exit signal the process may take before the watchdog ends it."""

_armed = threading.Event()


def guard_output_thread() -> None:
    """Patch Textual's output thread so a write to a terminal that is gone never blocks the
    app (Textual is pinned to its minor version for this; see ``pyproject.toml``)."""
    from textual.drivers import _writer_thread

    cls: Any = _writer_thread.WriterThread
    if getattr(cls, "_marketpane_guarded", False):
        return
    original: Callable[[Any], None] = cls.run

    def run(self: Any) -> None:
        try:
            original(self)
        except (OSError, ValueError) as exc:  # EIO/EPIPE, or a closed file
            log.warning("the terminal went away (%s): exiting", exc)
            with contextlib.suppress(OSError):
                os.kill(os.getpid(), signal.SIGHUP)
            while self._queue.get() is not None:  # keep writers from blocking; stop ends it
                pass

    cls.run = run
    cls._marketpane_guarded = True


def arm_exit_watchdog(code: int, seconds: float = EXIT_WATCHDOG_SECONDS) -> None:
    """End the process with ``code`` after ``seconds`` unless it has exited by then (once)."""
    if _armed.is_set():
        return
    _armed.set()
    timer = threading.Timer(seconds, _exit_now, (code,))
    timer.daemon = True
    timer.start()


def _exit_now(code: int) -> None:
    log.warning("the exit did not finish in %.0f s: ending the process", EXIT_WATCHDOG_SECONDS)
    logging.shutdown()
    os._exit(code)


def chain_exit_watchdog(signums: tuple[int, ...]) -> None:
    """Arm the watchdog from the Python-level handler of each exit signal, which runs even
    while the event loop is blocked (the loop's own handler still gets the signal through its
    wake-up fd). Call after the loop's ``add_signal_handler``."""
    for signum in signums:
        previous = signal.getsignal(signum)

        def handler(number: int, frame: object, previous: Any = previous) -> None:
            arm_exit_watchdog(128 + number)
            if callable(previous):
                previous(number, frame)

        signal.signal(signum, handler)
