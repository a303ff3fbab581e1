"""The alert grammar and the book's hysteresis, without sockets."""

from __future__ import annotations

import random

import pytest

from tui.alerts.book import AlertBook
from tui.alerts.grammar import AlertSyntaxError, describe_condition, parse_condition
from tui.alerts.model import AlertRule, parse_expiry

GOOD = [
    ("NASDAQ:AAPL > 250", "above", 250.0),
    ("NASDAQ:AAPL>=250.5", "above", 250.5),
    ("NASDAQ:AAPL below 99", "below", 99.0),
    ("NASDAQ:AAPL crosses 250 band 0.5", "cross", 250.0),
    ("NASDAQ:AAPL crosses 250 band 0.2%", "cross", 250.0),
    ("CME_MINI:ES1! < 5000", "below", 5000.0),
    ("@tech change <= -3%", "change_below", -3.0),
    ("NASDAQ:AAPL change >= 2.5", "change_above", 2.5),
    ("BINANCE:BTCUSDT move 2% in 5m", "move", 2.0),
    ("BINANCE:BTCUSDT move -1.5% in 30s", "move", 1.5),
    ("NASDAQ:AAPL volume > 2.5M", "volume", 2_500_000.0),
    ("NASDAQ:AAPL news sentiment <= -0.5 confidence 0.7", "news", -0.5),
    ("NASDAQ:AAPL news sentiment >= 0.6", "news", 0.6),
    ("NASDAQ:AAPL stale 30s", "stale", 30.0),
    ("NASDAQ:AAPL stale for 2m", "stale", 120.0),
    ("feed live down 30s", "feed_down", 30.0),
    ("feed any down 1h", "feed_down", 3600.0),
]


@pytest.mark.parametrize(("text", "kind", "level"), GOOD)
def test_parses_and_round_trips(text: str, kind: str, level: float) -> None:
    condition = parse_condition(text)
    assert (condition.kind, condition.level) == (kind, level)
    assert parse_condition(describe_condition(condition)) == condition


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("NASDAQ:AAPL >> 250", "unexpected '>'"),
        ("NASDAQ:AAPL crosses two", "unexpected 'two'"),
        ("aapl > 250", "unexpected 'aapl'"),
        ("NASDAQ:AAPL > 250 please", "unexpected 'please'"),
        ("NASDAQ:AAPL move 2% in 5x", "unexpected '5x'"),
        ("NASDAQ:AAPL jumps 5", "unexpected 'jumps'"),
        ("NASDAQ:AAPL news sentiment <= -3", "outside -1..1"),
        ("feed telex down 5s", "unexpected 'telex'"),
        ("NASDAQ:AAPL >", "ends where a price was expected"),
        ("NASDAQ:AAPL > 0", "must be above zero"),
        ("NASDAQ:AAPL move 0% in 5m", "fire on every quote"),
        ("", "a symbol"),
    ],
)
def test_errors_name_the_bad_token(text: str, named: str) -> None:
    with pytest.raises(AlertSyntaxError, match=None) as caught:
        parse_condition(text)
    assert named in str(caught.value)


def test_rule_checks_every_field() -> None:
    with pytest.raises(ValueError, match="when: unexpected"):
        AlertRule(id="1", when="NASDAQ:AAPL >> 1")
    with pytest.raises(ValueError, match="id:"):
        AlertRule(id="bad id", when="NASDAQ:AAPL > 1")
    with pytest.raises(ValueError, match="expires:"):
        AlertRule(id="1", when="NASDAQ:AAPL > 1", expires="soon")
    with pytest.raises(ValueError, match="channels: 'pager'"):
        AlertRule(id="1", when="NASDAQ:AAPL > 1", channels=["pager"])
    assert parse_expiry("2026-12-31") > parse_expiry("2026-12-31T00:00")


@pytest.mark.parametrize("seed", range(20))
def test_noise_inside_the_band_fires_a_crossing_once(seed: int) -> None:
    """Any walk that stays within the band around the level, after one crossing, fires
    exactly once; leaving the band on the far side and crossing again fires once more."""
    rng = random.Random(seed)
    book = AlertBook([AlertRule(id="1", when="X:Y crosses 100 band 1", mode="every",
                                cooldown_seconds=0)])  # fmt: skip
    now = 0.0

    def feed(price: float) -> int:
        nonlocal now
        now += 1
        return len(book.on_quote("X:Y", {"last_price": price}, now))

    assert feed(95.0) == 0
    fired = sum(feed(100 + rng.uniform(-0.99, 0.99)) for _ in range(200))
    fired += feed(100.5)  # make sure it crossed at least once
    assert fired == 1
    assert feed(98.9) == 0  # re-armed, quietly
    assert feed(100.2) == 1
