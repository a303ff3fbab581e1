"""InsightSentry ``/live`` wire models, both ways, and the frame dispatcher.

Shapes follow the vendor guide (``shared/api/000_*.txt``, sections 1, 2, 3, 5 and 6) and
``protocol-notes.md``. Inbound frames are decoded once into a superset envelope with a typed
``msgspec.json.Decoder`` and then classified, so a 30,000-bar history costs one decode pass.
``dispatch_live`` never raises: a bad frame becomes a :class:`DecodeFailure`.
"""

from __future__ import annotations

import typing
from typing import Literal

import msgspec

from tui.protocol.common import (
    DecodeFailure,
    Pong,
    StatusEvent,
    Unrecognised,
    decode_failure,
    excerpt,
    is_pong,
)
from tui.protocol.text import clean_model

BarType = Literal["tick", "second", "minute", "hour", "day", "week"]
"""Every ``bar_type`` the guide lists (section 2, Series Data Parameters)."""

SubscriptionType = Literal["series", "quote", "both"]
"""``type`` values: the guide's ``series``/``quote`` plus ``both`` from the official client."""


# ---------------------------------------------------------------------------------------------
# Inbound
# ---------------------------------------------------------------------------------------------


class Bar(msgspec.Struct, omit_defaults=True, gc=False):
    """One OHLCV row of a ``series`` message; tick rows may carry only some fields."""

    time: float
    open: float | None = None
    high: float | None = None
    low: float | None = None
    close: float | None = None
    volume: float | None = None


class Quote(msgspec.Struct, omit_defaults=True, gc=False):
    """One entry of a quote message's ``data`` list (guide section 3, Quote Data).

    Updates can be sparse (protocol-notes): every field but ``code`` may be absent, and an
    absent field means "unchanged", never "blank".
    """

    code: str
    status: str | None = None
    lp_time: float | None = None
    volume: float | None = None
    last_price: float | None = None
    change_percent: float | None = None
    change: float | None = None
    ask: float | None = None
    bid: float | None = None
    ask_size: float | None = None
    bid_size: float | None = None
    prev_close_price: float | None = None
    open_price: float | None = None
    low_price: float | None = None
    high_price: float | None = None
    market_cap: float | None = None
    currency_code: str | None = None
    delay_seconds: float | None = None
    """Seconds behind real time (0 real time, negative end of day); a float because servers
    write ``900.0`` as readily as ``900``."""


class _LiveEnvelope(msgspec.Struct, gc=False):
    """Superset of every ``/live`` JSON object; unknown keys are ignored by msgspec."""

    message: str | None = None
    server: str | None = None
    error: str | None = None
    symbol: str | None = None
    details: object = None
    action: str | None = None
    retryable: bool | None = None
    delay_seconds: float | None = None
    retry_after_seconds: float | None = None
    reference_id: str | None = None
    server_time: float | None = None
    code: str | None = None
    bar_end: float | None = None
    last_update: float | None = None
    bar_type: str | None = None
    series: list[Bar] | None = None
    total_items: float | None = None
    data: list[Quote] | None = None
    event: str | None = None
    status: str | None = None


class Greeting(msgspec.Struct, frozen=True):
    """``{"message": "Connecting...", "server": ...}`` sent on connect (guide section 1)."""

    message: str
    server: str


class ServerMessage(msgspec.Struct, frozen=True):
    """A plain ``{"message": ...}`` frame: a simple validation error or informational text.

    Guide section 6: "Simple validation errors use a single message field". Third parties
    also saw ``{"message": "Connected to <region>"}`` (protocol-notes), which is not an error.
    """

    message: str

    @property
    def is_error(self) -> bool:
        """True unless the text is one of the known informational connection messages."""
        lowered = self.message.lower()
        return not (lowered.startswith("connecting") or lowered.startswith("connected"))


class LiveError(msgspec.Struct, frozen=True):
    """A typed error frame (guide section 6, Error Codes; extra fields from protocol-notes)."""

    error: str
    message: str = ""
    symbol: str | None = None
    details: str | None = None
    action: str | None = None
    retryable: bool | None = None
    delay_seconds: float | None = None
    retry_after_seconds: float | None = None
    reference_id: str | None = None

    @property
    def server_delay(self) -> float | None:
        """The delay the server names, in seconds, if any (it wins over our backoff)."""
        delays = [d for d in (self.delay_seconds, self.retry_after_seconds) if d is not None]
        return max(delays) if delays else None


class Heartbeat(msgspec.Struct, frozen=True):
    """``{"server_time": ms}``, about every 10 s (guide section 5, Server Heartbeat)."""

    server_time_ms: float


class SeriesUpdate(msgspec.Struct, frozen=True):
    """A series message: history on (re)subscribe, then single-bar updates (guide section 3)."""

    code: str
    bar_type: str | None
    bar_end: float | None
    last_update: float | None
    series: list[Bar]


class QuoteUpdate(msgspec.Struct, frozen=True, gc=False):
    """A quote message with ``last_update``, ``total_items`` and ``data`` (guide section 3)."""

    last_update: float | None
    total_items: float | None
    data: list[Quote]
    unusable: int = 0
    """Values in the frame of a type no field accepts, left out (the rest of the frame is kept)."""


LiveEvent = (
    Greeting
    | ServerMessage
    | LiveError
    | Heartbeat
    | SeriesUpdate
    | QuoteUpdate
    | StatusEvent
    | Pong
    | Unrecognised
    | DecodeFailure
)
"""Everything :func:`dispatch_live` can return."""

_ENVELOPE_DECODER = msgspec.json.Decoder(_LiveEnvelope)
"""Typed decoder for every ``/live`` JSON frame."""


def _details_text(value: object) -> str | None:
    """Render the free-form ``details`` field (string or object) as text."""
    if value is None:
        return None
    return value if isinstance(value, str) else msgspec.json.encode(value).decode()


def dispatch_live(frame: str | bytes) -> LiveEvent:
    """Turn one raw ``/live`` frame into a typed event; never raises.

    A plain quote frame (nearly every frame of a busy feed) is made a :class:`QuoteUpdate`
    at once, without the walk of :func:`clean_model` or the questions of :func:`_classify`."""
    if is_pong(frame):
        return Pong()
    if isinstance(frame, str):
        try:
            payload = frame.encode("utf-8")
        except UnicodeError:
            return DecodeFailure(reason="frame is not valid UTF-8", excerpt=excerpt(frame))
    else:
        payload = frame
    try:
        env = _ENVELOPE_DECODER.decode(payload)
    except msgspec.ValidationError as exc:
        lenient = _lenient_envelope(payload)
        if lenient is None:
            return decode_failure(exc, frame)
        env, unusable = lenient
        event = _classify(clean_model(env, frame), frame)
        if isinstance(event, QuoteUpdate):
            return msgspec.structs.replace(event, unusable=unusable)
        return event
    except (msgspec.DecodeError, UnicodeError) as exc:
        return decode_failure(exc, frame)
    quotes = env.data
    if quotes is not None and env.series is None and _quotes_plain(quotes):
        return QuoteUpdate(env.last_update, env.total_items, quotes)
    return _classify(clean_model(env, frame), frame)


QUOTE_TEXT_FIELDS = tuple(
    name for name, hint in typing.get_type_hints(Quote).items()
    if hint is str or str in typing.get_args(hint)
)  # fmt: skip
"""A quote's text fields: the only strings of a quote frame the model keeps."""


def _quotes_plain(quotes: list[Quote]) -> bool:
    """Whether no text field of these quotes holds anything :func:`clean_text` would change.

    The three fields are joined in one f-string and checked at once (an absent one reads
    ``None``, which is printable): faster than a check per field or a scan of the frame. A
    test puts hostile text in each of :data:`QUOTE_TEXT_FIELDS` alone, so a text field added
    to :class:`Quote` and not here fails it."""
    for quote in quotes:  # noqa: SIM110 (all() over a generator costs more a frame)
        if not f"{quote.code}{quote.status}{quote.currency_code}".isprintable():
            return False
    return True


def _lenient_envelope(payload: bytes) -> tuple[_LiveEnvelope, int] | None:
    """Decode a frame whose typed decode failed, keeping every value of a usable type and
    leaving out (and counting) the rest, quote by quote: one odd field never costs a frame."""
    try:
        raw = msgspec.json.decode(payload)
    except (msgspec.DecodeError, UnicodeError):
        return None
    if not isinstance(raw, dict):
        return None
    unusable = 0
    kept: dict[str, object] = {}
    for key, value in raw.items():
        if key == "data" and isinstance(value, list):
            quotes = []
            for entry in value:
                quote, bad = _lenient_struct(entry, Quote)
                unusable += bad
                if quote is not None:
                    quotes.append(quote)
            kept["data"] = quotes
            continue
        if _usable(key, value, _LiveEnvelope, {}):
            kept[key] = value
        else:
            unusable += 1
    try:
        return msgspec.convert(kept, _LiveEnvelope, strict=False), unusable
    except msgspec.ValidationError:
        return None


def _lenient_struct(entry: object, kind: type[Quote]) -> tuple[Quote | None, int]:
    """``entry`` as ``kind`` with unusable values left out; (None, 1) if nothing usable."""
    if not isinstance(entry, dict):
        return None, 1
    kept = {k: v for k, v in entry.items() if _usable(k, v, kind, {"code": "X"})}
    bad = len(entry) - len(kept)
    try:
        return msgspec.convert(kept, kind, strict=False), bad
    except msgspec.ValidationError:
        return None, bad + 1


def _usable(key: str, value: object, kind: type, required: dict[str, object]) -> bool:
    """Whether ``kind`` accepts ``value`` for its field ``key`` (``required`` fills the rest)."""
    try:
        msgspec.convert({**required, key: value}, kind, strict=False)
    except msgspec.ValidationError:
        return False
    return True


def _classify(env: _LiveEnvelope, frame: str | bytes) -> LiveEvent:
    """Pick the event type from the fields present in a decoded envelope."""
    if env.series is not None and env.code is not None:
        return SeriesUpdate(
            code=env.code,
            bar_type=env.bar_type,
            bar_end=env.bar_end,
            last_update=env.last_update,
            series=env.series,
        )
    if env.data is not None:
        return QuoteUpdate(last_update=env.last_update, total_items=env.total_items, data=env.data)
    if env.server_time is not None:
        return Heartbeat(server_time_ms=env.server_time)
    if env.error is not None:
        return LiveError(
            error=env.error,
            message=env.message or "",
            symbol=env.symbol,
            details=_details_text(env.details),
            action=env.action,
            retryable=env.retryable,
            delay_seconds=env.delay_seconds,
            retry_after_seconds=env.retry_after_seconds,
            reference_id=env.reference_id,
        )
    if env.event is not None:
        return StatusEvent(event=env.event, status=env.status)
    if env.message is not None and env.server is not None:
        return Greeting(message=env.message, server=env.server)
    if env.message is not None:
        return ServerMessage(message=env.message)
    return Unrecognised(excerpt=excerpt(frame))


# ---------------------------------------------------------------------------------------------
# Outbound
# ---------------------------------------------------------------------------------------------


class Subscription(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    """One subscription object (guide section 2, Subscription Parameters).

    ``None`` means "not sent: the server default applies", so encoding omits it.
    """

    code: str
    type: SubscriptionType | None = None
    bar_type: BarType | None = None
    bar_interval: int | None = None
    currency: str | None = None
    unit: str | None = None
    extended: bool | None = None
    split: bool | None = None
    dadj: bool | None = None
    badj: bool | None = None
    settlement: bool | None = None
    max_dp: int | None = None

    @property
    def is_quote(self) -> bool:
        """True for quote subscriptions (``type`` defaults to ``series``)."""
        return self.type == "quote"


class SubscriptionMessage(msgspec.Struct, forbid_unknown_fields=True):
    """The full subscription message; each one replaces the previous set (guide section 2)."""

    api_key: str
    subscriptions: list[Subscription]


_JSON_ENCODER = msgspec.json.Encoder()
"""Shared encoder for outbound messages."""


def encode_subscription_message(
    api_key: str, subscriptions: list[Subscription], *, history_field: str = "max_dp"
) -> str:
    """Encode a subscription message as text; ``history_field="dp"`` renames ``max_dp``.

    The newest official client sends ``dp`` while the guide says ``max_dp`` (protocol-notes).
    """
    message = SubscriptionMessage(api_key=api_key, subscriptions=subscriptions)
    if history_field == "max_dp":
        return _JSON_ENCODER.encode(message).decode()
    builtins = msgspec.to_builtins(message)
    for sub in builtins["subscriptions"]:
        if "max_dp" in sub:
            sub[history_field] = sub.pop("max_dp")
    return _JSON_ENCODER.encode(builtins).decode()


_SUBSCRIPTION_MESSAGE_DECODER = msgspec.json.Decoder(SubscriptionMessage)
"""Decoder the simulator uses for inbound subscription messages."""


def decode_subscription_message(frame: str | bytes) -> SubscriptionMessage:
    """Decode a subscription message strictly; raises ``msgspec`` errors on bad input."""
    return _SUBSCRIPTION_MESSAGE_DECODER.decode(frame)


PING_TEXT = "ping"
"""The text keep-alive the client sends every 20-30 s (guide section 5, Ping-Pong)."""
