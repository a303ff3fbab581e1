"""The reconnect policy as pure functions: how a connection ended, and what to do next.

No sockets, no tasks, no clock of its own: the supervisor feeds in what happened (a close
frame's code and reason, a dial error, the feed's counters) and carries out the
:class:`Decision`. Guide section 5 (Reconnection Best Practices), section 6 (Error Codes) and
the StockNews close codes are the sources; ``tests/unit/test_policy.py`` walks every branch.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tui.engine.backoff import LONG_BACKOFF_SECONDS, Backoff
from tui.protocol.text import clean_text

PROTOCOL_STRIKES = 3
"""Protocol-violation connections in a row after which the feed stops."""
AUTH_CLOSE_CODE = 1008
"""Policy violation: a bad key or an expired subscription (guide section 6; StockNews)."""
TOO_BIG_CLOSE_CODE = 1009
"""Message too big: our inbound limit, or the server's."""


class Outcome(Enum):
    """How a connection ended, and so what to do next."""

    RECONNECT = "reconnect"
    AUTH = "auth"
    NO_KEY = "no_key"
    """No key, and only the user can give one (none configured, or RapidAPI refused it)."""
    KEY_WAIT = "key_wait"
    """No key yet, for a reason that passes (a 429 or 5xx from key rotation, the daily cap)."""
    EVICTED = "evicted"
    PROTOCOL = "protocol"
    TIMEOUT = "timeout"
    QUIT = "quit"
    MANUAL = "manual"
    IDLE = "idle"
    """Closed by us with 1000 because there is nothing to subscribe (guide section 2: "to
    stop all data, disconnect")."""


@dataclass
class SessionEnd:
    """The end of one connection."""

    outcome: Outcome
    reason: str
    server_delay: float | None = None


def classify_close(code: int | None, reason: str) -> SessionEnd:
    """What the server's close frame means (``code`` None: the link died without one)."""
    if code is None:
        return SessionEnd(Outcome.RECONNECT, "connection lost")
    reason = clean_text(reason)  # server text: data
    text = f"server closed ({code}{': ' + reason if reason else ''})"
    if code == AUTH_CLOSE_CODE:
        return SessionEnd(Outcome.AUTH, f"key rejected or subscription expired ({code})")
    if code == TOO_BIG_CLOSE_CODE:
        return SessionEnd(Outcome.PROTOCOL, f"message too big ({code})")
    if code in (1000, 1001):
        return SessionEnd(Outcome.RECONNECT, f"{text}, maintenance or restart")
    return SessionEnd(Outcome.RECONNECT, text)


def classify_handshake_status(status: int, retry_after: str | None) -> SessionEnd:
    """What an HTTP status that refused the WebSocket handshake means."""
    if status in (401, 403):
        return SessionEnd(Outcome.AUTH, f"server refused the key (HTTP {status})")
    delay = float(retry_after) if retry_after and _is_number(retry_after) else None
    return SessionEnd(Outcome.RECONNECT, f"handshake refused (HTTP {status})", delay)


def classify_dial_error(error: BaseException) -> SessionEnd:
    """A dial that failed below HTTP: refused, timed out, bad URL, TLS, DNS."""
    if isinstance(error, ConnectionRefusedError):
        what = "connection refused"
    elif isinstance(error, TimeoutError):
        what = "timed out"
    else:
        what = clean_text(f"{type(error).__name__}: {error}")
    return SessionEnd(Outcome.RECONNECT, f"cannot connect: {what}")


def _is_number(text: str) -> bool:
    return text.replace(".", "", 1).isdigit()


@dataclass
class FeedCounters:
    """What the policy remembers about a feed between connections."""

    auth_refreshed: bool = False
    """A key refresh was already tried for this run of auth failures."""
    protocol_strikes: int = 0


class Action(Enum):
    """What the supervisor does with a decision."""

    RETRY = "retry"
    """Dial again after ``delay`` seconds."""
    REFRESH_KEY = "refresh_key"
    """Fetch a new key, then dial again after ``delay`` (or stop if no key comes)."""
    STOP = "stop"
    """Stay stopped until the user reconnects; ``message`` says why."""


@dataclass
class Decision:
    """The next step after a connection ended."""

    action: Action
    delay: float = 0.0
    message: str = ""
    """For STOP: why, in words the user can act on."""
    notice: str | None = None
    """A warning to show now (eviction)."""


def decide(
    end: SessionEnd,
    counters: FeedCounters,
    backoff: Backoff,
    *,
    feed: str,
    can_refresh_key: bool,
) -> Decision:
    """The next step after ``end``; updates ``counters`` and ``backoff`` as it decides."""
    outcome = end.outcome
    if outcome is Outcome.MANUAL:
        backoff.attempt = 0
        return Decision(Action.RETRY, 0.0)
    if outcome is Outcome.NO_KEY:
        return Decision(Action.STOP, message=end.reason)
    if outcome is Outcome.KEY_WAIT:
        return Decision(Action.RETRY, backoff.next_delay(end.server_delay))
    if outcome is Outcome.AUTH:
        if can_refresh_key and not counters.auth_refreshed:
            counters.auth_refreshed = True
            return Decision(Action.REFRESH_KEY, backoff.next_delay())
        return Decision(Action.STOP, message=f"{end.reason}; check the key, then press r to retry")
    if outcome is Outcome.EVICTED:
        notice = (
            f"{feed}: {end.reason}. Another client is using this account's connections; "
            "backing off."
        )
        delay = backoff.next_delay(end.server_delay, floor=LONG_BACKOFF_SECONDS)
        return Decision(Action.RETRY, delay, notice=notice)
    if outcome is Outcome.PROTOCOL:
        counters.protocol_strikes += 1
        if counters.protocol_strikes >= PROTOCOL_STRIKES:
            return Decision(
                Action.STOP, message=f"{end.reason} ({PROTOCOL_STRIKES} times in a row)"
            )
    return Decision(Action.RETRY, backoff.next_delay(end.server_delay))
