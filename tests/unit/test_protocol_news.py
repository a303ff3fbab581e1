"""/newsfeed and StockNews models against the guides and protocol-notes."""

from __future__ import annotations

import json

from tui.protocol.common import DecodeFailure, Pong, StatusEvent, Unrecognised
from tui.protocol.newsfeed import (
    NewsfeedAuth,
    NewsfeedError,
    NewsfeedItems,
    decode_newsfeed_auth,
    dispatch_newsfeed,
    encode_newsfeed_auth,
)
from tui.protocol.stocknews import (
    Connected,
    News,
    PingMessage,
    SubscribeMessage,
    decode_client_message,
    dispatch_stocknews,
    encode_client_message,
    label_for_score,
    normalise_score,
)

STOCKNEWS_SAMPLE = """{"type": "news", "timestamp": "2026-02-06T12:34:56.789Z", "data": {
 "ticker": "AAPL", "sentimentScore": 0.75, "sentimentLabel": "Bullish", "confidence": 0.92,
 "summary": "Apple Inc. reported record quarterly earnings, beating analyst expectations...",
 "content": "Full article content here...", "category": "earnings", "stockTickers": ["AAPL"],
 "keyFactors": ["earnings beat", "revenue growth", "strong iPhone sales"],
 "isStockRelated": true,
 "articleUrl": "https://stocknews.live/news/AAPL/apple-record-earnings-q1-2026",
 "articleSlug": "apple-record-earnings-q1-2026", "channel": "Stock News",
 "guild": "Trading Community", "timestamp": "2026-02-06T12:34:56.789Z", "price": 175.50,
 "priceChange": 2.5, "priceCurrency": "USD", "priceFormatted": "$175.50 (+2.5%)",
 "volume": 45000000, "marketCap": "2.8T", "sector": "Technology"}}"""


def test_newsfeed_auth_section_1() -> None:
    """Guide section 1, News Feed Authentication: {"api_key": ...} only."""
    assert json.loads(encode_newsfeed_auth(NewsfeedAuth(api_key="k"))) == {"api_key": "k"}
    auth = decode_newsfeed_auth('{"api_key":"k","source":"Reuters","content":"fed rate"}')
    assert auth.source == "Reuters" and auth.content == "fed rate"


def test_newsfeed_item_fields_protocol_notes() -> None:
    """protocol-notes: title, content, link, published_at, related_symbols, source."""
    frame = json.dumps(
        {
            "title": "T",
            "content": "C",
            "link": "https://x/1",
            "published_at": 1757061265540,
            "related_symbols": ["NASDAQ:AAPL"],
            "source": "Reuters",
            "extra": {"kept": "ignored"},
        }
    )
    event = dispatch_newsfeed(frame)
    assert isinstance(event, NewsfeedItems)
    item = event.items[0]
    assert item.related_symbols == ["NASDAQ:AAPL"] and item.source == "Reuters"
    assert item.published_seconds == 1757061265.54
    seconds = dispatch_newsfeed('{"title":"T","published_at":1757061265}')
    assert isinstance(seconds, NewsfeedItems) and seconds.items[0].published_seconds == 1757061265


def test_newsfeed_status_error_pong() -> None:
    """protocol-notes: event frames, error frames and text pong."""
    assert dispatch_newsfeed('{"event":"subscription_status","status":"active"}') == StatusEvent(
        "subscription_status", "active"
    )
    assert isinstance(dispatch_newsfeed('{"error":"unauthorized","message":"bad"}'), NewsfeedError)
    assert dispatch_newsfeed("pong") == Pong()
    assert isinstance(dispatch_newsfeed("{oops"), DecodeFailure)
    assert isinstance(dispatch_newsfeed('{"x":1}'), Unrecognised)


def test_stocknews_connected_message() -> None:
    """StockNews guide, Connected Message."""
    frame = """{"type": "connected", "message": "WebSocket connection established",
      "subscription": {"expiresAt": "2026-03-06T00:00:00.000Z", "isActive": true}}"""
    event = dispatch_stocknews(frame)
    assert isinstance(event, Connected) and event.subscription is not None
    assert event.subscription.expiresAt == "2026-03-06T00:00:00.000Z"


def test_stocknews_sample_response_every_field() -> None:
    """StockNews guide, Sample Response: every documented field decodes."""
    event = dispatch_stocknews(STOCKNEWS_SAMPLE)
    assert isinstance(event, News)
    data = event.data
    assert data.ticker == "AAPL" and data.sentimentScore == 0.75 and data.confidence == 0.92
    assert data.keyFactors[-1] == "strong iPhone sales" and data.marketCap == "2.8T"
    assert data.priceFormatted == "$175.50 (+2.5%)" and data.volume == 45000000
    assert data.isStockRelated and data.articleSlug == "apple-record-earnings-q1-2026"
    assert data.sector == "Technology" and data.guild == "Trading Community"


def test_stocknews_unknown_type_and_bad_frames() -> None:
    """protocol-notes: accept and log unknown types; never crash."""
    assert isinstance(dispatch_stocknews('{"type":"welcome"}'), Unrecognised)
    assert isinstance(dispatch_stocknews('{"type":"news","data":5}'), DecodeFailure)
    assert isinstance(dispatch_stocknews(b"\x00\x01"), DecodeFailure)
    assert dispatch_stocknews('{"type":"pong"}') == Pong()


def test_stocknews_client_messages() -> None:
    """StockNews guide, Client Messages: ping and subscribe payloads."""
    assert json.loads(encode_client_message(PingMessage())) == {"type": "ping"}
    sub = SubscribeMessage(tickers=["AAPL", "TSLA"])
    assert json.loads(encode_client_message(sub)) == {
        "type": "subscribe",
        "tickers": ["AAPL", "TSLA"],
    }
    assert decode_client_message('{"type": "subscribe", "tickers": ["AAPL"]}') == (
        SubscribeMessage(["AAPL"])
    )


def test_sentiment_scale_normalised() -> None:
    """protocol-notes: 0.75 and 75 both appear; a magnitude above 1 is a percentage."""
    assert normalise_score(75) == 0.75 and normalise_score(-0.4) == -0.4
    assert label_for_score(0.75) == "Very Bullish" and label_for_score(0.0) == "Neutral"
