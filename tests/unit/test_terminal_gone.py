"""The cause of a pane outliving its terminal, guarded: Textual's output thread after a write
fails (the pty is gone) keeps taking what is queued, so the app's writes and its exit never
block, and the process is told to exit (SIGHUP)."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

import pytest
from textual.drivers._writer_thread import MAX_QUEUED_WRITES, WriterThread

from tui.ui import terminal


class GoneTerminal:
    """A file whose writes fail as a closed pty's do."""

    def write(self, text: str) -> int:
        raise OSError(5, "Input/output error")

    def flush(self) -> None:
        raise OSError(5, "Input/output error")

    def fileno(self) -> int:
        return 1


def test_writes_and_stop_never_block_once_the_terminal_is_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raised: list[int] = []
    monkeypatch.setattr(os, "kill", lambda pid, signum: raised.append(signum))
    terminal.guard_output_thread()
    writer = WriterThread(GoneTerminal())  # type: ignore[arg-type]
    writer.start()
    done = threading.Event()

    def app_side() -> None:
        for _ in range(MAX_QUEUED_WRITES * 5):  # unguarded, this blocks on a full queue
            writer.write("frame")
        writer.stop()
        done.set()

    threading.Thread(target=app_side, daemon=True).start()
    assert done.wait(5), "a write or the stop blocked after the terminal went away"
    assert raised == [signal.SIGHUP]


def test_the_watchdog_ends_a_stuck_exit_once(monkeypatch: pytest.MonkeyPatch) -> None:
    ended: list[int] = []
    fired = threading.Event()

    def fake_exit(code: int) -> Any:
        ended.append(code)
        fired.set()

    monkeypatch.setattr(os, "_exit", fake_exit)
    monkeypatch.setattr(terminal, "_armed", threading.Event())
    terminal.arm_exit_watchdog(129, seconds=0.1)
    terminal.arm_exit_watchdog(143, seconds=0.1)  # armed once: the first signal's code
    assert fired.wait(2)
    assert ended == [129]
