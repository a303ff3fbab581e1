"""``--record FILE``: every inbound frame with its receive time as JSON lines, keys masked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

from tui.secrets import mask_secrets


class Recorder:
    """Appends ``{"t": epoch, "feed": name, "frame": text}`` lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: IO[str] = path.open("a", encoding="utf-8")
        self.count = 0

    def write(self, feed: str, frame: str | bytes, received: float) -> None:
        """Record one frame (binary frames are stored as text with replacement)."""
        text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
        line = json.dumps({"t": round(received, 6), "feed": feed, "frame": mask_secrets(text)})
        self.handle.write(line + "\n")
        self.count += 1
        if self.count % 200 == 0:
            self.handle.flush()

    def close(self) -> None:
        """Flush and close (again is harmless)."""
        if self.handle.closed:
            return
        self.handle.flush()
        self.handle.close()
