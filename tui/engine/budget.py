"""The subscription-message budget: 120 messages per 3 hours, strictly, across restarts.

Guide section 2: "Avoid sending more than 120 subscription messages per 3 hours ... Rapid
reconnections from the same account are throttled the same way". Every message counts,
reconnect re-subscriptions included. The window is persisted as JSON in the state directory.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from tui.paths import atomic_write_text

log = logging.getLogger("marketpane.budget")

RESERVE = 10
"""Messages kept back for reconnects: past ``limit - RESERVE`` only essential sends go out."""


class SubscriptionBudget:
    """A sliding-window counter of subscription messages sent."""

    def __init__(
        self,
        path: Path | None,
        *,
        limit: int = 120,
        window_seconds: float = 3 * 3600,
        clock: Callable[[], float] = time.time,
        on_problem: Callable[[str], None] | None = None,
        on_record: Callable[[], None] | None = None,
    ) -> None:
        self.path, self.limit, self.window, self.clock = path, limit, window_seconds, clock
        self.on_problem = on_problem
        self.on_record = on_record
        """Called after each message is counted (a fleet leader saves the window in the
        broker, so the next leader starts from it)."""
        self.sent: deque[float] = deque()
        self.load_error: str | None = None
        self.save_error: str | None = None
        """Why the window could not be saved (told once; saving is retried on each send)."""
        self._load()

    def _load(self) -> None:
        """Read the persisted window; a corrupt file is reported and replaced, never fatal."""
        if self.path is None or not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            stamps = sorted(float(t) for t in data["sent"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.load_error = f"{self.path}: unreadable budget state ({exc}); starting a new one"
            return
        self.sent.extend(stamps)
        self._prune()

    def _prune(self) -> None:
        now = self.clock()
        while self.sent and now - self.sent[0] >= self.window:
            self.sent.popleft()

    def used(self) -> int:
        """Messages sent in the current window."""
        self._prune()
        return len(self.sent)

    def allows(self, *, essential: bool) -> bool:
        """Whether a message may go out now: essential ones always, others below the reserve."""
        return essential or self.used() < self.limit - RESERVE

    def stamps(self) -> list[float]:
        """When each message in the window went out (oldest first)."""
        self._prune()
        return list(self.sent)

    def adopt(self, stamps: list[float]) -> int:
        """Take in the window another process kept (the last fleet leader's), without counting
        a message twice; returns how many were new here."""
        mine = set(self.sent)
        new = [t for t in stamps if t not in mine]
        if new:
            self.sent = deque(sorted([*self.sent, *new]))
            self._prune()
            self._save()
        return len(new)

    def record(self) -> None:
        """Count one message sent now and persist the window."""
        self.sent.append(self.clock())
        self._prune()
        self._save()
        if self.on_record is not None:
            self.on_record()

    def _save(self) -> None:
        if self.path is not None:
            payload = json.dumps({"sent": list(self.sent)})
            try:
                atomic_write_text(self.path, payload, mode=0o600)
            except OSError as exc:  # the in-memory window still holds; retried on each send
                if self.save_error is None:
                    self.save_error = (
                        f"cannot save the subscription budget in {self.path.parent} "
                        f"({exc.strerror or type(exc).__name__}): the 120-per-3-hours count "
                        "is kept only while marketpane runs, and starts from zero after a "
                        "restart. Make the folder writable to keep it."
                    )
                    log.warning("%s", self.save_error)
                    if self.on_problem is not None:
                        self.on_problem(self.save_error)
            else:
                self.save_error = None

    def seconds_until_free(self) -> float:
        """Seconds until the oldest message leaves the window."""
        self._prune()
        return 0.0 if not self.sent else max(0.0, self.window - (self.clock() - self.sent[0]))

    def describe(self) -> str:
        """``budget 37/120 in the last 3 h``."""
        hours = self.window / 3600
        span = f"{hours:g} h" if hours >= 1 else f"{self.window:g} s"
        return f"budget {self.used()}/{self.limit} in the last {span}"
