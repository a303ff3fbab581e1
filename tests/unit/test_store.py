"""The market store: sparse quote merge, series rules, news de-duplication, columnar bars."""

from __future__ import annotations

from typing import Any

from tui.engine.columns import BarColumns
from tui.engine.store import (
    QUOTE_FIELDS,
    SPARK_POINTS,
    MarketStore,
    QuoteRow,
    SeriesBuffer,
    add_trend_point,
    trend_points,
)
from tui.engine.stories import NewsItem, news_from_newsfeed
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


def test_full_quote_becomes_the_values_and_sparse_ones_merge_into_it() -> None:
    """A quote with every field replaces the row's values whole (nothing is left to merge);
    the sparse quotes after it still merge into what it brought, and the derived change and
    the direction follow the price."""
    store = MarketStore()
    full: dict[str, Any] = {name: 2.0 for name in QUOTE_FIELDS}
    full.update(status="REG", currency_code="USD")
    store.apply_quote(Quote(code="A:B", last_price=1.0, bid=0.5, volume=7.0), None, 1.0)
    store.apply_quote(Quote(code="A:B", **full), 9.0, 2.0)
    row = store.quotes["A:B"]
    assert row.values == full and row.direction == 1 and row.server_ms == 9.0
    store.apply_quote(Quote(code="A:B", last_price=1.5, bid=1.4), None, 3.0)
    assert row.values == full | {"last_price": 1.5, "bid": 1.4, "change": -0.5,
                                 "change_percent": -25.0}  # fmt: skip
    assert row.direction == -1 and row.changed_at["last_price"] == 3.0
    store.apply_quote(Quote(code="A:B", **full), None, 4.0)
    assert row.values == full and row.direction == 1


def _story(origin: str, **fields: object) -> NewsItem:
    base: dict[str, object] = {
        "key": f"{origin}-key",
        "title": "Apple Inc. shares rise after record iPhone sales in China",
        "summary": "",
        "tickers": ["AAPL"],
        "source": "Reuters" if origin == "newsfeed" else "StockNews",
        "published": 1000.0,
        "origin": origin,
    }
    base.update(fields)
    return NewsItem(**base)  # type: ignore[arg-type]


def test_one_story_from_two_sources_is_one_item() -> None:
    """Merged by link, else by normalised title within a short window; sentiment,
    factors and price from StockNews; source and symbols from both."""
    store = MarketStore()
    store.add_news(_story("newsfeed", link="https://x.example/a"))
    rated = _story(
        "stocknews",
        title="Apple Inc. shares rise after record iPhone sales in China!",
        summary="Apple Inc. shares rise after record iPhone sales in China!",
        tickers=["AAPL", "QQQ"],
        label="Bullish",
        score=0.6,
        factors=["iPhone sales"],
        price=239.5,
        published=1200.0,
    )
    assert store.add_news(rated)
    assert len(store.news) == 1
    item = store.news[0]
    assert item.title.startswith("Apple Inc. shares rise") and item.label == "Bullish"
    assert item.tickers == ["AAPL", "QQQ"] and item.source == "Reuters · StockNews"
    assert item.factors == ["iPhone sales"] and item.price == 239.5
    assert item.origin == "newsfeed+stocknews" and item.link == "https://x.example/a"
    assert not store.add_news(rated) and not store.add_news(_story("newsfeed"))  # nothing new
    assert len(store.news) == 1
    # a mirror given the merged item replaces its copy and ends the same
    mirror = MarketStore()
    mirror.add_news(_story("newsfeed", link="https://x.example/a"))
    mirror.add_news(item)
    assert list(mirror.news) == [item]


def test_same_title_far_apart_or_by_link_only() -> None:
    store = MarketStore()
    store.add_news(_story("newsfeed"))
    store.add_news(_story("stocknews", published=1000.0 + 3600))  # an hour later: another story
    assert len(store.news) == 2
    store.add_news(_story("stocknews", key="k3", title="Other words", link="https://x/1"))
    store.add_news(_story("newsfeed", key="k4", title="Completely different", link="https://X/1"))
    assert len(store.news) == 3  # the same link is the same story


def test_trend_window_is_thirty_minutes_and_quiet_minutes_draw_flat() -> None:
    row = QuoteRow("A:B")
    start = 60_000.0
    add_trend_point(row, 100.0, start)
    add_trend_point(row, 101.0, start + 10)  # same minute: replaces
    assert list(row.spark) == [101.0]
    add_trend_point(row, 99.0, start + 5 * 60)  # four quiet minutes repeat 101
    assert list(row.spark) == [101.0, 101.0, 101.0, 101.0, 101.0, 99.0]
    points = trend_points(row, start + 8 * 60)  # closed since: flat to now
    assert points[-3:] == [99.0, 99.0, 99.0] and len(points) == 9
    for minute in range(100):
        add_trend_point(row, float(minute), start + (10 + minute) * 60)
    assert len(trend_points(row, start + 200 * 60)) == SPARK_POINTS == 30
