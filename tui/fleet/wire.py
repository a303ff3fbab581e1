"""What the fleet's hubs say to each other over NATS: MessagePack values, never keys.

Subjects and buckets are named per account (the account is a hash of the key and endpoints,
never the key): ``marketpane.<account>.events`` (the leader's decoded quotes, bars and news),
``.state`` (its feed statuses, plan use, marks, budget), ``.desired`` (each hub's wanted set),
``.snapshot`` (a late joiner's request to the leader); buckets ``marketpane-<account>-lease``
(the lease, one key), ``-hubs`` (one entry per hub, expiring) and ``-state`` (the budget).
"""

from __future__ import annotations

from typing import Any

import msgspec

from tui.engine.capacity import PlanUse
from tui.engine.status import FeedStatus, Notice
from tui.engine.stories import NewsItem
from tui.protocol.live import Bar, Subscription

LEASE_KEY = "leader"
"""The one key of the lease bucket."""
BUDGET_KEY = "budget"
"""The state bucket's key for the subscription-message window."""


class Names(msgspec.Struct, frozen=True):
    """Subjects and buckets of one account."""

    account: str

    @property
    def events(self) -> str:
        return f"marketpane.{self.account}.events"

    @property
    def state(self) -> str:
        return f"marketpane.{self.account}.state"

    @property
    def desired(self) -> str:
        return f"marketpane.{self.account}.desired"

    @property
    def snapshot(self) -> str:
        return f"marketpane.{self.account}.snapshot"

    @property
    def lease_bucket(self) -> str:
        return f"marketpane-{self.account}-lease"

    @property
    def hubs_bucket(self) -> str:
        return f"marketpane-{self.account}-hubs"

    @property
    def state_bucket(self) -> str:
        return f"marketpane-{self.account}-state"


class LeaseValue(msgspec.Struct, frozen=True):
    """Who holds the lease."""

    hub: str
    host: str
    pid: int
    since: float
    """When this hub became leader (wall clock)."""


class HubEntry(msgspec.Struct, frozen=True):
    """One hub's wanted set (its panes' and alerts'), refreshed while it runs."""

    hub: str
    host: str
    panes: int
    desired: list[Subscription]
    at: float


class Row(msgspec.Struct, array_like=True, frozen=True):
    """One symbol's merged quote fields, as received by the leader."""

    code: str
    values: dict[str, Any]
    updated_at: float
    server_ms: float | None
    removed: list[str] = []
    """Fields the leader no longer holds (a change cleared with no close to derive it from)."""
    direction: int = 0
    """+1 or -1: which way the last price last moved at the leader (a move and its reversal
    within one 20 ms message would otherwise read as the net move)."""
    trend: list[float] | None = None
    """The Trend column's points (snapshots only: a late joiner draws the same 30 minutes)."""
    trend_minute: int = -1


class SeriesRows(msgspec.Struct, array_like=True, frozen=True):
    """Bars of one series: the whole (bounded) history when ``reloaded``, else the newest."""

    code: str
    bar_type: str | None
    ticks: bool
    reloaded: bool
    bars: list[Bar]


class Events(msgspec.Struct, frozen=True):
    """What changed at the leader since its last message (every 20 ms at most)."""

    leader: str
    epoch: int
    """The lease revision the leader won: a new leader, a new epoch."""
    seq: int
    """1, 2, 3... within the epoch: a follower seeing a gap asks for a snapshot."""
    sent_at: float
    rows: list[Row] = []
    series: list[SeriesRows] = []
    news: list[NewsItem] = []


class LeaderState(msgspec.Struct, frozen=True):
    """The leader's upstream as its panes see it (twice a second)."""

    leader: str
    host: str
    since: float
    epoch: int
    renewed_at: float
    """When the lease was last renewed (wall clock): its age is now minus this."""
    statuses: list[FeedStatus]
    plan: PlanUse | None
    marks: dict[str, str]
    series_marks: dict[str, str]
    budget: str
    pending: str | None
    live: list[str]
    """Codes in the subscribed set."""
    hubs: list[str]
    """``host (panes)`` of every hub the leader hears from, itself first."""
    sent_at: float
    notices: list[Notice] = []
    """The upstream's notices of the last minute (the server's errors and limits in words;
    never an alert's, which belong to each hub): a follower shows each once."""


class SnapshotAsk(msgspec.Struct, frozen=True):
    """A follower's request for the latest values of its symbols."""

    hub: str
    codes: list[str]
    series: list[str]


class Snapshot(msgspec.Struct, frozen=True):
    """The leader's latest values of the codes asked for."""

    epoch: int
    seq: int
    rows: list[Row]
    series: list[SeriesRows]
    news: list[NewsItem]


class BudgetWindow(msgspec.Struct, frozen=True):
    """The subscription-message window, kept in the broker for the next leader."""

    stamps: list[float]


ENCODER = msgspec.msgpack.Encoder()


def encode(value: msgspec.Struct) -> bytes:
    """MessagePack of a fleet value."""
    return ENCODER.encode(value)
