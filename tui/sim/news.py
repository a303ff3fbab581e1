"""Simulated financial news: template headlines whose sentiment matches their wording.

One generator feeds both ``/newsfeed`` items and StockNews ``news`` messages, so the two feeds
tell the same story in their own shapes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC

from tui.protocol.newsfeed import NewsfeedItem
from tui.protocol.stocknews import News, StockNewsData, label_for_score
from tui.sim.market import Market
from tui.sim.universe import Instrument

TEMPLATES: tuple[tuple[str, float, str, tuple[str, ...]], ...] = (
    (
        "{name} beats earnings estimates as revenue jumps {pct}%",
        0.75,
        "earnings",
        ("earnings beat", "revenue growth"),
    ),
    (
        "{name} raises full-year guidance on strong demand",
        0.65,
        "earnings",
        ("guidance raise", "demand strength"),
    ),
    (
        "{name} announces ${amount}B share buyback",
        0.5,
        "capital",
        ("share buyback", "capital return"),
    ),
    ("{name} wins major contract worth ${amount}B", 0.55, "product", ("new contract",)),
    (
        "Analysts upgrade {name} to buy, citing margin expansion",
        0.45,
        "analyst",
        ("analyst upgrade", "margin expansion"),
    ),
    ("{name} unveils new product line at annual event", 0.3, "product", ("product launch",)),
    ("{name} shares steady ahead of quarterly report", 0.0, "earnings", ("earnings preview",)),
    ("{name} to present at industry conference next week", 0.05, "corporate", ("conference",)),
    ("{name} names new chief financial officer", -0.05, "corporate", ("management change",)),
    (
        "{name} misses profit forecasts as costs climb {pct}%",
        -0.7,
        "earnings",
        ("earnings miss", "rising costs"),
    ),
    (
        "{name} cuts outlook, warns of weaker demand",
        -0.65,
        "earnings",
        ("guidance cut", "weak demand"),
    ),
    ("Regulators open probe into {name} business practices", -0.5, "legal", ("regulatory probe",)),
    (
        "Analysts downgrade {name} on valuation concerns",
        -0.4,
        "analyst",
        ("analyst downgrade", "valuation"),
    ),
    ("{name} recalls products over safety issue", -0.55, "product", ("product recall",)),
    (
        "{name} agrees to acquire rival in ${amount}B deal",
        0.35,
        "merger",
        ("acquisition", "consolidation"),
    ),
)
"""(headline, base sentiment, category, key factors)."""

SOURCES = ("SimWire", "MarketDesk", "StreetLedger", "TapeReader")
"""Fictional news sources (the simulator never names a real outlet)."""


@dataclass
class Story:
    """One generated story, rendered into both vendors' shapes."""

    seq: int
    inst: Instrument
    title: str
    summary: str
    score: float
    confidence: float
    category: str
    factors: tuple[str, ...]
    source: str
    published: float
    price: float
    change_pct: float
    related: list[str] = field(default_factory=list)
    volume: float = 0.0
    """The day's volume at publication (StockNews ``volume``)."""

    @property
    def slug(self) -> str:
        """URL slug of the article."""
        words = "".join(c if c.isalnum() else "-" for c in self.title.lower()).split("-")
        return "-".join(w for w in words if w)[:60] + f"-{self.seq}"

    @property
    def link(self) -> str:
        """Article URL (a reserved, never-resolving domain)."""
        return f"https://news.marketpane.invalid/{self.inst.symbol.lower()}/{self.slug}"

    def newsfeed_item(self) -> NewsfeedItem:
        """The InsightSentry ``/newsfeed`` item (protocol-notes field list)."""
        return NewsfeedItem(
            title=self.title,
            content=self.summary,
            link=self.link,
            published_at=round(self.published * 1000),
            related_symbols=self.related,
            source=self.source,
        )

    def stocknews(self) -> News:
        """The StockNews ``news`` message with every documented field."""
        iso = _iso(self.published)
        sign = "+" if self.change_pct >= 0 else ""
        shares_value = self.inst.shares * self.price
        return News(
            timestamp=iso,
            data=StockNewsData(
                ticker=self.inst.symbol,
                sentimentScore=self.score,
                sentimentLabel=label_for_score(self.score),
                confidence=self.confidence,
                summary=self.summary,
                content=f"{self.summary} {self.title}. (Simulated article.)",
                category=self.category,
                stockTickers=[c.split(":", 1)[1] for c in self.related],
                keyFactors=list(self.factors),
                isStockRelated=True,
                articleUrl=f"https://stocknews.marketpane.invalid/news/{self.inst.symbol}/{self.slug}",
                articleSlug=self.slug,
                channel="Stock News",
                guild="Simulated Community",
                timestamp=iso,
                price=self.price,
                priceChange=self.change_pct,
                priceCurrency=self.inst.currency,
                priceFormatted=f"${self.price:,.2f} ({sign}{self.change_pct:.1f}%)",
                volume=self.volume,
                marketCap=_human_cap(shares_value) if shares_value else None,
                sector=self.inst.sector or None,
            ),
        )


def _iso(epoch: float) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, as StockNews sends."""
    from datetime import datetime

    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _human_cap(value: float) -> str:
    """``2.8T`` style market cap."""
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:.0f}"


class NewsGenerator:
    """Makes stories about stocks in the market, deterministically for a seed."""

    def __init__(self, market: Market, seed: int) -> None:
        self.market = market
        self.rng = random.Random(seed * 7919 + 17)
        self.seq = 0
        self.candidates = [i for i in market.instruments.values() if i.asset in ("stock", "etf")]

    def make(self, now: float) -> Story:
        """One new story published at ``now``."""
        self.seq += 1
        inst = self.rng.choice(self.candidates)
        template, base, category, factors = self.rng.choice(TEMPLATES)
        score = max(-1.0, min(1.0, round(base + self.rng.uniform(-0.12, 0.12), 2)))
        title = template.format(
            name=inst.name,
            pct=self.rng.randint(3, 25),
            amount=self.rng.choice((1, 2, 5, 10, 25)),
        )
        state = self.market.state(inst.code)
        change_pct = round((state.price - state.prev_close) / state.prev_close * 100.0, 2)
        related = [inst.code]
        if self.rng.random() < 0.25:
            other = self.rng.choice(self.candidates)
            if other.code != inst.code:
                related.append(other.code)
        mood = "positive" if score > 0.2 else "negative" if score < -0.2 else "mixed"
        summary = f"{title}. Early reaction is {mood}."
        return Story(
            seq=self.seq,
            inst=inst,
            title=title,
            summary=summary,
            score=score,
            confidence=round(self.rng.uniform(0.6, 0.98), 2),
            category=category,
            factors=factors,
            source=self.rng.choice(SOURCES),
            published=now,
            price=state.price,
            change_pct=change_pct,
            related=related,
            volume=state.volume,
        )
