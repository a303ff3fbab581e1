"""Events shared by every endpoint's dispatcher: pong, status, unrecognised, decode failure."""

from __future__ import annotations

import msgspec

from tui.protocol.text import clean_text

EXCERPT_CHARS = 120
"""How much of a bad frame an error event keeps, for the log and the status line."""


class Pong(msgspec.Struct, frozen=True):
    """The text frame ``pong``, the server's answer to ``ping`` (guide section 5)."""


class StatusEvent(msgspec.Struct, frozen=True):
    """A frame with a string ``event`` (``subscription_status``, ``connection_status``)."""

    event: str
    status: str | None = None


class Unrecognised(msgspec.Struct, frozen=True):
    """Valid JSON of a shape we do not know; kept for the log, never fatal."""

    excerpt: str


class DecodeFailure(msgspec.Struct, frozen=True):
    """A frame that could not be decoded (bad JSON, bad UTF-8, wrong types)."""

    reason: str
    excerpt: str


def excerpt(frame: str | bytes, limit: int = EXCERPT_CHARS) -> str:
    """A short printable excerpt of a frame, safe for logs (bytes decoded with replacement)."""
    text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
    text = clean_text(text.encode("utf-8", "replace").decode("utf-8"))
    return text if len(text) <= limit else text[:limit] + "…"


def decode_failure(exc: Exception, frame: str | bytes) -> DecodeFailure:
    """A :class:`DecodeFailure` for ``exc``; its reason may quote the frame, so it is cleaned."""
    return DecodeFailure(reason=clean_text(str(exc)), excerpt=excerpt(frame))


def is_pong(frame: str | bytes) -> bool:
    """True for the keep-alive text ``pong`` (surrounding white space tolerated)."""
    if len(frame) > 16:  # every data frame: no copy made to find out
        return False
    if isinstance(frame, bytes):
        return frame.strip() == b"pong"
    return frame.strip() == "pong"
