"""Noticing a file another process changed (``marketpane portfolio import`` while a pane is
open): a cheap ``stat`` at most once a second, compared with what was last seen."""

from __future__ import annotations

import os
import time
from pathlib import Path

CHECK_SECONDS = 1.0
"""The least time between two looks at the file."""


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


class FileWatch:
    """Says when ``path`` changed since it was last seen (created, replaced, or removed)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen = _signature(path)
        self._checked = time.monotonic()

    def seen(self) -> None:
        """The file as it is now is known (after this process wrote it itself)."""
        self._seen = _signature(self.path)

    def changed(self, *, now_please: bool = False) -> bool:
        """Whether the file differs from what was seen (checked at most once a second, unless
        ``now_please``)."""
        now = time.monotonic()
        if not now_please and now - self._checked < CHECK_SECONDS:
            return False
        self._checked = now
        signature = _signature(self.path)
        if signature == self._seen:
            return False
        self._seen = signature
        return True
