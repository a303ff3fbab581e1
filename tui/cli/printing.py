"""``marketpane print``: a snapshot of a watchlist or portfolio as a table, JSON, CSV or NDJSON.

From the account's running hub when there is one (its live store; symbols it does not hold
come from REST through it); else straight from the REST quotes endpoint, ten codes a call,
with no WebSocket (the demo starts its simulator for that). ``--watch`` streams NDJSON lines
as values change, through the hub (started if needed) or an engine in this process.

Exit codes: 0 every symbol live and real time; 3 some delayed by the server; 4 some without
a quote or stale; 1 no data source; 2 a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from tui import paths
from tui.config import Config, ConfigError, load_config
from tui.portfolio.model import Portfolio, PortfolioError, load_portfolio, portfolio_path
from tui.portfolio.report import (
    exit_code,
    snapshot_rows,
    to_csv,
    to_json,
    to_ndjson_line,
    to_table,
)
from tui.protocol.rules import SYMBOL_CODE
from tui.protocol.text import clean_text
from tui.secrets import Keys, SecretsFileError, load_keys, mask_secrets

EXIT_ERROR, EXIT_USAGE = 1, 2
FORMATS = ("table", "json", "csv", "ndjson")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="marketpane print",
        description="Print a snapshot of a watchlist or portfolio (exit 0 live, 3 delayed, "
        "4 stale or missing).",
    )
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--watchlist", metavar="NAME", help="a watchlist (default: the active one)")
    what.add_argument("--portfolio", metavar="NAME", help="a portfolio, with its positions")
    what.add_argument("--symbols", metavar="A,B", help="these symbols")
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument("--watch", action="store_true", help="stream NDJSON lines as values change")
    parser.add_argument("--seconds", type=float, help="with --watch: stop after this long")
    parser.add_argument("--config", metavar="PATH")
    parser.add_argument("--demo", action="store_true", help="the demo account (simulator)")
    parser.add_argument("--no-hub", action="store_true", help="never use or start a hub")
    return parser


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    sys.stderr.write(f"marketpane print: {clean_text(mask_secrets(message))}\n")
    return code


def print_command(argv: Sequence[str]) -> int:
    """Entry point of ``marketpane print``."""
    args = build_parser().parse_args(list(argv))
    path = paths.config_path(args.config)
    try:
        config = load_config(path)[0]
        keys = load_keys(paths.secrets_path())
    except (ConfigError, SecretsFileError) as exc:
        return _fail(str(exc))
    portfolio: Portfolio | None = None
    if args.portfolio:
        try:
            book = load_portfolio(portfolio_path(path))
        except PortfolioError as exc:
            return _fail(str(exc))
        portfolio = book.portfolio(args.portfolio)
        if portfolio is None:
            held = ", ".join(p.name for p in book.portfolios) or "none yet"
            return _fail(f"there is no portfolio {args.portfolio!r} (portfolios: {held})")
        codes = portfolio.symbols()
    elif args.symbols:
        codes = [c.strip().upper() for c in args.symbols.split(",") if c.strip()]
    else:
        names = [w.name for w in config.watchlists]
        if args.watchlist and args.watchlist not in names:
            return _fail(
                f"there is no watchlist {args.watchlist!r} (watchlists: {', '.join(names)})"
            )
        codes = [s.code for s in config.watchlist(args.watchlist).symbols]
    bad = [c for c in codes if not SYMBOL_CODE.match(c)]
    if bad:
        return _fail(f"{bad[0]!r} is not a symbol code of the form EXCHANGE:SYMBOL")
    if not codes:
        return _fail("nothing to print: the list has no symbols")
    if args.seconds is not None and (args.seconds <= 0 or not args.watch):
        return _fail("--seconds needs --watch and a positive number")
    demo = args.demo or not keys.has_insightsentry
    stale_after = config.display.stale_after_seconds
    if args.watch:
        return asyncio.run(_watch(config, keys, demo, codes, portfolio, args, stale_after, path))
    try:
        quotes, source = _snapshot(config, keys, demo, codes, no_hub=args.no_hub)
    except SnapshotError as exc:
        return _fail(str(exc), EXIT_ERROR)
    records = snapshot_rows(
        codes, lambda c: quotes.get(c, (None, None)), portfolio=portfolio, stale_after=stale_after
    )
    sys.stdout.write(render(records, args.format, positions=portfolio is not None))
    sys.stderr.write(f"({len(records)} symbols from {source})\n")
    return exit_code(records)


def render(records: list[dict[str, Any]], fmt: str, *, positions: bool) -> str:
    """The records in ``fmt``, ending with a newline."""
    if fmt == "json":
        return to_json(records) + "\n"
    if fmt == "csv":
        return to_csv(records)
    if fmt == "ndjson":
        return "".join(to_ndjson_line(r) + "\n" for r in records)
    return to_table(records, positions=positions) + "\n"


class SnapshotError(Exception):
    """No data source answered; the message says why."""


Quotes = dict[str, tuple[dict[str, Any] | None, float | None]]


def _snapshot(
    config: Config, keys: Keys, demo: bool, codes: list[str], *, no_hub: bool
) -> tuple[Quotes, str]:
    """Quotes from the running hub, else from REST."""
    if not no_hub:
        from tui.hub.client import HubError, hub_alive, request
        from tui.hub.place import account_id, place_for
        from tui.hub.wire import Refused, SnapshotReply, SnapshotRequest

        place = place_for(account_id(config, keys, demo=demo))
        if hub_alive(place.socket):
            try:
                reply = request(place, SnapshotRequest(codes), timeout=30.0)
            except HubError as exc:
                raise SnapshotError(str(exc)) from None
            if isinstance(reply, Refused):
                raise SnapshotError(f"the hub refused: {reply.reason}")
            if not isinstance(reply, SnapshotReply):
                raise SnapshotError(f"the hub answered {type(reply).__name__}")
            if reply.error and not reply.quotes:
                raise SnapshotError(reply.error)
            return {q.code: (q.values, q.updated_at) for q in reply.quotes}, "the running hub"
    return asyncio.run(rest_snapshot(config, keys, demo, codes)), "REST (no hub)"


async def rest_snapshot(config: Config, keys: Keys, demo: bool, codes: list[str]) -> Quotes:
    """The quotes endpoint, ten codes a call, no WebSocket (the demo: on its simulator)."""
    from tui.engine.rest import RestClient, RestError
    from tui.session.demo import start_demo

    simulator, config, keys = start_demo(config, keys, demo=demo)
    client = RestClient(
        config.endpoints,
        direct_key=keys.insightsentry_api_key,
        rapidapi_key=keys.insightsentry_rapidapi_key,
    )
    out: Quotes = {}
    try:
        for start in range(0, len(codes), 10):  # the API allows ten codes a call
            try:
                answer = await client.quotes(codes[start : start + 10])
            except RestError as exc:
                raise SnapshotError(f"the quotes endpoint failed: {exc}") from None
            for quote in answer.data:
                values = {k: v for k, v in msgspec.structs.asdict(quote).items() if v is not None}
                out[quote.code] = (values, None)
    finally:
        await client.close()
        if simulator is not None:
            simulator.stop()
    return out


async def _watch(
    config: Config,
    keys: Keys,
    demo: bool,
    codes: list[str],
    portfolio: Portfolio | None,
    args: argparse.Namespace,
    stale_after: float,
    config_path: Path,
) -> int:
    """NDJSON lines as values change, until ``--seconds`` pass or a signal."""
    from tui.cli.headless import headless_session

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
    seen: dict[str, tuple[Any, ...]] = {}
    records: list[dict[str, Any]] = []
    latest: Quotes = {}

    def on_values(values: dict[str, tuple[dict[str, Any] | None, float | None]]) -> None:
        latest.update(values)
        rows = snapshot_rows(
            [c for c in codes if c in values],
            lambda c: latest.get(c, (None, None)),
            portfolio=portfolio,
            stale_after=stale_after,
        )
        for record in rows:
            key = tuple(v for k, v in record.items() if k != "updated")
            if seen.get(record["symbol"]) != key:
                seen[record["symbol"]] = key
                try:
                    sys.stdout.write(to_ndjson_line(record) + "\n")
                    sys.stdout.flush()
                except BrokenPipeError:  # | head: the reader is gone
                    stop.set()
                    return

    try:
        session = headless_session(
            config, keys, demo=demo, codes=codes, no_hub=args.no_hub, config_path=config_path
        )
    except Exception as exc:  # the hub refused, or nothing could start: say so, exit 1
        return _fail(str(exc), EXIT_ERROR)
    task = asyncio.create_task(session.run(on_values))
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.seconds)
    finally:
        await session.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    records = snapshot_rows(
        codes, lambda c: latest.get(c, (None, None)), portfolio=portfolio, stale_after=stale_after
    )
    return exit_code(records)
