"""The streams a ``/live`` connection serves and the messages it sends: a series (bars or
ticks) per subscription, quotes, and the bar settings of a subscription."""

from __future__ import annotations

import msgspec

from tui.protocol.live import Bar, Quote, Subscription
from tui.sim.archive import SeriesArchive
from tui.sim.bars import BarBuilder, BarSpec

_ENCODER = msgspec.json.Encoder()
"""Encoder for outbound frames."""


class SeriesOut(msgspec.Struct):
    """A series message as the guide shows it (section 3)."""

    code: str
    bar_end: float
    last_update: int
    bar_type: str
    series: list[Bar]


class QuoteOut(msgspec.Struct):
    """A quote message as the guide shows it (section 3)."""

    last_update: int
    total_items: int
    data: list[Quote]


class Stream:
    """One series subscription being served: from the simulator's shared archive (real-time
    instruments), or a builder of its own (delayed ones, served as of the past)."""

    def __init__(
        self,
        sub: Subscription,
        spec: BarSpec,
        builder: BarBuilder,
        archive: SeriesArchive | None = None,
    ) -> None:
        self.sub, self.spec, self.builder, self.archive = sub, spec, builder, archive
        self.dirty = False


def spec_for(sub: Subscription) -> BarSpec:
    """The bar spec a subscription asks for, with the guide's defaults applied."""
    split = True if sub.split is None else sub.split
    return BarSpec(
        bar_type=sub.bar_type or "minute",
        interval=sub.bar_interval or 1,
        extended=True if sub.extended is None else sub.extended,
        split=split,
        dadj=bool(sub.dadj) and split,  # section 4: dadj forced false when split is false
        badj=bool(sub.badj),
        settlement=bool(sub.settlement),
        currency=sub.currency,
    )
