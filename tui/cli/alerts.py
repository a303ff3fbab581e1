"""``marketpane alert add|list|rm|test|pause|resume``: alerts from the command line.

With the account's hub running, the hub carries out the command (it owns the alerts and saves
them in the config file); with none, the config file is edited here and ``test`` delivers by
the channels this process can reach (tmux, desktop, command, webhook).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path

import msgspec

from tui import paths
from tui.alerts.book import AlertBook
from tui.alerts.deliver import Delivery
from tui.alerts.grammar import parse_duration
from tui.alerts.model import CHANNELS, AlertRule, AlertView, value_text
from tui.config import Config, ConfigError, Watchlist, load_config, resolve_ticker, save_alert_rules
from tui.engine.alerting import STATE_FILE
from tui.protocol.text import clean_text
from tui.secrets import SecretsFileError, load_keys, mask_secrets

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="marketpane alert",
        description="Price, news, staleness and feed alerts (see README, Alerts).",
    )
    parser.add_argument("--config", metavar="PATH")
    parser.add_argument("--demo", action="store_true", help="the demo account's alerts")
    sub = parser.add_subparsers(dest="action", required=True)
    add = sub.add_parser("add", help="add an alert, e.g. 'NASDAQ:AAPL > 250'")
    add.add_argument("expression")
    add.add_argument(
        "--every", metavar="COOLDOWN", help="fire each time it re-arms, at most once per COOLDOWN"
    )
    add.add_argument("--expires", metavar="WHEN", help="2026-12-31 or 2026-12-31T16:00")
    add.add_argument("--note", default="", help="text shown and sent with the alert")
    add.add_argument("--channel", action="append", choices=CHANNELS, help="only this channel")
    add.add_argument("--id", help="the alert's id (default: the next free number)")
    sub.add_parser("list", help="every alert and its state")
    for name, text in (
        ("rm", "delete an alert"),
        ("test", "deliver a test firing by every channel"),
        ("pause", "pause an alert"),
        ("resume", "resume a paused alert"),
    ):
        sub.add_parser(name, help=text).add_argument("id")
    return parser


def _fail(message: str) -> int:
    sys.stderr.write(f"marketpane alert: {clean_text(mask_secrets(message))}\n")
    return EXIT_USAGE


def with_full_code(expression: str, watchlists: list[Watchlist]) -> str:
    """``ETHUSDT > 3380`` as ``BINANCE:ETHUSDT > 3380`` when the watchlists name exactly one
    exchange for that ticker (as the grid shows it); otherwise as written."""
    first, space, rest = expression.strip().partition(" ")
    if ":" in first or first.startswith("@") or first.lower() == "feed":
        return expression
    code = resolve_ticker(first, watchlists)
    return f"{code}{space}{rest}" if code else expression


def make_rule(args: argparse.Namespace, watchlists: list[Watchlist] | None = None) -> AlertRule:
    """The rule ``alert add`` describes; ValueError naming what is wrong."""
    when = with_full_code(args.expression, watchlists or [])
    fields: dict[str, object] = {"id": args.id or "new", "when": when}
    if args.every is not None:
        fields["mode"] = "every"
        fields["cooldown_seconds"] = parse_duration(args.every)
    if args.expires:
        fields["expires"] = args.expires
    if args.note:
        fields["note"] = args.note
    if args.channel:
        fields["channels"] = list(dict.fromkeys(args.channel))
    return AlertRule(**fields)  # type: ignore[arg-type]


def alert_command(argv: Sequence[str]) -> int:
    """Entry point of ``marketpane alert``."""
    args = build_parser().parse_args(list(argv))
    path = paths.config_path(args.config)
    try:
        config = load_config(path)[0]
    except ConfigError as exc:
        return _fail(str(exc))
    rule = None
    if args.action == "add":
        try:
            rule = make_rule(args, config.watchlists)
        except (ValueError, msgspec.ValidationError) as exc:
            return _fail(str(exc))
    try:
        keys = load_keys(paths.secrets_path())
    except SecretsFileError as exc:
        return _fail(str(exc))
    demo = args.demo or not keys.has_insightsentry
    from tui.hub.client import HubError, hub_alert_request, hub_alive
    from tui.hub.place import account_id, place_for
    from tui.hub.wire import AlertRequest

    place = place_for(account_id(config, keys, demo=demo))
    action = {"rm": "remove"}.get(args.action, args.action)
    if hub_alive(place.socket):
        try:
            reply = hub_alert_request(
                place, AlertRequest(action, rule=rule, id=getattr(args, "id", "") or "")
            )
        except HubError as exc:
            return _fail(str(exc))
        if reply.error:
            return _fail(reply.error)
        if reply.message:
            print(f"{reply.message} (by the running hub)")
        if action == "list":
            print_alerts(reply.alerts)
        return 0
    state_dir = paths.state_dir() / "demo" if demo else paths.state_dir()
    return _without_hub(config, path, state_dir, action, rule, getattr(args, "id", ""))


def _without_hub(
    config: Config,
    path: Path,
    state_dir: Path,
    action: str,
    rule: AlertRule | None,
    rule_id: str,
) -> int:
    """Edit the config file (no hub runs: the next marketpane or hub picks it up)."""
    rules = list(config.alerts)
    book = AlertBook(
        rules,
        state_path=state_dir / STATE_FILE,
        watchlist_codes=lambda name: [s.code for s in config.watchlist(name).symbols],
    )
    ids = [r.id for r in rules]
    if action == "list":
        print_alerts(book.views())
        return 0
    if action == "add" and rule is not None:
        if rule.id == "new":
            number = 1
            while str(number) in ids:
                number += 1
            rule = msgspec.structs.replace(rule, id=str(number))
        if rule.id in ids:
            return _fail(f"there is already an alert {rule.id}")
        rules.append(rule)
        message = f"alert {rule.id} added: {rule.when}"
    elif rule_id not in ids:
        return _fail(f"there is no alert {rule_id}")
    elif action == "remove":
        rules = [r for r in rules if r.id != rule_id]
        message = f"alert {rule_id} deleted"
    elif action in ("pause", "resume"):
        paused = action == "pause"
        rules = [msgspec.structs.replace(r, paused=paused) if r.id == rule_id else r for r in rules]
        message = f"alert {rule_id} {'paused' if paused else 'resumed'}"
    else:  # test
        return _test_here(config, book, rule_id)
    try:
        save_alert_rules(path, rules)
    except (OSError, ConfigError) as exc:
        return _fail(f"could not save {path}: {exc}")
    print(f"{message} (saved in {path}; no hub is running)")
    return 0


def _test_here(config: Config, book: AlertBook, rule_id: str) -> int:
    firing = book.test_firing(rule_id)
    problems: list[str] = []

    async def run() -> dict[str, int]:
        delivery = Delivery(config.alert_delivery, lambda _level, text: problems.append(text))
        delivery.send(firing)
        await delivery.drain(20.0)
        await delivery.close()
        return delivery.delivered

    delivered = asyncio.run(run())
    for problem in problems:
        sys.stderr.write(f"marketpane alert: {clean_text(problem)}\n")
    names = ", ".join(sorted(delivered)) or "no channel"
    print(f"alert {rule_id} test delivered by {names} (no hub: panes show nothing)")
    return 1 if problems else 0


def print_alerts(views: list[AlertView]) -> None:
    """The alert list as a table of plain text."""
    if not views:
        print("no alerts (add one: marketpane alert add 'NASDAQ:AAPL > 250')")
        return
    rows = [("ID", "WHEN", "MODE", "STATE", "LAST", "FIRED")]
    for view in views:
        rule = view.rule
        mode = rule.mode if rule.mode == "once" else f"every {rule.cooldown_seconds:g}s"
        if rule.expires:
            mode += f" until {rule.expires}"
        last = "" if view.last_value is None else value_text(view.last_value)
        fired = ""
        if view.last_fired is not None:
            moment = dt.datetime.fromtimestamp(view.last_fired).strftime("%Y-%m-%d %H:%M:%S")
            fired = f"{view.fired_count}x, last {moment}"
        rows.append((rule.id, rule.when, mode, view.status, last, fired))
    widths = [max(len(clean_text(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(
                clean_text(cell).ljust(w) for cell, w in zip(row, widths, strict=True)
            ).rstrip()
        )
