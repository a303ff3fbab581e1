"""Bars stored as columns of raw doubles: 48 bytes a bar instead of ~200 as objects.

A 30,000-bar series as ``Bar`` structs with boxed floats costs about 6 MB; twenty of them
were most of the memory budget. :class:`BarColumns` keeps six ``array('d')`` columns (NaN for
an absent field), bounded to ``limit`` bars, and hands out ``Bar`` objects only for the slice
a caller asks for (the chart asks for one screen width).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator
from typing import overload

from tui.protocol.live import Bar

FIELDS = ("time", "open", "high", "low", "close", "volume")
"""Column order."""
NAN = math.nan
"""Marks an absent field (tick rows carry only some)."""
TRIM_SLACK = 1_000
"""Bars allowed past the limit before the oldest are dropped in one move."""


def _value(x: float | None) -> float:
    return NAN if x is None else x


def _maybe(x: float) -> float | None:
    return None if x != x else x  # NaN is the only value not equal to itself


class BarColumns:
    """A bounded, append-mostly sequence of bars."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.columns = tuple(array("d") for _ in FIELDS)

    def __len__(self) -> int:
        return len(self.columns[0])

    def append(self, bar: Bar) -> None:
        """Add a bar at the end, dropping the oldest past the limit."""
        time_, open_, high, low, close, volume = self.columns
        time_.append(bar.time)
        open_.append(_value(bar.open))
        high.append(_value(bar.high))
        low.append(_value(bar.low))
        close.append(_value(bar.close))
        volume.append(_value(bar.volume))
        if len(time_) > self.limit + TRIM_SLACK:
            self._trim()

    def extend(self, bars: Iterable[Bar]) -> None:
        """Append many bars."""
        for bar in bars:
            self.append(bar)
        self._trim()

    def _trim(self) -> None:
        excess = len(self) - self.limit
        if excess > 0:
            for column in self.columns:
                del column[:excess]

    def replace_last(self, bar: Bar) -> None:
        """Overwrite the newest bar."""
        for column, value in zip(
            self.columns,
            (bar.time, bar.open, bar.high, bar.low, bar.close, bar.volume),
            strict=True,
        ):
            column[-1] = _value(value)

    def last_time(self) -> float | None:
        """Time of the newest bar."""
        return self.columns[0][-1] if len(self) else None

    def _bar(self, index: int) -> Bar:
        time_, open_, high, low, close, volume = (c[index] for c in self.columns)
        return Bar(
            time=time_,
            open=_maybe(open_),
            high=_maybe(high),
            low=_maybe(low),
            close=_maybe(close),
            volume=_maybe(volume),
        )

    @overload
    def __getitem__(self, index: int) -> Bar: ...

    @overload
    def __getitem__(self, index: slice) -> list[Bar]: ...

    def __getitem__(self, index: int | slice) -> Bar | list[Bar]:
        if isinstance(index, slice):
            return [self._bar(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("bar index out of range")
        return self._bar(index)

    def __iter__(self) -> Iterator[Bar]:
        for index in range(len(self)):
            yield self._bar(index)

    def tail(self, count: int) -> list[Bar]:
        """The newest ``count`` bars."""
        return self[max(0, len(self) - count) :]
