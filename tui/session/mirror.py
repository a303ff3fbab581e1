"""A view's own copy of the market, kept from session batches.

The widgets draw from a :class:`StoreMirror` exactly as they would from the engine's store,
but it is filled only from :class:`~tui.session.values.SessionBatch` values, so the session
behind it may live in this process or in another.
"""

from __future__ import annotations

from collections import deque

from tui.engine.store import SPARK_POINTS, MarketStore, QuoteRow, SeriesBuffer
from tui.protocol.live import SeriesUpdate
from tui.session.values import QuoteState, SessionBatch


class StoreMirror(MarketStore):
    """A :class:`MarketStore` that applies batches instead of frames."""

    def apply_batch(self, batch: SessionBatch) -> None:
        """Take in every value of ``batch``."""
        if batch.rewound:
            self.clear()
        for code in batch.removed:
            self.quotes.pop(code, None)
        for state in batch.quotes:
            self.quotes[state.code] = quote_row(state)
        for delta in batch.series:
            update = SeriesUpdate(delta.code, delta.bar_type, None, None, delta.bars)
            self.apply_series(update, first=delta.reloaded, now=delta.updated_at, ticks=delta.ticks)
            buffer: SeriesBuffer = self.series[delta.code]
            buffer.loaded_at = delta.loaded_at
        for item in batch.news:
            self.add_news(item)
        self.take_changes()  # a mirror has no consumer of its own change sets


def quote_row(state: QuoteState) -> QuoteRow:
    """The store's row for a quote state."""
    return QuoteRow(
        code=state.code,
        values=state.values,
        changed_at=state.changed_at,
        direction=state.direction,
        spark=deque(state.spark, maxlen=SPARK_POINTS),
        spark_minute=state.spark_minute,
        updated_at=state.updated_at,
        server_ms=state.server_ms,
    )


def quote_state(row: QuoteRow) -> QuoteState:
    """A value copy of a store row."""
    return QuoteState(
        code=row.code,
        values=dict(row.values),
        changed_at=dict(row.changed_at),
        direction=row.direction,
        spark=list(row.spark),
        spark_minute=row.spark_minute,
        updated_at=row.updated_at,
        server_ms=row.server_ms,
    )
