"""InsightSentry REST shapes used by marketpane (protocol-notes, REST section).

``GET /v2/websocket-key``, ``GET /v3/symbols/search`` and ``GET /v3/symbols/quotes``.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from tui.protocol.live import Quote

EXPIRATION_MS_THRESHOLD = 1e11
"""``expiration`` values above this are epoch milliseconds, else seconds (protocol-notes)."""


class WebSocketKeyResponse(msgspec.Struct):
    """``{"api_key": ..., "expiration": ...}`` (guide section 7, API Key Response Format)."""

    api_key: str
    expiration: float | str

    @property
    def expires_at(self) -> float:
        """Expiry in epoch seconds; accepts seconds, milliseconds or ISO-8601."""
        return parse_expiration(self.expiration)


def parse_expiration(value: float | str) -> float:
    """Epoch seconds from an epoch number (s or ms) or an ISO-8601 string."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return value / 1000.0 if value > EXPIRATION_MS_THRESHOLD else float(value)


class SymbolInfo(msgspec.Struct, omit_defaults=True):
    """One row of a symbol search page."""

    code: str
    name: str | None = None
    type: str | None = None
    exchange: str | None = None
    currency_code: str | None = None
    country: str | None = None
    description: str | None = None


class SymbolSearchResponse(msgspec.Struct):
    """A page of ``/v3/symbols/search`` (50 a page)."""

    symbols: list[SymbolInfo] = []
    current_page: int = 1
    has_more: bool = False


class QuotesResponse(msgspec.Struct):
    """``/v3/symbols/quotes?codes=A,B`` (at most 10 codes)."""

    data: list[Quote] = []
    total_items: int | None = None


class RestError(msgspec.Struct):
    """A REST error body with ``message`` and/or ``error``."""

    message: str | None = None
    error: str | None = None
