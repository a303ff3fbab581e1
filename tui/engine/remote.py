"""What a fleet follower knows of the upstream it does not hold: the leader's feed statuses,
plan use, marks and budget, as the leader last published them.

A follower hub's engine opens no socket; :class:`RemoteUpstream` stands in for its feeds,
capacity and budget wherever the session reads them, so a pane on a follower sees what a pane
on the leader sees, plus where the data comes from (``via leader on HOST``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tui.engine.capacity import PlanUse
from tui.engine.status import FeedStatus


@dataclass
class RemoteUpstream:
    """The leader's view of the upstream, as a follower shows it."""

    via: str
    """``leader on HOST`` (or why there is no leader yet)."""
    statuses: list[FeedStatus] = field(default_factory=list)
    plan: PlanUse | None = None
    marks: dict[str, str] = field(default_factory=dict)
    series_marks: dict[str, str] = field(default_factory=dict)
    budget: str = ""
    pending: str | None = None
