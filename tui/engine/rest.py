"""InsightSentry REST over httpx: WebSocket key rotation, symbol search, quote snapshots.

Every call has a timeout. 401/403 are final; 408, 429 (honouring ``Retry-After``) and 5xx are
retried with backoff; other 4xx are final (protocol-notes, REST). Search results are cached.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import msgspec

from tui.config import Endpoints
from tui.engine.backoff import Backoff
from tui.protocol.rest import QuotesResponse, SymbolInfo, SymbolSearchResponse, WebSocketKeyResponse
from tui.protocol.text import clean_model, clean_text
from tui.secrets import Secret

if TYPE_CHECKING:
    import httpx

TIMEOUT_SECONDS = 10.0
"""Per-request timeout."""
RETRIES = 3
"""Attempts for retryable failures."""
RETRY_CAP_SECONDS = 30.0
"""Longest wait between attempts (a longer ``Retry-After`` gives up instead)."""
SEARCH_TTL_SECONDS = 600.0
"""How long a search result is reused."""


class RestError(Exception):
    """A REST call failed; ``final`` is True when retrying cannot help."""

    def __init__(
        self,
        message: str,
        *,
        final: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.final, self.status, self.retry_after = final, status, retry_after


class RestClient:
    """One httpx client for both key types."""

    def __init__(
        self,
        endpoints: Endpoints,
        *,
        direct_key: Secret | None,
        rapidapi_key: Secret | None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.endpoints = endpoints
        self.direct_key, self.rapidapi_key = direct_key, rapidapi_key
        self._transport, self._timeout = transport, timeout
        self._http: httpx.AsyncClient | None = None
        self.search_cache: dict[str, tuple[float, list[SymbolInfo]]] = {}
        self.calls = 0

    @property
    def http(self) -> httpx.AsyncClient:
        """The connection pool, made on first use (httpx is imported then: it costs a tenth
        of a second at start, and a session with a direct key may never need REST)."""
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient(timeout=self._timeout, transport=self._transport)
        return self._http

    async def close(self) -> None:
        """Close the connection pool."""
        if self._http is not None:
            await self._http.aclose()

    def _rapid_headers(self) -> dict[str, str]:
        assert self.rapidapi_key is not None
        return {
            "x-rapidapi-key": self.rapidapi_key.reveal(),
            "x-rapidapi-host": self.endpoints.rapidapi_host,
        }

    def _data_target(self) -> tuple[str, dict[str, str]]:
        """Base URL and auth headers for data calls."""
        if self.direct_key is not None:
            return self.endpoints.rest_url, {"Authorization": f"Bearer {self.direct_key.reveal()}"}
        if self.rapidapi_key is not None:
            return self.endpoints.rapidapi_url, self._rapid_headers()
        raise RestError("no InsightSentry key configured", final=True)

    async def _get(
        self, url: str, headers: dict[str, str], params: dict[str, str], *, attempts: int = RETRIES
    ) -> bytes:
        """GET with the retry policy; returns the body of a 2xx answer."""
        backoff = Backoff()
        last = "no answer"
        status: int | None = None
        retry_after: float | None = None
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(backoff.next_delay(retry_after))
            self.calls += 1
            try:
                response = await self.http.get(url, headers=headers, params=params)
            except httpx_errors().TimeoutException:
                last, status, retry_after = "timed out", None, None
                continue
            except httpx_errors().HTTPError as exc:
                last, status, retry_after = f"network error ({type(exc).__name__})", None, None
                continue
            status = response.status_code
            if 200 <= status < 300:
                return response.content
            message = _error_text(response)
            if status in (401, 403):
                raise RestError(
                    f"key rejected (HTTP {status}): {message}", final=True, status=status
                )
            if status in (408, 429) or status >= 500:
                last = f"HTTP {status}: {message}"
                retry_after = _retry_after(response)
                if retry_after is not None and retry_after > RETRY_CAP_SECONDS:
                    raise RestError(
                        f"{last}; retry after {retry_after:.0f} s",
                        final=False,
                        status=status,
                        retry_after=retry_after,
                    )
                continue
            raise RestError(f"HTTP {status}: {message}", final=True, status=status)
        if attempts == 1:
            raise RestError(last, final=False, status=status, retry_after=retry_after)
        raise RestError(
            f"gave up after {attempts} attempts: {last}",
            final=False,
            status=status,
            retry_after=retry_after,
        )

    async def fetch_websocket_key(self) -> WebSocketKeyResponse:
        """``GET /v2/websocket-key`` with the RapidAPI headers (guide section 7), one attempt:
        each may issue one of the day's ten keys, so retrying is the caller's decision."""
        if self.rapidapi_key is None:
            raise RestError("no RapidAPI key configured", final=True)
        body = await self._get(
            f"{self.endpoints.rapidapi_url}/v2/websocket-key",
            self._rapid_headers(),
            {},
            attempts=1,
        )
        try:
            return clean_model(msgspec.json.decode(body, type=WebSocketKeyResponse), body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise RestError(
                f"unexpected key response: {clean_text(str(exc))}", final=False
            ) from None

    async def search(self, query: str) -> list[SymbolInfo]:
        """``GET /v3/symbols/search``, cached for ten minutes per query."""
        query = query.strip()
        if not query:
            return []
        cached = self.search_cache.get(query.lower())
        if cached and time.monotonic() - cached[0] < SEARCH_TTL_SECONDS:
            return cached[1]
        base, headers = self._data_target()
        body = await self._get(f"{base}/v3/symbols/search", headers, {"query": query})
        try:
            result = clean_model(msgspec.json.decode(body, type=SymbolSearchResponse), body).symbols
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise RestError(
                f"unexpected search response: {clean_text(str(exc))}", final=False
            ) from None
        self.search_cache[query.lower()] = (time.monotonic(), result)
        return result

    async def quotes(self, codes: list[str]) -> QuotesResponse:
        """``GET /v3/symbols/quotes`` for up to ten codes."""
        base, headers = self._data_target()
        body = await self._get(
            f"{base}/v3/symbols/quotes", headers, {"codes": ",".join(codes[:10])}
        )
        try:
            return clean_model(msgspec.json.decode(body, type=QuotesResponse), body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise RestError(
                f"unexpected quotes response: {clean_text(str(exc))}", final=False
            ) from None


def httpx_errors() -> Any:
    """The httpx module (imported on first use; see :attr:`RestClient.http`)."""
    import httpx

    return httpx


def _error_text(response: httpx.Response) -> str:
    """The ``message``/``error`` of a JSON error body, else the reason phrase."""
    try:
        body = response.json()
    except ValueError:
        return clean_text(response.reason_phrase)
    if isinstance(body, dict):
        return clean_text(str(body.get("message") or body.get("error") or response.reason_phrase))
    return clean_text(response.reason_phrase)


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds, if given as a number."""
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
