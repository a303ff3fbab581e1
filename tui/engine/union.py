"""One subscription set for many views (a hub's panes, a fleet's hubs), shared fairly:
the rows before any second chart."""

from __future__ import annotations

import msgspec

from tui.protocol.live import Subscription


def union_of(desired: list[list[Subscription]]) -> list[Subscription]:
    """One subscription set for many views, in the order a full plan should keep them.

    The grid is what a user reads first, so no view's charts can take every row from
    another: the first chart (of the first view that has one, the oldest pane) comes first,
    then every view's quotes taken in turn from each view's watchlist order, then the other
    charts in turn. The order is a function of the views' sets alone, so returning to an
    earlier state gives the earlier subscriptions back. Fit it to the plan in this order
    (``fit_to_plan(..., in_order=True)``)."""
    seen: set[bytes] = set()
    out: list[Subscription] = []

    def add(sub: Subscription) -> None:
        key = msgspec.json.encode(sub)
        if key not in seen:
            seen.add(key)
            out.append(sub)

    charts = [[s for s in subs if s.type != "quote"] for subs in desired]
    first = next((c for c in charts if c), [])
    if first:
        add(first.pop(0))
    for queues in ([[s for s in subs if s.type == "quote"] for subs in desired], charts):
        for index in range(max((len(q) for q in queues), default=0)):
            for queue in queues:
                if index < len(queue):
                    add(queue[index])
    return out


def describe_use(
    desired: dict[int, list[Subscription]], kept: list[Subscription], viewer: int
) -> str:
    """Which view uses what of the plan, in words for view ``viewer``'s left-out rows:
    ``in use by pane 1 (chart NASDAQ:AAPL, 10 rows) and this pane (4 rows)``."""
    kept_quotes = {s.code for s in kept if s.type in ("quote", "both")}
    kept_charts = {s.code for s in kept if s.type != "quote"}
    parts: list[str] = []
    for number, subs in desired.items():
        charts = [s.code for s in subs if s.type != "quote" and s.code in kept_charts]
        rows = sum(1 for s in subs if s.type == "quote" and s.code in kept_quotes)
        uses = [f"chart {', '.join(charts)}"] if charts else []
        if rows:
            uses.append(f"{rows} row" + ("" if rows == 1 else "s"))
        if uses:
            who = "this pane" if number == viewer else f"pane {number}"
            parts.append(f"{who} ({', '.join(uses)})")
    if not parts:
        return ""
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"in use by {listed}"
