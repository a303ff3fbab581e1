"""What the engine tells the UI: feed status, notices, and batches of changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from tui.engine.store import NewsItem


class FeedState(StrEnum):
    """Where a feed's supervisor is."""

    IDLE = "idle"
    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"


@dataclass
class FeedStatus:
    """Counters and state of one feed (shown in the status bar)."""

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
    heartbeat_at: float | None = None
    latency_ms: float | None = None
    latency_warning: str | None = None
    key_expiry: float | None = None
    connected_at: float | None = None
    subscriptions_sent: int = 0


@dataclass(frozen=True)
class Notice:
    """Something the user should read: a server error in plain words, a state change."""

    level: Literal["information", "warning", "error"]
    text: str


@dataclass
class Batch:
    """Everything that changed since the last batch (one message to the UI per batch)."""

    quotes: set[str] = field(default_factory=set)
    series: set[str] = field(default_factory=set)
    news: list[NewsItem] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    sent_at: float = 0.0
