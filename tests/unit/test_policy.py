"""The reconnect policy, branch by branch, with no sockets (guide sections 5 and 6)."""

from __future__ import annotations

import random

import pytest

from tui.engine.backoff import LONG_BACKOFF_SECONDS, MAX_SECONDS, Backoff
from tui.engine.policy import (
    PROTOCOL_STRIKES,
    Action,
    FeedCounters,
    Outcome,
    SessionEnd,
    classify_close,
    classify_dial_error,
    classify_handshake_status,
    decide,
)


def _backoff() -> Backoff:
    return Backoff(random.Random(1))


@pytest.mark.parametrize(
    ("code", "reason", "outcome", "words"),
    [
        (None, "", Outcome.RECONNECT, "connection lost"),
        (1000, "", Outcome.RECONNECT, "maintenance or restart"),
        (1001, "going away", Outcome.RECONNECT, "server closed (1001: going away)"),
        (1008, "bad key", Outcome.AUTH, "key rejected or subscription expired (1008)"),
        (1009, "", Outcome.PROTOCOL, "message too big (1009)"),
        (1011, "oops", Outcome.RECONNECT, "server closed (1011: oops)"),
        (1013, "", Outcome.RECONNECT, "server closed (1013)"),
        (4000, "\x1b]0;x\x07", Outcome.RECONNECT, "␛]0;x␇"),
    ],
)
def test_classify_close(code: int | None, reason: str, outcome: Outcome, words: str) -> None:
    """Guide section 6 close codes; 1008 is StockNews' (and our) auth failure; the reason is
    server text and is cleaned."""
    end = classify_close(code, reason)
    assert end.outcome is outcome and words in end.reason


@pytest.mark.parametrize(
    ("status", "retry_after", "outcome", "delay"),
    [
        (401, None, Outcome.AUTH, None),
        (403, "5", Outcome.AUTH, None),
        (429, "7", Outcome.RECONNECT, 7.0),
        (503, "2.5", Outcome.RECONNECT, 2.5),
        (503, "Wed, 21 Oct 2026 07:28:00 GMT", Outcome.RECONNECT, None),
        (500, None, Outcome.RECONNECT, None),
    ],
)
def test_classify_handshake_status(
    status: int, retry_after: str | None, outcome: Outcome, delay: float | None
) -> None:
    end = classify_handshake_status(status, retry_after)
    assert end.outcome is outcome and end.server_delay == delay
    assert f"HTTP {status}" in end.reason


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (ConnectionRefusedError(111, "refused"), "connection refused"),
        (TimeoutError(), "timed out"),
        (OSError(-2, "Name or service not known"), "OSError"),
    ],
)
def test_classify_dial_error(error: BaseException, words: str) -> None:
    end = classify_dial_error(error)
    assert end.outcome is Outcome.RECONNECT and words in end.reason


def test_manual_reconnect_is_immediate_and_resets_the_backoff() -> None:
    backoff = _backoff()
    backoff.attempt = 5
    decision = decide(
        SessionEnd(Outcome.MANUAL, "r"), FeedCounters(), backoff, feed="live", can_refresh_key=False
    )
    assert decision == decision.__class__(Action.RETRY, 0.0)
    assert backoff.attempt == 0


def test_no_key_stops_with_the_reason() -> None:
    decision = decide(
        SessionEnd(Outcome.NO_KEY, "no InsightSentry key: set INSIGHTSENTRY_API_KEY"),
        FeedCounters(),
        _backoff(),
        feed="live",
        can_refresh_key=True,
    )
    assert decision.action is Action.STOP and "INSIGHTSENTRY_API_KEY" in decision.message


def test_key_wait_retries_no_sooner_than_named() -> None:
    decision = decide(
        SessionEnd(Outcome.KEY_WAIT, "daily limit", server_delay=3600.0),
        FeedCounters(),
        _backoff(),
        feed="live",
        can_refresh_key=True,
    )
    assert decision.action is Action.RETRY and decision.delay >= 3600.0


def test_auth_failure_refreshes_once_then_stops() -> None:
    """Guide section 7: at most one key refresh per run of auth failures."""
    counters, backoff = FeedCounters(), _backoff()
    end = SessionEnd(Outcome.AUTH, "key rejected (1008)")
    first = decide(end, counters, backoff, feed="live", can_refresh_key=True)
    second = decide(end, counters, backoff, feed="live", can_refresh_key=True)
    assert first.action is Action.REFRESH_KEY and first.delay > 0
    assert second.action is Action.STOP and "press r" in second.message


def test_auth_failure_without_rotation_stops_at_once() -> None:
    decision = decide(
        SessionEnd(Outcome.AUTH, "key rejected"),
        FeedCounters(),
        _backoff(),
        feed="live",
        can_refresh_key=False,
    )
    assert decision.action is Action.STOP


def test_eviction_backs_off_long_and_says_why() -> None:
    """Another client holds the account's connection: never fight it."""
    decision = decide(
        SessionEnd(Outcome.EVICTED, "connection_evicted: newer connection"),
        FeedCounters(),
        _backoff(),
        feed="live",
        can_refresh_key=False,
    )
    assert decision.action is Action.RETRY and decision.delay >= LONG_BACKOFF_SECONDS
    assert decision.notice is not None and "Another client" in decision.notice


def test_protocol_violations_stop_after_three_in_a_row() -> None:
    counters, backoff = FeedCounters(), _backoff()
    end = SessionEnd(Outcome.PROTOCOL, "100 bad frames in a row")
    actions = [
        decide(end, counters, backoff, feed="live", can_refresh_key=False).action
        for _ in range(PROTOCOL_STRIKES)
    ]
    assert actions == [Action.RETRY] * (PROTOCOL_STRIKES - 1) + [Action.STOP]


@pytest.mark.parametrize("outcome", [Outcome.RECONNECT, Outcome.TIMEOUT])
def test_plain_failures_follow_the_backoff_and_a_named_delay_wins(outcome: Outcome) -> None:
    """Guide section 5: exponential backoff with jitter, capped at 30 s; a delay the server
    names wins when longer (protocol-notes)."""
    backoff = _backoff()
    delays = [
        decide(
            SessionEnd(outcome, "x"), FeedCounters(), backoff, feed="live", can_refresh_key=False
        ).delay
        for _ in range(12)
    ]
    assert delays[0] <= 0.5 and all(d <= MAX_SECONDS for d in delays)
    assert max(delays[-3:]) >= MAX_SECONDS / 2
    named = decide(
        SessionEnd(outcome, "x", server_delay=99.0),
        FeedCounters(),
        _backoff(),
        feed="live",
        can_refresh_key=False,
    )
    assert named.delay == 99.0
