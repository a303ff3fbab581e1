"""StockNews.live ``/ws`` wire models and dispatcher (``shared/api/002_*.txt``).

Server messages: ``connected`` and ``news``; client messages: ``ping`` and ``subscribe``.
Close code 1008 means authentication failed or the subscription expired.
"""

from __future__ import annotations

from typing import Literal, cast

import msgspec

from tui.protocol.common import (
    DecodeFailure,
    Pong,
    Unrecognised,
    decode_failure,
    excerpt,
    is_pong,
)
from tui.protocol.text import clean_model

AUTH_CLOSE_CODE = 1008
"""Close code for a bad token or an expired subscription (Error Handling)."""

SENTIMENT_LABELS = ("Very Bearish", "Bearish", "Neutral", "Bullish", "Very Bullish")
"""The documented ``sentimentLabel`` values, most bearish first (Data Fields)."""


class SubscriptionInfo(msgspec.Struct, frozen=True):
    """``subscription`` of the ``connected`` message."""

    expiresAt: str | None = None
    isActive: bool | None = None


class Connected(msgspec.Struct, frozen=True, tag="connected", tag_field="type"):
    """Sent immediately after successful authentication (Connected Message)."""

    message: str = ""
    subscription: SubscriptionInfo | None = None


class StockNewsData(msgspec.Struct, omit_defaults=True):
    """``data`` of a ``news`` message: every documented field, all tolerant of absence."""

    ticker: str | None = None
    sentimentScore: float | None = None
    sentimentLabel: str | None = None
    confidence: float | None = None
    summary: str | None = None
    content: str | None = None
    category: str | None = None
    stockTickers: list[str] = []
    keyFactors: list[str] = []
    isStockRelated: bool | None = None
    articleUrl: str | None = None
    articleSlug: str | None = None
    channel: str | None = None
    guild: str | None = None
    timestamp: str | None = None
    price: float | None = None
    priceChange: float | None = None
    priceCurrency: str | None = None
    priceFormatted: str | None = None
    volume: float | None = None
    marketCap: str | None = None
    sector: str | None = None


class News(msgspec.Struct, frozen=True, tag="news", tag_field="type"):
    """Sent whenever new stock news is detected and analysed (News Message)."""

    data: StockNewsData
    timestamp: str | None = None


class _PongMessage(msgspec.Struct, frozen=True, tag="pong", tag_field="type"):
    """A JSON ``{"type": "pong"}`` answer (undocumented; tolerated)."""


class _TypeOnly(msgspec.Struct):
    """Used to read the ``type`` of a message we have no model for."""

    type: str | None = None


StockNewsEvent = Connected | News | Pong | Unrecognised | DecodeFailure
"""Everything :func:`dispatch_stocknews` can return."""

_DECODER = msgspec.json.Decoder(Connected | News | _PongMessage)
"""Tagged-union decoder on the ``type`` field."""
_TYPE_DECODER = msgspec.json.Decoder(_TypeOnly)
"""Fallback decoder to tell unknown types from bad frames."""


def dispatch_stocknews(frame: str | bytes) -> StockNewsEvent:
    """Turn one raw StockNews frame into a typed event; never raises."""
    if is_pong(frame):
        return Pong()
    try:
        payload = frame.encode("utf-8") if isinstance(frame, str) else frame
        decoded = cast(Connected | News | _PongMessage, _DECODER.decode(payload))
    except UnicodeError:
        return DecodeFailure(reason="frame is not valid UTF-8", excerpt=excerpt(frame))
    except msgspec.ValidationError as exc:
        try:
            probe = _TYPE_DECODER.decode(payload)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeError):
            return decode_failure(exc, frame)
        if probe.type in ("connected", "news"):
            return decode_failure(exc, frame)
        return Unrecognised(excerpt=excerpt(frame))
    except msgspec.DecodeError as exc:
        return decode_failure(exc, frame)
    if isinstance(decoded, _PongMessage):
        return Pong()
    return clean_model(decoded, frame)


class PingMessage(msgspec.Struct, frozen=True, tag="ping", tag_field="type"):
    """``{"type": "ping"}`` keep-alive (Client Messages)."""


class SubscribeMessage(msgspec.Struct, frozen=True, tag="subscribe", tag_field="type"):
    """``{"type": "subscribe", "tickers": [...]}`` to filter by ticker (Client Messages)."""

    tickers: list[str]


ClientMessage = PingMessage | SubscribeMessage
"""Every message a StockNews client may send."""

_CLIENT_DECODER: msgspec.json.Decoder[ClientMessage] = msgspec.json.Decoder(ClientMessage)
"""Decoder the simulator uses for client messages."""


def encode_client_message(message: ClientMessage) -> str:
    """Encode a client message as text."""
    return msgspec.json.encode(message).decode()


def decode_client_message(frame: str | bytes) -> ClientMessage:
    """Decode a client message strictly; raises ``msgspec`` errors on bad input."""
    return _CLIENT_DECODER.decode(frame)


def encode_server_message(message: Connected | News) -> str:
    """Encode a server message (used by the simulator)."""
    return msgspec.json.encode(message).decode()


SentimentLabel = Literal["Very Bearish", "Bearish", "Neutral", "Bullish", "Very Bullish"]
"""Type of the documented labels."""


def normalise_score(value: float | None) -> float | None:
    """Scale a score or confidence to -1..1 / 0..1: a magnitude above 1 is a percentage.

    Two copies of the vendor page disagree (0.75 vs 75; protocol-notes, StockNews).
    """
    if value is None:
        return None
    return value / 100.0 if abs(value) > 1.0 else value


def label_for_score(score: float) -> SentimentLabel:
    """The documented label that matches a normalised score."""
    if score <= -0.6:
        return "Very Bearish"
    if score <= -0.2:
        return "Bearish"
    if score < 0.2:
        return "Neutral"
    if score < 0.6:
        return "Bullish"
    return "Very Bullish"
