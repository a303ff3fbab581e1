"""One attached pane as the hub holds it, and the limits that keep it from stalling the rest.

Every pane is paced by its own acknowledgements (a slow pane gets fewer, bigger batches), and
held to limits of its own so no pane's requests or unread bytes can cost another pane anything:

- the first frame before a Hello is at most :data:`FIRST_FRAME_MAX` bytes, later frames
  :data:`PANE_FRAME_MAX`; a Hello names at most :data:`HELLO_SYMBOLS_MAX` symbols, each checked;
- requests (commands and searches) are paced by a token bucket (:class:`RequestPacer`): over
  the rate the hub reads that pane's socket later, so no one else waits, and a pane over
  its rate for :data:`BACKLOG_SECONDS` is dropped;
- one search at a time per pane: a newer one replaces the older;
- at most :data:`UNSENT_MAX` bytes the pane has not read: over it the pane is dropped (it
  reattaches and gets a fresh snapshot).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from tui.engine.recorder import Recorder
from tui.engine.status import Batch
from tui.engine.store import SeriesChange
from tui.hub.wire import BatchFrame, Frame, Hello, encode_frame
from tui.protocol.rules import SubscriptionRuleError, validate_symbol_code
from tui.session.session import Session

log = logging.getLogger("marketpane.hub")

FIRST_FRAME_MAX = 64 * 1024
"""Largest first frame (a Hello, a status, alert or snapshot request) a connection may send."""
PANE_FRAME_MAX = 1024 * 1024
"""Largest frame an attached pane may send (commands, acks and searches are small)."""
HELLO_SYMBOLS_MAX = 500
"""Most symbols a Hello's ``--symbols`` list may name."""
SNAPSHOT_CODES_MAX = 500
"""Most symbols one ``marketpane print`` may ask the hub for."""
UNSENT_MAX = 16 * 1024 * 1024
"""Most bytes a pane may leave unread before it is dropped (a full history is about 2 MB)."""
REQUESTS_PER_SECOND = 20.0
"""A pane's sustained request rate (commands and searches); faster ones are read later."""
REQUEST_BURST = 40.0
"""Requests a pane may send at once before the rate applies (a burst of keys)."""
BACKLOG_SECONDS = 3.0
"""A pane over its request rate for this long is dropped: no person types that fast that
long, and its backlog would keep its socket open long after it left."""


def hello_problem(hello: Hello) -> str | None:
    """Why a Hello cannot be served (too many symbols, a bad code), or None."""
    symbols = hello.symbols or []
    if len(symbols) > HELLO_SYMBOLS_MAX:
        return f"--symbols names {len(symbols):,} symbols; a pane may watch {HELLO_SYMBOLS_MAX}"
    for code in symbols:
        try:
            validate_symbol_code(code)
        except SubscriptionRuleError as exc:
            return f"--symbols: {exc.problem}"
    return None


class RequestPacer:
    """A token bucket: :meth:`delay` says how long to wait before serving the next request."""

    def __init__(self, rate: float = REQUESTS_PER_SECOND, burst: float = REQUEST_BURST) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = burst
        self.at = time.monotonic()
        self.paced_since: float | None = None
        """Since when every request has had to wait (None: the pane is within its rate)."""

    def delay(self) -> float:
        """Take one token; the seconds to wait first if there was none (0 when there was)."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        self.tokens -= 1.0
        if self.tokens >= 0:
            self.paced_since = None
            return 0.0
        if self.paced_since is None:
            self.paced_since = now
        return -self.tokens / self.rate

    def flooding(self) -> bool:
        """Whether the pane has been over its rate for longer than :data:`BACKLOG_SECONDS`."""
        since = self.paced_since
        return since is not None and time.monotonic() - since > BACKLOG_SECONDS


def merge_batches(first: Batch, second: Batch) -> Batch:
    """Two engine batches as one (a pane that was busy gets them together)."""
    series = dict(first.series)
    for code, change in second.series.items():
        old = series.get(code)
        series[code] = (
            change
            if old is None
            else SeriesChange(old.reloaded or change.reloaded, old.appended + change.appended)
        )
    return Batch(
        quotes=first.quotes | second.quotes,
        series=series,
        news=[*first.news, *second.news],
        notices=[*first.notices, *second.notices],
        sent_at=max(first.sent_at, second.sent_at),
    )


@dataclass
class Pane:
    """One attached pane: its session, its socket, and its pacing."""

    number: int
    session: Session
    writer: asyncio.StreamWriter
    pending: Batch = field(default_factory=Batch)
    owed: bool = True
    """A batch is due (the first one is the snapshot)."""
    waiting_since: float | None = None
    """When the unacknowledged batch went out, or None."""
    pacer: RequestPacer = field(default_factory=RequestPacer)
    search: asyncio.Task[None] | None = None
    """The pane's one search in flight (a newer one cancels it)."""
    dropped: str | None = None
    """Why the hub dropped this pane, once it has."""
    recorder: Recorder | None = None
    """The pane's ``--record`` file, written by the hub while the pane is attached."""

    def offer(self, batch: Batch) -> None:
        """Take an engine batch in; send now if the pane is ready."""
        self.pending = merge_batches(self.pending, batch)
        self.owed = True
        self.flush()

    def flush(self) -> None:
        """Send what is pending unless the last batch is still unacknowledged."""
        if self.waiting_since is not None or not self.owed or self.dropped:
            return
        batch, self.pending, self.owed = self.pending, Batch(), False
        self.waiting_since = time.monotonic()
        self.write(BatchFrame(self.session.deliver(batch)))

    def write(self, frame: Frame) -> None:
        """One frame onto the socket, unless the pane has left more than it may unread."""
        if self.writer.is_closing() or self.dropped:
            return
        unsent = self.writer.transport.get_write_buffer_size()
        if unsent > UNSENT_MAX:
            self.drop(f"{unsent:,} bytes unread (the limit is {UNSENT_MAX:,})")
            return
        self.writer.write(encode_frame(frame))

    def drop(self, why: str) -> None:
        """Close this pane's socket (its session detaches when the read loop ends)."""
        if self.dropped is None:
            self.dropped = why
            log.warning("pane %d dropped: %s", self.number, why)
        self.writer.transport.abort()  # a pane that does not read would never drain a close

    def ack(self) -> None:
        self.waiting_since = None
        self.flush()
