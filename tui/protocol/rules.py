"""Client-side subscription rules, straight from the guide (sections 1, 2 and 4).

Each violation is a :class:`SubscriptionRuleError` naming the field and what to do, in words
a user can act on. The engine validates before sending; the simulator applies the same rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import msgspec

from tui.protocol.live import Subscription

SECOND_INTERVALS = (1, 5, 10, 15, 30, 45)
"""Allowed ``bar_interval`` for ``bar_type="second"`` (section 2)."""
TICK_INTERVALS = (1, 10, 100, 1000)
"""Allowed ``bar_interval`` for ``bar_type="tick"`` (section 2)."""
MAX_DP_LIMIT = 30_000
"""Largest ``max_dp`` any plan accepts (section 4, Initial Data Points)."""
MAX_MESSAGE_CHARS = 500_000
"""Inbound messages larger than 500,000 characters are rejected (section 1)."""
QUOTES_PER_UNIT = 10
"""One symbol subscription = one series stream or quotes for up to ten symbols."""

SYMBOL_CODE = re.compile(r"^[A-Z0-9_.\-]+:[A-Za-z0-9_.!&\-/]+$")
"""``EXCHANGE:SYMBOL``: exchange upper case, symbol without spaces (``CME_MINI:ES1!``)."""


@dataclass(frozen=True)
class SubscriptionRuleError(ValueError):
    """A subscription that breaks a documented rule; ``field`` names the culprit."""

    field: str
    problem: str
    code: str | None = None

    def __str__(self) -> str:
        where = f"{self.code}: " if self.code else ""
        return f"{where}{self.field}: {self.problem}"


def is_futures_code(code: str) -> bool:
    """True for futures codes: continuous contracts end in ``1!``/``2!`` or exchanges ``CME*``."""
    exchange, _, symbol = code.partition(":")
    return symbol.endswith("!") or exchange.upper() in {
        "CME",
        "CME_MINI",
        "CBOT",
        "CBOT_MINI",
        "NYMEX",
        "COMEX",
        "ICEUS",
        "ICEEUR",
        "EUREX",
    }


def validate_symbol_code(code: str) -> None:
    """Raise unless ``code`` has the ``EXCHANGE:SYMBOL`` shape."""
    if not SYMBOL_CODE.match(code):
        raise SubscriptionRuleError(
            "code",
            f"{code!r} is not a symbol code of the form EXCHANGE:SYMBOL (e.g. NASDAQ:AAPL)",
        )


def is_continuous_future(code: str) -> bool:
    """A continuous futures contract (``ES1!``, ``NQ2!``): the ones back-adjustment applies to."""
    return bool(re.search(r"\d!$", code.partition(":")[2]))


def normalise_subscription(
    sub: Subscription, *, plan_max_dp: int, warnings: list[str] | None = None
) -> Subscription:
    """Validate one subscription and return it with documented coercions applied.

    Coercions: ``max_dp`` clamped to the plan (section 4: "automatically clamped"), ``dadj``
    forced false when ``split`` is false (section 4, Split Adjustment). Flags of the other
    asset class are "ignored" by the server (section 4): they are left out, with a warning in
    ``warnings``. ``badj`` is sent explicitly for continuous futures series, true unless the
    user says false: the guide gives its default as both false and true (section 2 and
    Back-Adjustment), so it is never left to the server.
    """
    validate_symbol_code(sub.code)
    code = sub.code
    is_quote = sub.type == "quote"
    if is_quote:
        series_only = {
            "bar_type": sub.bar_type,
            "bar_interval": sub.bar_interval,
            "max_dp": sub.max_dp,
        }
        for name, value in series_only.items():
            if value is not None:
                raise SubscriptionRuleError(name, "applies to series subscriptions only", code)
    if sub.bar_interval is not None:
        _check_interval(sub.bar_type or "minute", sub.bar_interval, code)
    changes: dict[str, object] = {}
    futures = is_futures_code(code)
    ignored = ("extended", "split", "dadj") if futures else ("badj", "settlement")
    for name in ignored:
        if getattr(sub, name) is not None:
            changes[name] = None
            if warnings is not None:
                kind = "non-futures" if futures else "futures"
                warnings.append(
                    f"{code}: {name} applies to {kind} symbols only; left out (the server "
                    "ignores it)"
                )
    if futures and not is_quote and sub.badj is None and is_continuous_future(code):
        changes["badj"] = True
    for name in ("currency", "unit"):
        value = getattr(sub, name)
        if value is not None and not re.fullmatch(r"[A-Z0-9]{2,10}", value):
            raise SubscriptionRuleError(name, f"{value!r} is not a currency/unit code", code)
    if sub.max_dp is not None:
        if not 1 <= sub.max_dp <= MAX_DP_LIMIT:
            raise SubscriptionRuleError("max_dp", f"must be 1..{MAX_DP_LIMIT:,}", code)
        if sub.max_dp > plan_max_dp:
            changes["max_dp"] = plan_max_dp
    if sub.split is False and sub.dadj and "dadj" not in changes:
        changes["dadj"] = False
    return msgspec.structs.replace(sub, **changes) if changes else sub


def _check_interval(bar_type: str, interval: int, code: str) -> None:
    """Raise unless ``interval`` is allowed for ``bar_type`` (section 2)."""
    if bar_type == "second" and interval not in SECOND_INTERVALS:
        allowed = ", ".join(map(str, SECOND_INTERVALS))
        raise SubscriptionRuleError("bar_interval", f"second bars allow {allowed}", code)
    if bar_type == "tick" and interval not in TICK_INTERVALS:
        allowed = ", ".join(map(str, TICK_INTERVALS))
        raise SubscriptionRuleError("bar_interval", f"tick bars allow {allowed}", code)
    if interval < 1:
        raise SubscriptionRuleError("bar_interval", "must be a positive whole number", code)


def subscription_units(subs: list[Subscription]) -> int:
    """Plan units used: one per series stream, one per ten quote symbols (``both`` counts 2)."""
    series = sum(1 for s in subs if s.type in (None, "series", "both"))
    quotes = sum(1 for s in subs if s.type in ("quote", "both"))
    return series + -(-quotes // QUOTES_PER_UNIT)


def validate_subscriptions(
    subs: list[Subscription],
    *,
    plan_max_dp: int,
    plan_units: int,
    warnings: list[str] | None = None,
) -> list[Subscription]:
    """Validate a whole subscription list against the guide and the configured plan."""
    if not subs:
        raise SubscriptionRuleError(
            "subscriptions",
            "the list cannot be empty; to stop all data, disconnect instead",
        )
    out = [normalise_subscription(s, plan_max_dp=plan_max_dp, warnings=warnings) for s in subs]
    units = subscription_units(out)
    if units > plan_units:
        raise SubscriptionRuleError(
            "subscriptions",
            f"needs {units} symbol subscriptions but the plan allows {plan_units} "
            "(one series, or ten quotes, per subscription)",
        )
    return out


def fit_to_plan(
    subs: list[Subscription], plan_units: int, *, in_order: bool = False
) -> tuple[list[Subscription], list[Subscription]]:
    """Split ``subs`` into the best subset that fits ``plan_units`` and the rest.

    Series come first (in the order given: the charted one, then any others), then quotes in
    the order given (the watchlist's), ten to a unit: the whole set is never refused for one
    symbol too many (the plan trap). ``in_order``: keep in the order given instead
    (a hub's union is already in its fair order). Returns ``(kept, left_out)``, each in the
    order given.
    """
    series_first = list(subs) if in_order else sorted(subs, key=lambda s: s.type == "quote")
    kept_ids: set[int] = set()
    series = quotes = 0
    for sub in series_first:
        add_series = 1 if sub.type in (None, "series", "both") else 0
        add_quotes = 1 if sub.type in ("quote", "both") else 0
        units = series + add_series + -(-(quotes + add_quotes) // QUOTES_PER_UNIT)
        if units <= plan_units:
            kept_ids.add(id(sub))
            series += add_series
            quotes += add_quotes
    kept = [s for s in subs if id(s) in kept_ids]
    left_out = [s for s in subs if id(s) not in kept_ids]
    return kept, left_out


_ALLOWED = re.compile(r"(?:allow(?:s|ed)?\W{0,4})(\d+)", re.I)
"""Finds the plan's limit in a "subscription limit exceeded" error (message or details)."""


def plan_limit_from_error(message: str, details: str | None) -> int | None:
    """The number of symbol subscriptions a limit error says the plan allows, if it says."""
    text = f"{message} {details or ''}"
    if "limit" not in text.lower() and "allow" not in text.lower():
        return None
    found = _ALLOWED.search(details or "") or _ALLOWED.search(message)
    return int(found.group(1)) if found else None


def check_message_size(text: str) -> None:
    """Raise if an outbound message exceeds 500,000 characters (counted in characters)."""
    if len(text) > MAX_MESSAGE_CHARS:
        raise SubscriptionRuleError(
            "subscriptions",
            f"message is {len(text):,} characters; the server rejects more than "
            f"{MAX_MESSAGE_CHARS:,}",
        )
