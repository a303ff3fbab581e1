"""A story from either news feed, as the store keeps it: one item per story whatever its
source, with the rules that say two items are the same story and how they merge."""

from __future__ import annotations

import re
import time

import msgspec

from tui.protocol.newsfeed import NewsfeedItem
from tui.protocol.stocknews import StockNewsData, label_for_score, normalise_score


class NewsItem(msgspec.Struct):
    """A news item from either source, normalised (a value: it travels in batches as it is)."""

    key: str
    title: str
    summary: str
    tickers: list[str]
    source: str
    published: float
    origin: str
    link: str | None = None
    score: float | None = None
    label: str | None = None
    confidence: float | None = None
    factors: list[str] = []
    price: float | None = None
    price_change: float | None = None
    price_text: str | None = None
    category: str | None = None


def news_from_newsfeed(item: NewsfeedItem) -> NewsItem:
    """Normalise an InsightSentry ``/newsfeed`` item."""
    key = item.link or f"{item.published_seconds}|{item.source}|{item.title}"
    tickers = [s.split(":", 1)[-1] for s in item.related_symbols]
    return NewsItem(
        key=key,
        title=item.title,
        summary=item.content,
        tickers=tickers,
        source=item.source or "InsightSentry",
        published=item.published_seconds,
        origin="newsfeed",
        link=item.link,
    )


def _iso_seconds(text: str | None) -> float:
    """Epoch seconds from an ISO-8601 string; now when absent or bad."""
    from datetime import datetime

    if text:
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    return time.time()


def news_from_stocknews(data: StockNewsData, timestamp: str | None) -> NewsItem:
    """Normalise a StockNews ``news`` message (scores scaled to -1..1, protocol-notes)."""
    score = normalise_score(data.sentimentScore)
    label = data.sentimentLabel or (label_for_score(score) if score is not None else None)
    title = data.summary or data.content or "(no summary)"
    published = _iso_seconds(data.timestamp or timestamp)
    key = data.articleUrl or f"{published}|StockNews|{title}"
    tickers = data.stockTickers or ([data.ticker] if data.ticker else [])
    return NewsItem(
        key=key,
        title=title[:300],
        summary=title,
        tickers=tickers,
        source=data.channel or "StockNews",
        published=published,
        origin="stocknews",
        link=data.articleUrl,
        score=score,
        label=label,
        confidence=normalise_score(data.confidence),
        factors=list(data.keyFactors),
        price=data.price,
        price_change=data.priceChange,
        price_text=data.priceFormatted,
        category=data.category,
    )


SAME_STORY_SECONDS = 900.0
"""Two sources' stories with the same normalised title this close in time are one story."""
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def _normalised(text: str) -> str:
    """Lower case, words only, at most 160 characters: how titles are compared."""
    return _NOT_WORD.sub(" ", text.lower()).strip()[:160]


def story_handles(item: NewsItem) -> list[str]:
    """What identifies a story across sources: its link, its title, its summary."""
    handles = [f"link:{item.link.strip().lower()}"] if item.link else []
    for text in (item.title, item.summary):
        words = _normalised(text)
        if len(words) >= 16:  # too short a text names no one story
            handles.append(f"text:{words}")
    return handles


def _union(first: list[str], second: list[str]) -> list[str]:
    return list(dict.fromkeys([*first, *second]))


def merge_news(old: NewsItem, new: NewsItem) -> NewsItem:
    """One story from two reports of it: sentiment, key factors and price from the report
    that has them (StockNews), the headline from ``/newsfeed``, sources and symbols from both.
    Merging a report already merged in changes nothing."""
    if new == old:
        return old
    rated, other = (new, old) if new.label is not None and old.label is None else (old, new)
    headline = old if old.origin != "stocknews" else new
    summaries = sorted((old.summary, new.summary), key=len)
    return msgspec.structs.replace(
        old,
        title=headline.title,
        summary=summaries[-1],
        tickers=_union(old.tickers, new.tickers),
        source=" · ".join(_union(old.source.split(" · "), new.source.split(" · "))),
        published=min(old.published, new.published),
        origin="+".join(sorted(set(old.origin.split("+")) | set(new.origin.split("+")))),
        link=old.link or new.link,
        score=rated.score if rated.score is not None else other.score,
        label=rated.label or other.label,
        confidence=rated.confidence if rated.confidence is not None else other.confidence,
        factors=rated.factors or other.factors,
        price=rated.price if rated.price is not None else other.price,
        price_change=rated.price_change if rated.price_change is not None else other.price_change,
        price_text=rated.price_text or other.price_text,
        category=rated.category or other.category,
    )
