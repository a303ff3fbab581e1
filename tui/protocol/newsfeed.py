"""InsightSentry ``/newsfeed`` wire models and dispatcher.

Guide section 1 (News Feed Authentication, News Feed Instant Access) and protocol-notes
(``/newsfeed``): auth is ``{"api_key": ...}`` optionally with ``source``, ``related_symbols``
and ``content`` filters; the server replays up to 10 recent items on every connect.
"""

from __future__ import annotations

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

PUBLISHED_AT_MS_THRESHOLD = 1e11
"""``published_at`` values above this are milliseconds, else seconds (protocol-notes guess)."""


class NewsfeedItem(msgspec.Struct, omit_defaults=True):
    """One news item; unknown keys are ignored, missing optional keys default."""

    title: str
    published_at: float
    content: str = ""
    link: str | None = None
    related_symbols: list[str] = []
    source: str | None = None

    @property
    def published_seconds(self) -> float:
        """``published_at`` in epoch seconds whatever unit the server used."""
        if self.published_at > PUBLISHED_AT_MS_THRESHOLD:
            return self.published_at / 1000.0
        return self.published_at


class NewsfeedAuth(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    """The client's auth message with the optional server-side filters."""

    api_key: str
    source: str | None = None
    related_symbols: str | None = None
    content: str | None = None


class NewsfeedError(msgspec.Struct, frozen=True):
    """A frame with a string ``error`` (or a bare ``message``)."""

    error: str | None
    message: str


class NewsfeedItems(msgspec.Struct, frozen=True):
    """One or more news items from one frame."""

    items: list[NewsfeedItem]


class NewsfeedHeartbeat(msgspec.Struct, frozen=True):
    """``{"server_time": ms}`` on the news socket (guide section 5 applies to both endpoints)."""

    server_time_ms: float


NewsfeedEvent = (
    NewsfeedItems
    | NewsfeedError
    | NewsfeedHeartbeat
    | StatusEvent
    | Pong
    | Unrecognised
    | DecodeFailure
)
"""Everything :func:`dispatch_newsfeed` can return."""


class _NewsEnvelope(msgspec.Struct):
    """Superset of every ``/newsfeed`` JSON object."""

    title: str | None = None
    published_at: float | None = None
    content: str | None = None
    link: str | None = None
    related_symbols: list[str] | None = None
    source: str | None = None
    error: str | None = None
    message: str | None = None
    event: str | None = None
    status: str | None = None
    server_time: float | None = None


_ENVELOPE_DECODER = msgspec.json.Decoder(_NewsEnvelope | list[NewsfeedItem])
"""Typed decoder: one object per frame, or (tolerated) a list of items."""


def dispatch_newsfeed(frame: str | bytes) -> NewsfeedEvent:
    """Turn one raw ``/newsfeed`` frame into a typed event; never raises."""
    if is_pong(frame):
        return Pong()
    try:
        decoded = _ENVELOPE_DECODER.decode(
            frame.encode("utf-8", "surrogatepass") if isinstance(frame, str) else frame
        )
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeError) as exc:
        return decode_failure(exc, frame)
    decoded = clean_model(decoded, frame)
    if isinstance(decoded, list):
        return NewsfeedItems(items=decoded)
    env = decoded
    if env.title is not None and env.published_at is not None:
        item = NewsfeedItem(
            title=env.title,
            published_at=env.published_at,
            content=env.content or "",
            link=env.link,
            related_symbols=env.related_symbols or [],
            source=env.source,
        )
        return NewsfeedItems(items=[item])
    if env.server_time is not None:
        return NewsfeedHeartbeat(server_time_ms=env.server_time)
    if env.error is not None:
        return NewsfeedError(error=env.error, message=env.message or env.error)
    if env.event is not None:
        return StatusEvent(event=env.event, status=env.status)
    if env.message is not None:
        return NewsfeedError(error=None, message=env.message)
    return Unrecognised(excerpt=excerpt(frame))


def encode_newsfeed_auth(auth: NewsfeedAuth) -> str:
    """Encode the auth/filter message as text."""
    return msgspec.json.encode(auth).decode()


_AUTH_DECODER = msgspec.json.Decoder(NewsfeedAuth)
"""Decoder the simulator uses for the client's auth message."""


def decode_newsfeed_auth(frame: str | bytes) -> NewsfeedAuth:
    """Decode the client's auth message strictly; raises ``msgspec`` errors on bad input."""
    return _AUTH_DECODER.decode(frame)
