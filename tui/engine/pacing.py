"""When a feed may pace its reads (see :mod:`tui.engine.direct`), and for how long.

In a quiet market the engine holds batches for half a second or a second anyway, so reading
the socket five times a second instead of at every quote shows the same screen for a fraction
of the wake-ups. What must not wait is never paced:

- a new connection's first seconds and the seconds after a subscription is sent (the first
  prices of new symbols);
- a busy feed (it is read continuously anyway) and a silent one (a lone update after a
  silence is read as it comes: reading resumed long before);
- the moments around a due heartbeat, so its latency is a true one: with the heartbeats'
  rhythm known, reading is prompt from a little before the next one until it comes. A
  heartbeat that waited behind a pause anyway gives no latency sample (it only proves life).
"""

from __future__ import annotations

from dataclasses import dataclass

READ_PACE_SECONDS = 0.2
"""How long reading stops after a read in a quiet market: within the engine's shortest hold
(0.5 s) and the alerts' promise of a firing within a second."""
UNPACED_SECONDS = 2.0
"""Reads stay prompt this long after a connection opens or a subscription is sent."""
HEARTBEAT_WINDOW_SECONDS = 0.5
"""Reads are prompt from this long before the next heartbeat is due (at most a quarter of the
heartbeats' interval) until it comes."""


@dataclass
class ReadPace:
    """One feed's pacing state: set by the engine (quiet or not) and by the feed's frames."""

    quiet: bool = False
    """The engine's verdict, once a second: a quiet market with data in it."""
    unpaced_until: float = 0.0
    heartbeat_every: float | None = None
    """Seconds between the last two heartbeats (None until two came on this connection)."""
    last_heartbeat: float | None = None

    def opened(self, now: float) -> None:
        """A new connection: nothing about its heartbeats is known yet."""
        self.heartbeat_every = self.last_heartbeat = None
        self.subscribed(now)  # it sends its subscription at once

    def subscribed(self, now: float) -> None:
        """A subscription went out: its first quotes are read as they come."""
        self.unpaced_until = now + UNPACED_SECONDS

    def heartbeat(self, now: float) -> None:
        """A heartbeat was read at ``now``: learn the rhythm."""
        if self.last_heartbeat is not None and now > self.last_heartbeat:
            self.heartbeat_every = now - self.last_heartbeat
        self.last_heartbeat = now

    def seconds(self, now: float) -> float:
        """How long to stop reading after a read at ``now`` (0: keep reading)."""
        if not self.quiet or now < self.unpaced_until:
            return 0.0
        every, last = self.heartbeat_every, self.last_heartbeat
        if every is not None and last is not None:
            window = min(HEARTBEAT_WINDOW_SECONDS, every / 4)
            if now + READ_PACE_SECONDS >= last + every - window:
                return 0.0  # the next heartbeat is due: be there when it comes
        return READ_PACE_SECONDS
