"""Client-side subscription rules (guide sections 1, 2 and 4)."""

from __future__ import annotations

import pytest

from tui.protocol.live import Subscription
from tui.protocol.rules import (
    SubscriptionRuleError,
    check_message_size,
    subscription_units,
    validate_subscriptions,
)


def _validate(*subs: Subscription, max_dp: int = 1000, units: int = 12) -> list[Subscription]:
    return validate_subscriptions(list(subs), plan_max_dp=max_dp, plan_units=units)


@pytest.mark.parametrize("interval", [1, 5, 10, 15, 30, 45])
def test_second_intervals_allowed(interval: int) -> None:
    """Section 2: "second": 1, 5, 10, 15, 30, 45."""
    _validate(Subscription(code="NASDAQ:AAPL", bar_type="second", bar_interval=interval))


@pytest.mark.parametrize(("bar_type", "interval"), [("second", 2), ("tick", 5), ("minute", 0)])
def test_bad_intervals_name_the_field(bar_type: str, interval: int) -> None:
    """Section 2: allowed values depend on bar_type; minute and above: any positive integer."""
    sub = Subscription(code="NASDAQ:AAPL", bar_type=bar_type, bar_interval=interval)  # type: ignore[arg-type]
    with pytest.raises(SubscriptionRuleError) as info:
        _validate(sub)
    assert info.value.field == "bar_interval"


def test_max_dp_range_and_plan_clamp() -> None:
    """Section 4: max_dp 1..30,000; 'automatically clamped to your plan's maximum'."""
    (sub,) = _validate(Subscription(code="NASDAQ:AAPL", max_dp=5000), max_dp=1000)
    assert sub.max_dp == 1000
    for bad in (0, 30_001):
        with pytest.raises(SubscriptionRuleError, match="max_dp"):
            _validate(Subscription(code="NASDAQ:AAPL", max_dp=bad))


def test_dadj_forced_false_without_split() -> None:
    """Section 4: 'When set to false, dadj is forced to false as well'."""
    (sub,) = _validate(Subscription(code="NASDAQ:AAPL", split=False, dadj=True))
    assert sub.dadj is False


def test_futures_only_and_non_futures_only_flags() -> None:
    """Guide section 4: extended/split/dadj are "ignored for futures symbols", badj/settlement
    "ignored for non-futures symbols": left out with one warning each, never refused (issue
    14.6; they used to be errors)."""
    warnings: list[str] = []
    (stock,) = validate_subscriptions(
        [Subscription(code="NASDAQ:AAPL", badj=True, settlement=False)],
        plan_max_dp=1000,
        plan_units=2,
        warnings=warnings,
    )
    assert stock.badj is None and stock.settlement is None
    (future,) = validate_subscriptions(
        [Subscription(code="CME_MINI:ES1!", extended=False, split=True, dadj=True)],
        plan_max_dp=1000,
        plan_units=2,
        warnings=warnings,
    )
    assert future.extended is None and future.split is None and future.dadj is None
    assert len(warnings) == 5 and all("left out" in w for w in warnings)
    _validate(Subscription(code="CME_MINI:ES1!", badj=True, settlement=True))


def test_badj_is_always_sent_for_continuous_futures() -> None:
    """Guide section 2 says badj defaults to false, section 4 (Back-Adjustment) says true, and
    InsightSentry's own client documents true: marketpane sends it explicitly, true unless the
    user says false, for continuous contracts' series."""
    (default,) = _validate(Subscription(code="CME_MINI:ES1!"))
    assert default.badj is True
    (chosen,) = _validate(Subscription(code="CME_MINI:ES1!", badj=False))
    assert chosen.badj is False
    (quote,) = _validate(Subscription(code="CME_MINI:ES1!", type="quote"))
    assert quote.badj is None  # series only
    (stock,) = _validate(Subscription(code="NASDAQ:AAPL"))
    assert stock.badj is None


def test_empty_list_and_symbol_shape() -> None:
    """Section 2, Empty Subscriptions; code must be EXCHANGE:SYMBOL."""
    with pytest.raises(SubscriptionRuleError, match="cannot be empty"):
        _validate()
    with pytest.raises(SubscriptionRuleError, match="EXCHANGE:SYMBOL"):
        _validate(Subscription(code="AAPL"))


def test_plan_units() -> None:
    """One series, or ten quotes, per symbol subscription (section 8 comment)."""
    quotes = [Subscription(code=f"NASDAQ:S{i}", type="quote") for i in range(11)]
    assert subscription_units(quotes) == 2
    assert subscription_units([*quotes, Subscription(code="A:B")]) == 3
    with pytest.raises(SubscriptionRuleError, match="plan allows 2"):
        _validate(*quotes, Subscription(code="A:B"), units=2)


def test_message_size_in_characters() -> None:
    """Section 1: >500,000 characters rejected; counted in characters, not bytes."""
    check_message_size("é" * 500_000)  # 1,000,000 bytes, but 500,000 characters
    with pytest.raises(SubscriptionRuleError, match="500,000"):
        check_message_size("a" * 500_001)
