"""The market store: merged quotes, bounded bar series, de-duplicated news.

Mutated only by the engine on its event loop; the UI reads it when a batch says what changed.
Everything is bounded: series ring buffers (30,000 bars), sparkline windows, news items.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import msgspec

from tui.engine.columns import BarColumns
from tui.engine.stories import SAME_STORY_SECONDS, NewsItem, merge_news, story_handles
from tui.protocol.live import Bar, Quote, SeriesUpdate

MAX_BARS = 30_000
"""Bars kept per series (the largest ``max_dp``)."""
SPARK_POINTS = 30
"""Minutes of last prices kept per quote for the Trend column (one point a minute)."""
SPARK_SECONDS = 60
"""Each Trend point is the last price of one minute."""
MAX_NEWS = 1_000
"""News items kept."""
QUOTE_FIELDS = tuple(f for f in Quote.__struct_fields__ if f != "code")
"""Quote fields merged by name."""
_FIELD_COUNT = len(QUOTE_FIELDS)
_present = msgspec.to_builtins
"""A quote's present fields as a dict (the struct omits its defaults: absent ones are left
out)."""


@dataclass
class QuoteRow:
    """The merged state of one symbol's quote."""

    code: str
    values: dict[str, Any] = field(default_factory=dict)
    changed_at: dict[str, float] = field(default_factory=dict)
    """When the last price last changed (the grid's flash), when the change was last derived
    and when a field was cleared: other fields are not compared one by one (that would double
    the cost of a merge for a time nothing shows)."""
    direction: int = 0
    """+1 when the last price last rose, -1 when it fell."""
    spark: deque[float] = field(default_factory=lambda: deque(maxlen=SPARK_POINTS))
    """The last price of each of the last :data:`SPARK_POINTS` minutes (a minute with no
    trade repeats the one before: a closed market draws flat)."""
    spark_minute: int = -1
    """The minute (epoch // 60) of the last point in :attr:`spark`."""
    updated_at: float = 0.0
    server_ms: float | None = None

    def get(self, name: str) -> Any:
        """A field's latest known value, or None."""
        return self.values.get(name)


def add_trend_point(row: QuoteRow, price: float, now: float) -> None:
    """Record ``price`` as the latest of the current minute in the row's Trend window."""
    minute = int(now // SPARK_SECONDS)
    spark = row.spark
    if spark and minute == row.spark_minute:
        spark[-1] = price
    else:
        if spark:  # minutes with no trade repeat the last price: time stays linear
            for _ in range(min(minute - row.spark_minute - 1, SPARK_POINTS)):
                spark.append(spark[-1])
        spark.append(price)
    row.spark_minute = minute


def trend_points(row: QuoteRow, now: float) -> list[float]:
    """The Trend window up to ``now``: quiet minutes since the last trade drawn flat, at
    most :data:`SPARK_POINTS` points, oldest first."""
    points = list(row.spark)
    if points:
        quiet = int(now // SPARK_SECONDS) - row.spark_minute
        points.extend([points[-1]] * max(0, min(quiet, SPARK_POINTS)))
    return points[-SPARK_POINTS:]


class SeriesChange(NamedTuple):
    """How one series changed since the last batch."""

    reloaded: bool
    """The whole history was (re)loaded: a mirror replaces its copy."""
    appended: int
    """Bars appended; the bar before them may have been replaced too."""


@dataclass
class SeriesBuffer:
    """Bars for one (code, bar settings) key."""

    code: str
    bar_type: str | None = None
    bars: BarColumns = field(default_factory=lambda: BarColumns(MAX_BARS))
    ignored_older: int = 0
    updated_at: float = 0.0
    loaded_at: float = 0.0
    """When the history was last (re)loaded."""
    ticks: bool = False
    """A tick series: every row is a trade, and trades in the same timestamp are all kept."""
    reloaded: bool = False
    """The history was (re)loaded since the last batch."""
    appended: int = 0
    """Bars appended since the last batch (the last bar may also have been replaced)."""

    def fill_gaps(self, seconds: float, count: int) -> list[Bar]:
        """The newest ``count`` bars with missing periods filled from the previous bar (guide
        FAQ, 1-second bars)."""
        out: list[Bar] = []
        for bar in self.bars.tail(count):
            if out and seconds > 0:
                prev = out[-1]
                t = prev.time + seconds
                while t < bar.time and len(out) < MAX_BARS * 2:
                    out.append(
                        Bar(
                            time=t,
                            open=prev.close,
                            high=prev.close,
                            low=prev.close,
                            close=prev.close,
                            volume=0.0,
                        )
                    )
                    t += seconds
            out.append(bar)
        return out[-count:]


def _derive_change(values: dict[str, Any], changed_at: dict[str, float], now: float) -> None:
    """A new price came without its change: derive the change from the previous close, or
    forget the old one (a zero price, or no close known) rather than show it against the new
    price."""
    last, close = values.get("last_price"), values.get("prev_close_price")
    if last and close:
        values["change"] = last - close
        values["change_percent"] = (last - close) / close * 100.0
        changed_at["change"] = changed_at["change_percent"] = now
    else:
        values.pop("change", None)
        values.pop("change_percent", None)


@dataclass
class StoreTap:
    """What changed since a fleet leader last published (kept apart from the batch's change
    sets, which the view's pace empties)."""

    quotes: set[str] = field(default_factory=set)
    series: dict[str, tuple[bool, int]] = field(default_factory=dict)
    """Code → (history reloaded, bars appended) since the last take."""
    news: list[NewsItem] = field(default_factory=list)

    def take(self) -> tuple[set[str], dict[str, tuple[bool, int]], list[NewsItem]]:
        """Everything since the last call, and reset."""
        out = self.quotes, self.series, self.news
        self.quotes, self.series, self.news = set(), {}, []
        return out


class MarketStore:
    """Quotes, series and news, plus what changed since the last batch."""

    def __init__(self) -> None:
        self.quotes: dict[str, QuoteRow] = {}
        self.series: dict[str, SeriesBuffer] = {}
        self.news: deque[NewsItem] = deque(maxlen=MAX_NEWS)
        self._news_by_key: dict[str, NewsItem] = {}
        self._news_handles: dict[str, tuple[str, float]] = {}
        """Link or normalised text → (key, published) of the story it belongs to."""
        self.changed_quotes: set[str] = set()
        self.changed_series: set[str] = set()
        self.urgent = False
        """Something since the last batch must not wait for a quiet market's slower tick: a
        symbol's first quote, a (re)loaded history, news."""
        self.on_wake: Callable[[], None] | None = None
        """Called when :attr:`urgent` becomes true and on the first quote or bar change since
        the last batch (the engine's publisher sleeps through quiet markets until then)."""
        self.new_news: list[NewsItem] = []
        self.duplicates = 0
        self.alert_watch: set[str] = set()
        """Symbols an alert watches: their changes are also kept in :attr:`alert_changed`."""
        self.alert_news = False
        """An alert watches news: new and merged stories are also kept in :attr:`alert_stories`."""
        self.alert_changed: set[str] = set()
        self.alert_stories: list[NewsItem] = []
        self.tap: StoreTap | None = None
        """Set on a fleet leader: every change is also kept here for the followers."""

    def clear(self) -> None:
        """Forget every quote, series and story (a replay sought back plays again from its
        start); the callbacks and alert watches stay."""
        self.quotes.clear()
        self.series.clear()
        self.news.clear()
        self._news_by_key.clear()
        self._news_handles.clear()
        self.changed_quotes.clear()
        self.changed_series.clear()
        self.new_news.clear()
        self._mark_urgent()

    def apply_quote(self, quote: Quote, server_ms: float | None, now: float) -> None:
        """Merge a (possibly sparse) quote: absent fields never blank out known ones.

        The present fields are taken in one C-level step (``to_builtins`` leaves out the
        absent ones) and merged with one ``update``, or, when every field is present, become
        the row's values as they are (an ``update`` of 17 keys cost a third of the merge):
        only the price, which drives the direction, the Trend and the flash, is compared with
        what was known."""
        row = self.quotes.get(quote.code)
        if row is None:
            row = self.quotes[quote.code] = QuoteRow(quote.code)
            self._mark_urgent()  # a symbol just added: show it without waiting
        values, changed_at = row.values, row.changed_at
        present: dict[str, Any] = _present(quote)
        code = present.pop("code")
        price = present.get("last_price")
        if price is not None:
            old = values.get("last_price")
            if old != price:
                if old is not None:
                    row.direction = 1 if price > old else -1
                add_trend_point(row, price, now)
                changed_at["last_price"] = now
        if len(present) == _FIELD_COUNT:
            row.values = values = present  # a full quote: every field new, no merge to do
        else:
            values.update(present)
        if price is not None and "change" not in present and "change_percent" not in present:
            _derive_change(values, changed_at, now)
        row.updated_at = now
        row.server_ms = server_ms
        changed = self.changed_quotes
        if not changed and self.on_wake is not None:
            self.on_wake()
        changed.add(code)
        if code in self.alert_watch:
            self.alert_changed.add(code)
        if self.tap is not None:
            self.tap.quotes.add(code)

    def merge_row(
        self,
        code: str,
        values: dict[str, Any],
        updated_at: float,
        server_ms: float | None,
        removed: list[str] | None = None,
    ) -> None:
        """Merge quote fields another process decoded (a fleet leader's), keeping when they
        were received there: a follower's snapshot must not make an old quote look new.
        ``removed`` fields are forgotten (the leader cleared them)."""
        try:
            quote = Quote(code=code, **values)
        except TypeError:  # a field this version does not know: merge what it does know
            quote = Quote(code=code, **{k: v for k, v in values.items() if k in QUOTE_FIELDS})
        now = time.time()
        self.apply_quote(quote, server_ms, min(updated_at, now))
        if removed:
            row = self.quotes[code]
            for name in removed:
                if row.values.pop(name, None) is not None:
                    row.changed_at[name] = now

    def adopt_trend(self, code: str, points: list[float], minute: int) -> None:
        """Take another process's Trend window for ``code`` when it reaches at least as far
        back and as far forward as this one (a fleet follower joining late)."""
        row = self.quotes.get(code)
        if row is None or minute < row.spark_minute or len(points) < len(row.spark):
            return
        row.spark = deque(points, maxlen=SPARK_POINTS)
        row.spark_minute = minute
        self.changed_quotes.add(code)

    def apply_series(
        self, update: SeriesUpdate, *, first: bool, now: float, ticks: bool = False
    ) -> None:
        """First message after (re)subscribe replaces history; then same time replaces the
        last bar (bars) or appends (ticks: guide section 3, "pushed for every individual
        trade"), newer appends, older is ignored and counted."""
        buffer = self.series.get(update.code)
        if buffer is None or first:
            buffer = self.series[update.code] = SeriesBuffer(update.code, update.bar_type)
            buffer.ticks = ticks
            buffer.bars.extend(update.series)
            buffer.loaded_at = now
            buffer.reloaded = True
            self._mark_urgent()
        else:
            bars = buffer.bars
            for bar in update.series:
                last = bars.last_time()
                if last is None or bar.time > last or (buffer.ticks and bar.time == last):
                    bars.append(bar)
                    buffer.appended += 1
                elif bar.time == last:
                    bars.replace_last(bar)
                else:
                    buffer.ignored_older += 1
        if self.tap is not None:
            reloaded, appended = self.tap.series.get(update.code, (False, 0))
            if buffer.reloaded and first:
                reloaded, appended = True, 0
            else:
                appended += len(update.series)
            self.tap.series[update.code] = (reloaded, appended)
        buffer.bar_type = update.bar_type or buffer.bar_type
        buffer.updated_at = now
        if not self.changed_series and self.on_wake is not None:
            self.on_wake()
        self.changed_series.add(update.code)

    def add_news(self, item: NewsItem) -> bool:
        """Add a story, or merge it into the same story already here (from the other source,
        or again): True if the list changed. The same story is found by its key, its link,
        or its normalised title or summary within :data:`SAME_STORY_SECONDS`."""
        key = self._same_story(item)
        if key is None:
            if len(self.news) == self.news.maxlen:
                self._forget_story(self.news[0])
            self.news.append(item)
            self._remember_story(item)
            changed = item
        else:
            old = self._news_by_key[key]
            merged = merge_news(old, item)
            if merged == old:
                self.duplicates += 1
                return False
            index = next(i for i in range(len(self.news) - 1, -1, -1) if self.news[i].key == key)
            self.news[index] = merged
            self._remember_story(merged)
            changed = merged
        self.new_news.append(changed)
        if self.tap is not None:
            self.tap.news.append(changed)
        if self.alert_news and len(self.alert_stories) < MAX_NEWS:
            self.alert_stories.append(changed)
        self._mark_urgent()
        if len(self.new_news) > MAX_NEWS:
            del self.new_news[: len(self.new_news) - MAX_NEWS]
        return True

    def _same_story(self, item: NewsItem) -> str | None:
        """The key of the story ``item`` repeats, if any."""
        if item.key in self._news_by_key:
            return item.key
        for handle in story_handles(item):
            found = self._news_handles.get(handle)
            if found is not None and abs(found[1] - item.published) <= SAME_STORY_SECONDS:
                return found[0]
        return None

    def _remember_story(self, item: NewsItem) -> None:
        self._news_by_key[item.key] = item
        for handle in story_handles(item):
            self._news_handles.setdefault(handle, (item.key, item.published))

    def _forget_story(self, item: NewsItem) -> None:
        self._news_by_key.pop(item.key, None)
        for handle in story_handles(item):
            if self._news_handles.get(handle, ("",))[0] == item.key:
                del self._news_handles[handle]

    def _mark_urgent(self) -> None:
        if not self.urgent:
            self.urgent = True
            if self.on_wake is not None:
                self.on_wake()

    def take_changes(self) -> tuple[set[str], dict[str, SeriesChange], list[NewsItem]]:
        """What changed since the last call (for series: reloaded, and how many bars were
        appended), and reset."""
        quotes, news = self.changed_quotes, self.new_news
        series: dict[str, SeriesChange] = {}
        for code in self.changed_series:
            buffer = self.series.get(code)
            if buffer is not None:
                series[code] = SeriesChange(buffer.reloaded, buffer.appended)
                buffer.reloaded, buffer.appended = False, 0
        self.changed_quotes, self.changed_series, self.new_news = set(), set(), []
        self.urgent = False
        return quotes, series, news

    def has_changes(self) -> bool:
        """Whether a batch would carry anything."""
        return bool(self.changed_quotes or self.changed_series or self.new_news)
