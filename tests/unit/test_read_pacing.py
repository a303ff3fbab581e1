"""When a quiet feed's reads may be paced, and when they must not be."""

from __future__ import annotations

from tui.engine.pacing import HEARTBEAT_WINDOW_SECONDS, READ_PACE_SECONDS, ReadPace


def test_only_a_quiet_feed_past_its_first_seconds_is_paced() -> None:
    pace = ReadPace()
    pace.opened(100.0)
    assert pace.seconds(105.0) == 0.0  # the engine has not called the market quiet
    pace.quiet = True
    assert pace.seconds(101.0) == 0.0  # a new connection's first quotes come as they come
    assert pace.seconds(105.0) == READ_PACE_SECONDS
    pace.subscribed(105.0)
    assert pace.seconds(106.0) == 0.0  # nor a new subscription's
    assert pace.seconds(108.0) == READ_PACE_SECONDS


def test_reads_are_prompt_around_a_due_heartbeat() -> None:
    pace = ReadPace(quiet=True)
    pace.opened(0.0)
    pace.heartbeat(10.0)
    pace.heartbeat(20.0)  # every 10 s: the next is due at 30
    assert pace.heartbeat_every == 10.0
    assert pace.seconds(25.0) == READ_PACE_SECONDS
    due = 30.0 - HEARTBEAT_WINDOW_SECONDS
    assert pace.seconds(due - READ_PACE_SECONDS - 0.01) == READ_PACE_SECONDS
    assert pace.seconds(due - READ_PACE_SECONDS + 0.01) == 0.0  # a pause would run into it
    assert pace.seconds(31.0) == 0.0  # late: prompt until it comes
    pace.heartbeat(31.5)
    assert pace.seconds(32.0) == READ_PACE_SECONDS


def test_a_new_connection_forgets_the_last_ones_rhythm() -> None:
    pace = ReadPace(quiet=True)
    pace.heartbeat(10.0)
    pace.heartbeat(20.0)
    pace.opened(25.0)
    assert pace.heartbeat_every is None and pace.last_heartbeat is None
