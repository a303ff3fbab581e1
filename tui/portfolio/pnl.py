"""Positions and P&L from lots and quotes, in :class:`~decimal.Decimal` throughout.

Method: average cost. Lots are taken in date order (file order within a day). A lot in the
direction of the position (or from flat) opens: its quantity and its cost (price times
quantity plus fees) join the position. A lot against it closes at the average cost: the
realised P&L is the closed quantity times the price difference, less that share of the lot's
fees; whatever is left over opens the other way (a long sold past zero becomes a short).

Day P&L is exact for trades made today: value now, less the value at the previous close of
what was held at the start of the day, less today's cash flows (``q * p + fees`` per lot).
Quotes are floats on the wire; they enter as the decimal they print as (``Decimal(repr(x))``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from tui.portfolio.model import Lot, Portfolio

ZERO = Decimal(0)


def to_decimal(value: object) -> Decimal | None:
    """A quote's number as the decimal it prints as; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _sign(value: Decimal) -> int:
    return (value > 0) - (value < 0)


@dataclass(frozen=True)
class Position:
    """What the lots of one symbol add up to."""

    symbol: str
    quantity: Decimal = ZERO
    """Open quantity (negative: short)."""
    cost: Decimal = ZERO
    """Cost of the open quantity including its opening fees (negative for a short: proceeds)."""
    realized: Decimal = ZERO
    """Realised P&L of everything closed, after fees."""
    fees: Decimal = ZERO
    start_quantity: Decimal = ZERO
    """Open quantity at the start of ``today`` (for the day's P&L)."""
    today_flow: Decimal = ZERO
    """Cash paid today: the sum of ``quantity * price + fees`` of today's lots."""
    lots: int = 0

    @property
    def average_cost(self) -> Decimal | None:
        """Cost per unit of the open quantity (fees included), or None when flat."""
        return self.cost / self.quantity if self.quantity else None


def position_of(symbol: str, lots: Iterable[Lot], today: dt.date) -> Position:
    """The position that ``lots`` (of ``symbol``) make, as of ``today``."""
    quantity = cost = realized = fees = start = flow = ZERO
    count = 0
    ordered = sorted(
        (lot for lot in lots if lot.symbol == symbol), key=lambda lot: lot.date
    )  # sorted() is stable: file order within a day
    for lot in ordered:
        if lot.date > today:
            continue  # a lot dated in the future is not held yet
        count += 1
        q, p, f = lot.quantity, lot.price, lot.fees
        fees += f
        if lot.date == today:
            flow += q * p + f
        if quantity == 0 or _sign(q) == _sign(quantity):
            quantity += q
            cost += q * p + f
        else:
            closed = min(abs(q), abs(quantity))
            average = cost / quantity
            fee_share = f * closed / abs(q)
            realized += closed * (p - average) * _sign(quantity) - fee_share
            cost -= average * closed * _sign(quantity)
            quantity += closed * _sign(q)
            left = abs(q) - closed
            if quantity == 0:
                cost = ZERO  # no rounding remainder on a flat position
            if left:
                quantity = left * _sign(q)
                cost = quantity * p + (f - fee_share)
        if lot.date < today:
            start = quantity
    return Position(symbol, quantity, cost, realized, fees, start, flow, count)


@dataclass(frozen=True)
class Figures:
    """A position valued at a quote (None where the quote lacks what it needs)."""

    position: Position
    currency: str | None
    last: Decimal | None
    market_value: Decimal | None
    unrealized: Decimal | None
    total_pnl: Decimal | None
    total_percent: Decimal | None
    """Total P&L over the open position's cost (None when flat)."""
    day_pnl: Decimal | None
    weight: Decimal | None = None
    """Share (0..1) of the portfolio's absolute market value in the same currency."""


def figures_of(position: Position, quote: dict[str, object]) -> Figures:
    """Value ``position`` at ``quote`` (the merged quote fields)."""
    last = to_decimal(quote.get("last_price"))
    close = to_decimal(quote.get("prev_close_price"))
    currency = quote.get("currency_code")
    q = position.quantity
    market_value = unrealized = total = percent = day = None
    if last is not None:
        market_value = q * last
        unrealized = market_value - position.cost
        total = unrealized + position.realized
        if position.cost:
            percent = total / abs(position.cost) * 100
        if close is not None:
            day = market_value - position.start_quantity * close - position.today_flow
    elif q == 0:
        market_value, unrealized, total = ZERO, ZERO, position.realized
    return Figures(
        position,
        currency if isinstance(currency, str) else None,
        last,
        market_value,
        unrealized,
        total,
        percent,
        day,
    )


@dataclass
class Totals:
    """One portfolio's sums, per currency, and in the base currency when every rate is known."""

    name: str
    by_currency: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    """Currency → ``market_value``, ``day_pnl``, ``total_pnl``, ``cost``, ``gross_cost``."""
    base: dict[str, Decimal] | None = None
    base_currency: str | None = None
    missing: list[str] = field(default_factory=list)
    """Why a sum is incomplete: a symbol with no quote yet, a pair with no FX quote."""


SUMMED = ("market_value", "day_pnl", "total_pnl", "cost", "gross_cost")
"""Per-currency sums; ``gross_cost`` adds longs' and shorts' costs as magnitudes (the base a
portfolio's P&L % is taken on: a short's proceeds do not shrink it)."""


def portfolio_figures(
    portfolio: Portfolio,
    quotes: Callable[[str], dict[str, object] | None],
    today: dt.date,
    *,
    base_currency: str | None = None,
) -> tuple[list[Figures], Totals]:
    """Every position of ``portfolio`` valued, with weights, and its totals.

    ``quotes(code)`` gives a symbol's merged quote fields (None if none came yet). Totals are
    per currency; in ``base_currency`` only when an FX quote converts every currency (a
    missing rate is named in ``missing``, never taken as 1:1).
    """
    rows: list[Figures] = []
    for symbol in portfolio.symbols():
        position = position_of(symbol, portfolio.lots, today)
        rows.append(figures_of(position, quotes(symbol) or {}))
    totals = Totals(portfolio.name, base_currency=base_currency)
    gross: dict[str, Decimal] = {}
    for row in rows:
        if row.currency is None or row.market_value is None:
            if row.position.quantity:
                totals.missing.append(f"{row.position.symbol}: no quote yet")
            continue
        sums = totals.by_currency.setdefault(row.currency, dict.fromkeys(SUMMED, ZERO))
        sums["market_value"] += row.market_value
        sums["day_pnl"] += row.day_pnl if row.day_pnl is not None else ZERO
        sums["total_pnl"] += row.total_pnl if row.total_pnl is not None else ZERO
        sums["cost"] += row.position.cost
        sums["gross_cost"] += abs(row.position.cost)
        gross[row.currency] = gross.get(row.currency, ZERO) + abs(row.market_value)
    weighted = []
    for row in rows:
        weight = None
        if row.currency in gross and row.market_value is not None and gross[row.currency]:
            weight = abs(row.market_value) / gross[row.currency]
        weighted.append(_with_weight(row, weight))
    if base_currency is not None and totals.by_currency:
        base: dict[str, Decimal] | None = dict.fromkeys(SUMMED, ZERO)
        for currency, sums in totals.by_currency.items():
            rate = fx_rate(currency, base_currency, quotes)
            if rate is None:
                totals.missing.append(f"no FX quote for {currency} to {base_currency}")
                base = None
                break
            for name in SUMMED:
                assert base is not None
                base[name] += sums[name] * rate
        totals.base = base
    return weighted, totals


def _with_weight(row: Figures, weight: Decimal | None) -> Figures:
    return Figures(
        row.position,
        row.currency,
        row.last,
        row.market_value,
        row.unrealized,
        row.total_pnl,
        row.total_percent,
        row.day_pnl,
        weight,
    )


def fx_rate(
    currency: str, base: str, quotes: Callable[[str], dict[str, object] | None]
) -> Decimal | None:
    """Units of ``base`` per unit of ``currency`` from a subscribed ``FX:CCYBASE`` (or the
    inverse ``FX:BASECCY``) quote; 1 for the same currency; None when neither is there."""
    if currency == base:
        return Decimal(1)
    direct = to_decimal((quotes(f"FX:{currency}{base}") or {}).get("last_price"))
    if direct:
        return direct
    inverse = to_decimal((quotes(f"FX:{base}{currency}") or {}).get("last_price"))
    if inverse:
        return Decimal(1) / inverse
    return None
