"""One subscription set for many views (a hub's panes, a fleet's hubs), shared fairly."""

from __future__ import annotations

import msgspec

from tui.protocol.live import Subscription


def union_of(desired: list[list[Subscription]]) -> list[Subscription]:
    """One subscription set for many panes: every series first, then quotes taken in turn
    from each pane's watchlist order (so a plan too small for all is shared fairly)."""
    seen: set[bytes] = set()
    out: list[Subscription] = []

    def add(sub: Subscription) -> None:
        key = msgspec.json.encode(sub)
        if key not in seen:
            seen.add(key)
            out.append(sub)

    for subs in desired:
        for sub in subs:
            if sub.type != "quote":
                add(sub)
    queues = [[s for s in subs if s.type == "quote"] for subs in desired]
    for index in range(max((len(q) for q in queues), default=0)):
        for queue in queues:
            if index < len(queue):
                add(queue[index])
    return out
