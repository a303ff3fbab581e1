"""The market store: sparse quote merge, series rules, news de-duplication, columnar bars."""

from __future__ import annotations

from tui.engine.columns import BarColumns
from tui.engine.store import MarketStore, SeriesBuffer, news_from_newsfeed
from tui.protocol.live import Bar, Quote, SeriesUpdate
from tui.protocol.newsfeed import NewsfeedItem


def test_bar_columns_round_trip_and_limit() -> None:
    columns = BarColumns(limit=5)
    columns.extend(Bar(time=float(t), close=float(t), volume=1.0) for t in range(8))
    assert len(columns) == 5 and [b.time for b in columns] == [3.0, 4.0, 5.0, 6.0, 7.0]
    assert columns[-1] == Bar(time=7.0, close=7.0, volume=1.0)  # absent fields stay None
    columns.replace_last(Bar(time=7.0, open=1.0, high=2.0, low=0.5, close=1.5, volume=9.0))
    assert columns.tail(1) == [Bar(time=7.0, open=1.0, high=2.0, low=0.5, close=1.5, volume=9.0)]
    assert columns[1:3] == [columns[1], columns[2]]


def test_series_rules_same_newer_older() -> None:
    """Issue rule: first message after (re)subscribe replaces history; same time replaces the
    last bar; newer appends; older is ignored and counted."""
    store = MarketStore()
    history = [Bar(time=float(t), close=1.0) for t in (1, 2, 3)]
    store.apply_series(SeriesUpdate("A:B", "1m", None, None, history), first=True, now=0)
    store.apply_series(
        SeriesUpdate("A:B", "1m", None, None, [Bar(time=3.0, close=2.0)]), first=False, now=0
    )
    store.apply_series(
        SeriesUpdate("A:B", "1m", None, None, [Bar(time=4.0, close=3.0)]), first=False, now=0
    )
    store.apply_series(
        SeriesUpdate("A:B", "1m", None, None, [Bar(time=2.5, close=9.0)]), first=False, now=0
    )
    series = store.series["A:B"]
    assert [(b.time, b.close) for b in series.bars] == [(1, 1), (2, 1), (3, 2), (4, 3)]
    assert series.ignored_older == 1
    store.apply_series(
        SeriesUpdate("A:B", "1m", None, None, [Bar(time=9.0, close=1.0)]), first=True, now=0
    )
    assert len(store.series["A:B"].bars) == 1


def test_fill_gaps_guide_faq() -> None:
    """Guide FAQ: fill missing 1-second bars with the previous bar's values."""
    buffer = SeriesBuffer("A:B")
    buffer.bars.extend([Bar(time=1.0, close=5.0), Bar(time=4.0, close=6.0)])
    filled = buffer.fill_gaps(1.0, 10)
    assert [(b.time, b.close, b.volume) for b in filled] == [
        (1.0, 5.0, None),
        (2.0, 5.0, 0.0),
        (3.0, 5.0, 0.0),
        (4.0, 6.0, None),
    ]


def test_sparse_quotes_merge_and_news_dedupe() -> None:
    store = MarketStore()
    store.apply_quote(Quote(code="A:B", last_price=1.0, bid=0.9), 1.0, 10.0)
    store.apply_quote(Quote(code="A:B", last_price=1.1), 2.0, 11.0)
    row = store.quotes["A:B"]
    assert row.get("bid") == 0.9 and row.get("last_price") == 1.1 and row.direction == 1
    item = NewsfeedItem(title="T", published_at=1.0, link="https://x/1")
    assert store.add_news(news_from_newsfeed(item))
    assert not store.add_news(news_from_newsfeed(item))  # replayed on reconnect
    assert store.duplicates == 1
