"""What the engine tells the UI: feed status, notices, and batches of changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

import msgspec

from tui.engine.store import SeriesChange
from tui.engine.stories import NewsItem


class FeedState(StrEnum):
    """Where a feed's supervisor is."""

    IDLE = "idle"
    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"


class FeedStatus(msgspec.Struct):
    """Counters and state of one feed (shown in the status bar); a value, so a copy can cross
    a process boundary in a batch."""

    name: str
    state: FeedState = FeedState.IDLE
    detail: str = ""
    retry_at: float | None = None
    connects: int = 0
    reconnects: int = 0
    last_error: str | None = None
    messages: int = 0
    bytes: int = 0
    rate: float = 0.0
    byte_rate: float = 0.0
    decode_errors: int = 0
    unrecognised: int = 0
    unusable_values: int = 0
    """Values of a type no field accepts, left out of otherwise good frames."""
    heartbeat_at: float | None = None
    latency_ms: float | None = None
    key_expiry: float | None = None
    connected_at: float | None = None
    subscriptions_sent: int = 0
    subscription_confirmed_at: float | None = None
    """When the server last said ``{"event": "subscription_status", "status": "active"}``."""


SKEW_TOLERANCE_MS = 250.0
"""A heartbeat at most this far from the future is network jitter, shown as latency 0."""
LAG_WARNING_MS = 2000.0
"""Latency at or past this is shown as lag, in seconds, and marked."""


def latency_words(latency_ms: float, *, short: bool) -> tuple[str, bool]:
    """How a heartbeat latency reads on screen, and whether it is a warning.

    A negative latency is not a blocked loop (that makes it large and positive) but the two
    clocks disagreeing: ``clock skew 5.0 s``. A large positive one is ``lag 79 s``. Short forms
    (``skew 5s``, ``lag 79s``) keep the word where the pane is narrow.
    """
    if latency_ms < -SKEW_TOLERANCE_MS:
        seconds = -latency_ms / 1000.0
        return (f"skew {seconds:.0f}s" if short else f"clock skew {seconds:.1f} s"), True
    if latency_ms >= LAG_WARNING_MS:
        seconds = latency_ms / 1000.0
        return (f"lag {seconds:.0f}s" if short else f"lag {seconds:.0f} s"), True
    return f"{max(0.0, latency_ms):.0f}ms", False


class Notice(msgspec.Struct, frozen=True):
    """Something the user should read: a server error in plain words, a state change."""

    level: Literal["information", "warning", "error"]
    text: str
    at: float = 0.0
    """When it was raised (wall clock), for the notification history."""
    alert: bool = False
    """An alert firing (see :mod:`tui.alerts`): the view also does what the flags say."""
    show: bool = True
    """Show it as a notice (an alert whose ``notice`` channel is off only rings or notifies)."""
    bell: bool = False
    """Ring the terminal bell."""
    desktop: bool = False
    """Send an OSC 777 desktop notification (the hub's host has no ``notify-send``)."""


@dataclass
class Batch:
    """Everything that changed since the last batch (one message to the UI per batch)."""

    quotes: set[str] = field(default_factory=set)
    series: dict[str, SeriesChange] = field(default_factory=dict)
    news: list[NewsItem] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    sent_at: float = 0.0
