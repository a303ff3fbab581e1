"""Simulated InsightSentry REST: ``/v2/websocket-key``, ``/v3/symbols/search``,
``/v3/symbols/quotes``, answered from the WebSocket server's ``process_request`` hook.

Direct keys authenticate with ``Authorization: Bearer``; RapidAPI keys with
``x-rapidapi-key`` (and ``x-rapidapi-host``). WebSocket keys last a week; at most
``ws_keys_per_day`` (10) are issued per RapidAPI key a day, then 429 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import msgspec
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from tui.protocol.rest import SymbolInfo, SymbolSearchResponse

if TYPE_CHECKING:
    from tui.sim.host import SimHost

PAGE_SIZE = 50
"""Symbols per search page (protocol-notes)."""
MAX_QUOTE_CODES = 10
"""Codes per ``/v3/symbols/quotes`` call (protocol-notes)."""


def json_response(
    ws: ServerConnection, status: int, body: object, headers: dict[str, str] | None = None
) -> Response:
    """A JSON HTTP response from the handshake hook."""
    response = ws.respond(status, "")
    response.body = msgspec.json.encode(body)
    extra = {"Content-Type": "application/json", "Content-Length": str(len(response.body))}
    for name, value in {**extra, **(headers or {})}.items():
        if name in response.headers:
            del response.headers[name]
        response.headers[name] = value
    return response


async def handle_rest(sim: SimHost, ws: ServerConnection, request: Request) -> Response:
    """Answer one REST request."""
    faults = sim.faults
    if faults.rest_delay_seconds:
        await asyncio.sleep(faults.rest_delay_seconds)
    if faults.rest_status:
        headers = {}
        if faults.retry_after_header is not None:
            headers["Retry-After"] = str(faults.retry_after_header)
        phrase = HTTPStatus(faults.rest_status).phrase
        return json_response(ws, faults.rest_status, {"message": phrase}, headers)
    url = urlsplit(request.path)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    if url.path.startswith("/sim/"):
        return _control(sim, ws, url.path, query)
    if url.path == "/v2/websocket-key":
        return _websocket_key(sim, ws, request)
    if not _authorised(sim, request):
        return json_response(ws, 401, {"message": "Missing or invalid API key."})
    if url.path == "/v3/symbols/search":
        return _search(sim, ws, query)
    if url.path == "/v3/symbols/quotes":
        return _quotes(sim, ws, query)
    return json_response(ws, 404, {"message": f"No route for {url.path}"})


def _authorised(sim: SimHost, request: Request) -> bool:
    """Bearer direct key, or a RapidAPI key."""
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer ") and sim.plan_for(auth[7:].strip()) is not None:
        return True
    return request.headers.get("x-rapidapi-key", "") in sim.settings.rapidapi_keys


def _websocket_key(sim: SimHost, ws: ServerConnection, request: Request) -> Response:
    rapid_key = request.headers.get("x-rapidapi-key")
    if not rapid_key:
        return json_response(ws, 401, {"message": "Missing x-rapidapi-key header."})
    plan = sim.settings.rapidapi_keys.get(rapid_key)
    if plan is None:
        return json_response(ws, 403, {"message": "You are not subscribed to this API."})
    now = time.time()
    issued = [t for t in sim.issued_per_key.get(rapid_key, []) if now - t < 86400]
    if len(issued) >= sim.settings.ws_keys_per_day:
        retry = int(86400 - (now - issued[0])) + 1
        return json_response(
            ws,
            429,
            {"message": "Daily WebSocket key limit reached (10)."},
            {"Retry-After": str(retry)},
        )
    issued.append(now)
    sim.issued_per_key[rapid_key] = issued
    key = f"ws-{secrets.token_hex(16)}"
    expiration = int(now + sim.settings.ws_key_lifetime_seconds)
    sim.issued_keys[key] = (plan, float(expiration))
    sim.issued_account[key] = rapid_key
    return json_response(ws, 200, {"api_key": key, "expiration": expiration})


def _search(sim: SimHost, ws: ServerConnection, query: dict[str, str]) -> Response:
    text = query.get("query", "").strip().lower()
    page = max(1, int(query.get("page", "1") or 1)) if query.get("page", "1").isdigit() else 1
    wanted_type = query.get("type", "").lower()
    exchange = query.get("exchange", "").upper()
    rows: list[SymbolInfo] = []
    for inst in sim.market.instruments.values():
        haystack = f"{inst.code} {inst.name}".lower()
        if text and text not in haystack:
            continue
        if wanted_type and inst.asset != wanted_type:
            continue
        if exchange and inst.exchange != exchange:
            continue
        rows.append(
            SymbolInfo(
                code=inst.code,
                name=inst.symbol,
                type=inst.asset,
                exchange=inst.exchange,
                currency_code=inst.currency,
                country="US" if inst.asset in ("stock", "etf", "future") else None,
                description=inst.name,
            )
        )
    rows.sort(key=lambda r: (not r.code.lower().endswith(":" + text), r.code))
    start = (page - 1) * PAGE_SIZE
    body = SymbolSearchResponse(
        symbols=rows[start : start + PAGE_SIZE],
        current_page=page,
        has_more=len(rows) > start + PAGE_SIZE,
    )
    return json_response(ws, 200, body)


def _quotes(sim: SimHost, ws: ServerConnection, query: dict[str, str]) -> Response:
    codes = [c for c in query.get("codes", "").split(",") if c]
    if not codes or len(codes) > MAX_QUOTE_CODES:
        return json_response(ws, 400, {"message": f"Pass 1 to {MAX_QUOTE_CODES} codes."})
    now = time.time()
    data = [sim.market.quote(c, now) for c in codes if c in sim.market.instruments]
    return json_response(ws, 200, {"total_items": len(data), "data": data})


def _control(sim: SimHost, ws: ServerConnection, path: str, query: dict[str, str]) -> Response:
    """Simulator-only diagnostics: ``/sim/stats`` and
    ``/sim/control?firehose=N&publish=N&market=pause|run``."""
    if path == "/sim/control":
        if "firehose" in query:
            sim.settings.firehose_rate = float(query["firehose"])
        if "market" in query:
            sim.settings.market_paused = query["market"] == "pause"
        for _ in range(int(query.get("publish", "0") or 0)):
            sim.publish(sim.news.make(time.time()))
    sessions = [
        {
            "key": s.record.key,
            "sent": s.record.sent,
            "dropped": s.record.dropped,
            "queued": len(s.outbox.queue),
        }
        for s in sim.live_sessions
    ]
    return json_response(
        ws,
        200,
        {
            "firehose": sim.settings.firehose_rate,
            "market_paused": sim.settings.market_paused,
            "live": sessions,
        },
    )
