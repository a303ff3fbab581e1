"""The hub's one-shot requests: ``marketpane print``'s quotes and ``marketpane alert``'s
commands, answered from the hub's engine (so the CLI never opens a connection of its own)."""

from __future__ import annotations

import msgspec

from tui.engine.engine import Engine
from tui.engine.rest import RestError
from tui.hub.wire import AlertReply, AlertRequest, SnapshotQuote, SnapshotReply

TEST_DRAIN_SECONDS = 10.0
"""How long ``marketpane alert test`` waits for the channels to deliver."""


async def quote_snapshot(engine: Engine, codes: list[str]) -> SnapshotReply:
    """The hub's latest quote of each code; codes it has none of come from REST."""
    store = engine.store
    quotes = [
        SnapshotQuote(c, dict(store.quotes[c].values), store.quotes[c].updated_at)
        for c in codes
        if c in store.quotes
    ]
    wanted = [c for c in codes if c not in store.quotes]
    found: dict[str, dict[str, object]] = {}
    error = None
    for start in range(0, len(wanted), 10):  # the API allows ten codes a call
        try:
            answer = await engine.rest.quotes(wanted[start : start + 10])
        except RestError as exc:
            error = str(exc)
            break
        for quote in answer.data:
            found[quote.code] = {
                k: v for k, v in msgspec.structs.asdict(quote).items() if v is not None
            }
    quotes += [SnapshotQuote(c, found[c]) for c in wanted if c in found]
    missing = [c for c in wanted if c not in found]
    return SnapshotReply(quotes, missing, error)


async def alert_request(engine: Engine, request: AlertRequest, panes: int) -> AlertReply:
    """``marketpane alert ...`` against this hub's alerts."""
    alerts = engine.alerts
    error: str | None = None
    message = ""
    action, rule_id = request.action, request.id
    if action == "add" and request.rule is not None:
        rule = request.rule
        if rule.id == "new":
            rule = msgspec.structs.replace(rule, id=alerts.next_id())
        error = alerts.add(rule)
        message = f"alert {rule.id} added: {rule.when}"
    elif action == "remove":
        error = alerts.remove(rule_id)
        message = f"alert {rule_id} deleted"
    elif action in ("pause", "resume"):
        found = alerts.book.rules.get(rule_id)
        if found is None:
            error = f"there is no alert {rule_id}"
        else:
            paused = action == "pause"
            error = alerts.replace(msgspec.structs.replace(found, paused=paused))
            message = f"alert {rule_id} {'paused' if paused else 'resumed'}"
    elif action == "test":
        firing = alerts.test(rule_id)
        if firing is None:
            error = f"there is no alert {rule_id}"
        else:
            await alerts.delivery.drain(TEST_DRAIN_SECONDS)
            done = sorted(alerts.delivery.delivered)
            message = f"alert {rule_id} test sent (panes: {panes}" + (
                f"; delivered so far by {', '.join(done)})" if done else ")"
            )
    elif action != "list":
        error = f"unknown alert action {action!r}"
    alerts.refresh_views()
    return AlertReply(alerts.views(), message if error is None else "", error)
