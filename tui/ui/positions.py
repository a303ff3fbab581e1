"""Position figures as grid text: money with two decimals and thousands separators, from
decimals (never through a float), and the privacy mask.

Shared by the grid, the detail view and the CSV export so one figure reads the same
everywhere.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

from tui.engine.store import MarketStore
from tui.portfolio.csvio import write_csv
from tui.portfolio.pnl import Figures, Totals
from tui.portfolio.report import POSITION_COLUMNS
from tui.protocol.text import clean_text

POSITION_KEYS = ("qty", "avg", "value", "dpnl", "pnl", "pnlpct", "weight")
"""Grid columns that show a position (empty for symbols not held)."""
AMOUNT_KEYS = frozenset({"qty", "avg", "value", "dpnl", "pnl"})
"""Columns privacy mode (``*``) hides: every amount of money and every quantity."""
HIDDEN = "•••"
"""What privacy mode shows in place of an amount."""
CENT = Decimal("0.01")


def money(value: Decimal | None, *, sign: bool = False) -> str:
    """``12,345.67`` (``+12.30`` with ``sign``), rounded half-even to the cent; ``—``."""
    if value is None:
        return "—"
    rounded = value.quantize(CENT, rounding=ROUND_HALF_EVEN)
    text = f"{rounded:,.2f}"
    return f"+{text}" if sign and rounded > 0 else text


def quantity(value: Decimal) -> str:
    """A quantity without trailing zeros (``10``, ``0.5``, ``-3``)."""
    text = f"{value.normalize():f}"
    if "." in text:
        whole, _, frac = text.partition(".")
        return f"{int(whole):,}.{frac}" if whole not in ("-0",) else text
    return f"{int(text):,}"


def percent(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{value.quantize(CENT, rounding=ROUND_HALF_EVEN):+,.2f}%"


def cell_text(key: str, figures: Figures | None, *, private: bool) -> str:
    """The text of position column ``key`` for ``figures`` (empty for a symbol not held)."""
    if figures is None or (figures.position.quantity == 0 and not figures.position.realized):
        return ""
    if private and key in AMOUNT_KEYS:
        return HIDDEN
    position = figures.position
    if key == "qty":
        return quantity(position.quantity)
    if key == "avg":
        average = position.average_cost
        return "—" if average is None else money(average)
    if key == "value":
        return money(figures.market_value)
    if key == "dpnl":
        return money(figures.day_pnl, sign=True)
    if key == "pnl":
        return money(figures.total_pnl, sign=True)
    if key == "pnlpct":
        return percent(figures.total_percent)
    if figures.weight is None:
        return "—"
    return f"{figures.weight * 100:.0f}%"


def direction(key: str, figures: Figures | None) -> Decimal | None:
    """The value whose sign colours a P&L cell (None for the others)."""
    if figures is None:
        return None
    return {"dpnl": figures.day_pnl, "pnl": figures.total_pnl, "pnlpct": figures.total_pnl}.get(key)


def totals_lines(totals: Totals, *, private: bool) -> list[tuple[str, dict[str, str]]]:
    """One (label, cells by column key) per line: the base currency's when every rate is
    known, else one line per currency (never added 1:1)."""

    def cells(sums: dict[str, Decimal]) -> dict[str, str]:
        gross = sums["gross_cost"]
        pct = sums["total_pnl"] / gross * 100 if gross else None
        out = {
            "value": money(sums["market_value"]),
            "dpnl": money(sums["day_pnl"], sign=True),
            "pnl": money(sums["total_pnl"], sign=True),
            "pnlpct": percent(pct),
        }
        if private:
            out = {k: (HIDDEN if k in AMOUNT_KEYS else v) for k, v in out.items()}
        return out

    if totals.base is not None and totals.base_currency and len(totals.by_currency) > 1:
        return [(f"Σ {totals.name} {totals.base_currency}", cells(totals.base))]
    return [
        (f"Σ {totals.name} {currency}", cells(sums))
        for currency, sums in sorted(totals.by_currency.items())
    ]


EXPORT_QUOTE_FIELDS = (
    ("last_price", "last"),
    ("change", "change"),
    ("change_percent", "change_percent"),
    ("open_price", "open"),
    ("high_price", "high"),
    ("low_price", "low"),
    ("prev_close_price", "prev_close"),
    ("bid", "bid"),
    ("bid_size", "bid_size"),
    ("ask", "ask"),
    ("ask_size", "ask_size"),
    ("volume", "volume"),
    ("market_cap", "market_cap"),
    ("currency_code", "currency"),
    ("status", "session"),
    ("delay_seconds", "delay_seconds"),
)
"""Quote fields the CSV export writes, with their column names."""
EXPORT_POSITION_COLUMNS = (*POSITION_COLUMNS, "weight")
"""``marketpane print``'s position columns, and the weight."""


def export_rows(
    codes: list[str], store: MarketStore, figures: dict[str, Figures]
) -> tuple[list[str], list[list[object]]]:
    """The grid's rows with every quote field and the position, in full precision."""
    header = ["symbol", *(name for _, name in EXPORT_QUOTE_FIELDS), "updated"]
    header += list(EXPORT_POSITION_COLUMNS)
    rows: list[list[object]] = []
    for code in codes:
        row = store.quotes.get(code)
        values = row.values if row is not None else {}
        line: list[object] = [code]
        line += [_plain(values.get(field)) for field, _ in EXPORT_QUOTE_FIELDS]
        updated = row.updated_at if row is not None and row.updated_at else None
        line.append(
            dt.datetime.fromtimestamp(updated, dt.UTC).isoformat(timespec="seconds")
            if updated
            else ""
        )
        held = figures.get(code)
        if held is None:
            line += [""] * len(EXPORT_POSITION_COLUMNS)
        else:
            position = held.position
            line += [
                position.quantity,
                _plain(position.average_cost),
                _plain(held.market_value),
                _plain(held.day_pnl),
                _plain(held.total_pnl),
                _plain(held.total_percent),
                _plain(held.weight),
            ]
        rows.append(line)
    return header, rows


def _plain(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str):
        return clean_text(value)
    return value


def export_csv(codes: list[str], store: MarketStore, figures: dict[str, Figures]) -> str:
    """The grid as CSV text (cells made formula-safe)."""
    header, rows = export_rows(codes, store, figures)
    return write_csv(header, rows)
