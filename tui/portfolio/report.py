"""Snapshot rows for ``marketpane print``: a quote's fields (and a position's figures) as one
flat record, and the four output formats. No engine, no Textual.

Money stays :class:`~decimal.Decimal` until it is written (JSON: a number to the cent);
every text field from a feed is cleaned of control characters.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import msgspec

from tui.portfolio.csvio import write_csv
from tui.portfolio.model import Portfolio
from tui.portfolio.pnl import portfolio_figures
from tui.protocol.text import clean_text

QUOTE_COLUMNS = (
    ("last", "last_price"),
    ("change", "change"),
    ("change_percent", "change_percent"),
    ("volume", "volume"),
    ("bid", "bid"),
    ("ask", "ask"),
    ("open", "open_price"),
    ("high", "high_price"),
    ("low", "low_price"),
    ("prev_close", "prev_close_price"),
    ("currency", "currency_code"),
    ("session", "status"),
    ("delay_seconds", "delay_seconds"),
)
"""Output name and quote field of every quote column."""
POSITION_COLUMNS = (
    "quantity",
    "average_cost",
    "market_value",
    "day_pnl",
    "total_pnl",
    "total_pnl_percent",
)
TABLE_COLUMNS = ("symbol", "last", "change_percent", "volume", "session", "delay_seconds", "state")
"""What the ``table`` format shows (the other formats carry every column)."""

EXIT_LIVE, EXIT_DELAYED, EXIT_STALE = 0, 3, 4
"""``marketpane print`` exit codes: every symbol live and real time; some delayed by the
server (``delay_seconds`` other than 0); some without a quote, or stale."""

OPEN_SESSIONS = ("PRE", "REG", "POST")
"""Sessions in which a quote is expected to keep moving (a closed market is not stale)."""


def quote_state(
    values: dict[str, Any] | None, updated_at: float | None, now: float, stale_after: float
) -> str:
    """``live``, ``delayed``, ``stale`` or ``missing`` for one symbol."""
    if not values or values.get("last_price") is None:
        return "missing"
    if (
        updated_at is not None
        and now - updated_at > stale_after
        and values.get("status") in OPEN_SESSIONS
    ):
        return "stale"
    delay = values.get("delay_seconds")
    if isinstance(delay, int | float) and delay != 0:
        return "delayed"
    return "live"


def snapshot_rows(
    codes: Sequence[str],
    values_of: Callable[[str], tuple[dict[str, Any] | None, float | None]],
    *,
    portfolio: Portfolio | None = None,
    stale_after: float = 30.0,
    today: dt.date | None = None,
) -> list[dict[str, Any]]:
    """One record per code: quote columns, ``updated`` (ISO, UTC), ``state``, and the
    position's columns when a portfolio is given."""
    now = time.time()
    figures = {}
    if portfolio is not None:
        rows, _ = portfolio_figures(portfolio, lambda c: values_of(c)[0], today or dt.date.today())
        figures = {r.position.symbol: r for r in rows}
    out: list[dict[str, Any]] = []
    for code in codes:
        values, updated_at = values_of(code)
        record: dict[str, Any] = {"symbol": code}
        for name, field in QUOTE_COLUMNS:
            value = (values or {}).get(field)
            record[name] = clean_text(value) if isinstance(value, str) else value
        lp_time = (values or {}).get("lp_time")
        moment = updated_at or (lp_time if isinstance(lp_time, int | float) else None)
        record["updated"] = (
            dt.datetime.fromtimestamp(moment, dt.UTC).isoformat(timespec="seconds")
            if moment
            else None
        )
        record["state"] = quote_state(values, updated_at, now, stale_after)
        if portfolio is not None:
            held = figures.get(code)
            position = held.position if held is not None else None
            record.update(
                quantity=position.quantity if position else None,
                average_cost=position.average_cost if position else None,
                market_value=held.market_value if held else None,
                day_pnl=held.day_pnl if held else None,
                total_pnl=held.total_pnl if held else None,
                total_pnl_percent=held.total_percent if held else None,
            )
        out.append(record)
    return out


def exit_code(records: Sequence[dict[str, Any]]) -> int:
    """The worst state among ``records`` as an exit code."""
    states = {r.get("state") for r in records}
    if states & {"missing", "stale"}:
        return EXIT_STALE
    if "delayed" in states:
        return EXIT_DELAYED
    return EXIT_LIVE


_ENCODER = msgspec.json.Encoder(decimal_format="number")
MONEY_COLUMNS = ("average_cost", "market_value", "day_pnl", "total_pnl")
"""Amounts of money: to the cent in JSON."""
CENT = Decimal("0.01")
FLOAT_DIGITS = 8
"""Feed numbers are rounded to this many decimals in JSON: a float's noise
(``1000302.0943300013``) is not the feed's information."""


def json_record(record: dict[str, Any]) -> dict[str, Any]:
    """A record with numbers as a script wants them: money to the cent, percentages to two
    decimals, quantities exact, feed floats without their binary noise."""
    out: dict[str, Any] = {}
    for name, value in record.items():
        if isinstance(value, Decimal) and (name in MONEY_COLUMNS or name.endswith("percent")):
            value = value.quantize(CENT)
        elif isinstance(value, float):
            value = round(value, 2 if name.endswith("percent") else FLOAT_DIGITS)
        out[name] = value
    return out


def to_json(records: Sequence[dict[str, Any]]) -> str:
    """A JSON array (numbers as numbers: see :func:`json_record`)."""
    return _ENCODER.encode([json_record(r) for r in records]).decode("utf-8")


def to_ndjson_line(record: dict[str, Any]) -> str:
    """One record as one JSON line (no newline)."""
    return _ENCODER.encode(json_record(record)).decode("utf-8")


def to_csv(records: Sequence[dict[str, Any]]) -> str:
    """A CSV table with a header (formula-safe cells)."""
    if not records:
        return ""
    header = list(records[0])
    return write_csv(header, ([_csv_value(r.get(h)) for h in header] for r in records))


def _csv_value(value: object) -> object:
    return "" if value is None else value


def to_table(records: Sequence[dict[str, Any]], *, positions: bool = False) -> str:
    """An aligned text table for a terminal."""
    columns = list(TABLE_COLUMNS)
    if positions:
        columns[-1:-1] = ["quantity", "market_value", "day_pnl", "total_pnl"]
    titles = {"change_percent": "CHG%", "delay_seconds": "DELAY", "market_value": "VALUE",
              "day_pnl": "DAY P&L", "total_pnl": "P&L", "quantity": "QTY"}  # fmt: skip
    rows = [[titles.get(c, c.upper()) for c in columns]]
    for record in records:
        rows.append([_table_value(c, record.get(c)) for c in columns])
    if positions and records:  # the portfolio's totals, summed from the exact figures
        total: dict[str, Any] = {"symbol": "TOTAL"}
        for column in ("market_value", "day_pnl", "total_pnl"):
            figures = [r[column] for r in records if isinstance(r.get(column), Decimal)]
            total[column] = sum(figures, Decimal(0)) if figures else None
        rows.append([_table_value(c, total.get(c)) if c in total else "" for c in columns])
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    lines = []
    for row in rows:
        cells = [
            cell.ljust(width) if i in (0, len(columns) - 1) else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _table_value(column: str, value: object) -> str:
    if value is None:
        return "—"
    if column == "state" and value == "missing":  # no quote from the hub nor the server
        return "unknown symbol"
    if column == "change_percent" and isinstance(value, int | float):
        return f"{value:+.2f}%"
    if column == "volume" and isinstance(value, int | float):
        for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
            if abs(value) >= size:
                return f"{value / size:.1f}{unit}"
        return f"{value:.0f}"
    if column == "delay_seconds" and isinstance(value, int | float):
        return "RT" if value == 0 else "EOD" if value < 0 else f"{value / 60:g}m"
    if isinstance(value, Decimal) and column == "quantity":
        return f"{value.normalize():,f}"
    if isinstance(value, Decimal):
        cents = value.quantize(Decimal("0.01"))
        return f"{cents:+,}" if column in ("day_pnl", "total_pnl") else f"{cents:,}"
    if isinstance(value, float):
        if abs(value) >= 10:
            return f"{value:,.2f}"
        return f"{value:.4f}" if abs(value) >= 1 else f"{value:.5f}"
    return clean_text(str(value))
