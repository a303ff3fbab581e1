"""Prices at the instrument's precision: as many decimals as its feed sends (``1.05418``),
at least what the price's size asks for, with thousands separators."""

from __future__ import annotations

from collections.abc import Iterable

ABSURD_MAGNITUDE = 1e15
"""Numbers at or past this are written in powers of ten, never grouped in thousands."""
MAX_DECIMALS = 6
"""Most decimals a price is shown with."""


def magnitude_decimals(value: float) -> int:
    """The least decimals a price of this size is shown with: 4 below 10, 2 above, none above
    100,000 (5 below 1)."""
    magnitude = abs(value)
    if magnitude >= 100_000:
        return 0
    if magnitude >= 10:
        return 2
    return 4 if magnitude >= 1 else 5


def feed_decimals(value: float) -> int:
    """The decimals the feed actually sent (``1.05418`` has 5), ignoring a float's noise."""
    text = f"{value:.{MAX_DECIMALS}f}".rstrip("0")
    return len(text) - text.index(".") - 1 if "." in text else 0


def instrument_decimals(prices: Iterable[object], at_least: int = 0) -> int:
    """The decimals an instrument's prices are shown with: the most its feed sent in any of
    ``prices``, at least what each price's size asks for (and ``at_least``), at most
    :data:`MAX_DECIMALS`."""
    decimals = at_least
    for value in prices:
        if isinstance(value, int | float) and not isinstance(value, bool):
            decimals = max(decimals, magnitude_decimals(value), feed_decimals(value))
    return min(decimals, MAX_DECIMALS)


def price_text(value: float | None, decimals: int | None = None) -> str:
    """A price with thousands separators at ``decimals`` (the instrument's precision, see
    :func:`magnitude_decimals` and :func:`feed_decimals`), or by its size alone."""
    if value is None:
        return "—"
    if abs(value) >= ABSURD_MAGNITUDE:
        return f"{value:.2e}"
    places = magnitude_decimals(value) if decimals is None else decimals
    return f"{value:,.{places}f}"
