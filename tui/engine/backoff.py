"""Reconnect backoff: exponential with equal jitter, as the official client does it.

cap = min(30 s, 0.5 s x 2^(n-1)); delay = cap/2 + U(0, cap/2) (protocol-notes). The counter
resets only after a connection has been live with data for 60 s (guide section 5: "Reset the
backoff once a connection has been stable for a while"). A delay the server names wins when
longer.
"""

from __future__ import annotations

import random

BASE_SECONDS = 0.5
"""First backoff cap (guide section 5: 'Start with a short delay (e.g., 500ms)')."""
MAX_SECONDS = 30.0
"""Largest backoff cap (guide section 5: 'cap it at a reasonable maximum (e.g., 30 seconds)')."""
STABLE_SECONDS = 60.0
"""Seconds live with data before the attempt counter resets (protocol-notes)."""
LONG_BACKOFF_SECONDS = 60.0
"""Floor after ``connection_evicted``/``max_connections_exceeded``: another client is active."""


class Backoff:
    """Tracks consecutive failures and hands out jittered delays."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.attempt = 0
        self.rng = rng or random.Random()

    def cap(self) -> float:
        """The current cap, before jitter."""
        return float(min(MAX_SECONDS, BASE_SECONDS * 2.0 ** max(0, self.attempt - 1)))

    def next_delay(self, server_delay: float | None = None, *, floor: float = 0.0) -> float:
        """Count a failure and return how long to wait before the next dial."""
        self.attempt += 1
        cap = self.cap()
        delay = cap / 2 + self.rng.uniform(0, cap / 2)
        return max(delay, server_delay or 0.0, floor)

    def connection_was_stable(self, live_seconds: float, had_data: bool) -> None:
        """Reset the counter when the last connection was live with data long enough."""
        if had_data and live_seconds >= STABLE_SECONDS:
            self.attempt = 0
