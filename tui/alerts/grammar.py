"""The alert expression grammar: ``NASDAQ:AAPL crosses 250``, ``@tech change <= -3%``.

One line says what to watch and when to fire::

    alert     := target condition
    target    := SYMBOL                      NASDAQ:AAPL, BINANCE:BTCUSDT, CME_MINI:ES1!
               | "@" WATCHLIST               any symbol of that watchlist
               | "feed" NAME                 live, newsfeed, stocknews or any (feed rules only)
    condition := (">" | ">=" | "above") PRICE [band]
               | ("<" | "<=" | "below") PRICE [band]
               | "crosses" PRICE [band]
               | "change" (">=" | ">" | "<=" | "<") PERCENT [band]
               | "move" PERCENT "in" DURATION        +2% up only, -2% down only, 2% either way
               | "volume" (">" | ">=") NUMBER       1.5M, 200k, 2B
               | "news" "sentiment" (">=" | "<=") SCORE ["confidence" SCORE]
               | "stale" DURATION                   no quote for that long
               | "down" DURATION                    (after "feed NAME")
    band      := "band" NUMBER ["%"]                 re-arm only after moving back this far
    DURATION  := NUMBER ("s" | "m" | "h")            30s, 5m, 1h

Every error names the token it stopped at and what it expected there. Nothing here imports
the engine or Textual.
"""

from __future__ import annotations

import math
import re
from typing import Literal

import msgspec

from tui.protocol.rules import SYMBOL_CODE

Kind = Literal["above", "below", "cross", "change_above", "change_below", "move", "volume"]
AnyKind = Kind | Literal["news", "stale", "feed_down"]

FEEDS = ("live", "newsfeed", "stocknews", "any")
"""Feed names a ``feed NAME down`` rule accepts (``any``: whichever goes down)."""
DEFAULT_BAND_PERCENT = 0.2
"""A price rule's hysteresis when none is given: 0.2 % of its level."""
DEFAULT_CHANGE_BAND = 0.2
"""A change-on-the-day rule's hysteresis when none is given, in percentage points."""

_TOKEN = re.compile(r'\s*(>=|<=|>|<|"[^"]*"|[^\s<>=]+|\S)')
_NUMBER = re.compile(r"^([+-]?)(\d+(?:\.\d*)?|\.\d+)(%|[kKmMbB])?$")
_DURATION = re.compile(r"^(\d+(?:\.\d*)?)(s|sec|m|min|h)$")
_SCALE = {"k": 1e3, "m": 1e6, "b": 1e9}
_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}


class AlertSyntaxError(ValueError):
    """An expression that does not parse; the message names the bad token."""


class Condition(msgspec.Struct, frozen=True):
    """A parsed alert expression."""

    target: str
    """A symbol code, a watchlist name (``watchlist``) or a feed name (``feed_down``)."""
    kind: AnyKind
    scope: Literal["symbol", "watchlist", "feed"] = "symbol"
    level: float = 0.0
    """Price, percentage, volume, sentiment score or seconds, by kind."""
    band: float | None = None
    """Hysteresis in the level's unit (None: the default)."""
    band_percent: bool = False
    """``band`` is a percentage of the level."""
    minutes: float = 0.0
    """The window of a ``move`` rule."""
    direction: int = 0
    """``move``: +1 up only, -1 down only, 0 either way. ``news``: +1 at or above, -1 at or
    below."""
    confidence: float = 0.0
    """``news``: the least confidence (0..1) a story needs."""

    def band_width(self) -> float:
        """The hysteresis band in the level's unit."""
        if self.kind in ("above", "below", "cross"):
            if self.band is None:
                return abs(self.level) * DEFAULT_BAND_PERCENT / 100.0
            return abs(self.level) * self.band / 100.0 if self.band_percent else self.band
        if self.kind in ("change_above", "change_below"):
            return DEFAULT_CHANGE_BAND if self.band is None else self.band
        return 0.0 if self.band is None else self.band


class _Tokens:
    """The tokens of one expression, read left to right."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.items = [m.group(1) for m in _TOKEN.finditer(text)]
        self.index = 0

    def peek(self) -> str | None:
        return self.items[self.index] if self.index < len(self.items) else None

    def take(self, expected: str) -> str:
        token = self.peek()
        if token is None:
            raise AlertSyntaxError(f"{self.text!r} ends where {expected} was expected")
        self.index += 1
        return token

    def fail(self, token: str, expected: str) -> AlertSyntaxError:
        return AlertSyntaxError(
            f"unexpected {token!r} (token {self.index} of {self.text!r}): expected {expected}"
        )

    def keyword(self, *words: str) -> str:
        token = self.take(" or ".join(repr(w) for w in words))
        if token.lower() not in words:
            raise self.fail(token, " or ".join(repr(w) for w in words))
        return token.lower()

    def number(self, expected: str, *, percent: str = "no", scaled: bool = False) -> float:
        """A number; ``percent`` is ``no``, ``optional`` or ``required``."""
        token = self.take(expected)
        match = _NUMBER.match(token)
        suffix = match.group(3) if match else None
        if (
            match is None
            or (suffix == "%" and percent == "no")
            or (suffix != "%" and percent == "required")
            or (suffix not in (None, "%") and not scaled)
        ):
            raise self.fail(token, expected)
        value = float(match.group(2)) * (-1.0 if match.group(1) == "-" else 1.0)
        if suffix and suffix != "%":
            value *= _SCALE[suffix.lower()]
        if not math.isfinite(value):
            raise self.fail(token, expected)
        return value

    def duration(self) -> float:
        token = self.take("a duration such as 30s, 5m or 1h")
        match = _DURATION.match(token.lower())
        if match is None or float(match.group(1)) <= 0:
            raise self.fail(token, "a duration such as 30s, 5m or 1h")
        return float(match.group(1)) * _SECONDS[match.group(2)]

    def end(self) -> None:
        token = self.peek()
        if token is not None:
            self.index += 1
            raise self.fail(token, "the end of the expression")


def parse_condition(text: str) -> Condition:
    """Parse one expression; :class:`AlertSyntaxError` names the token it stopped at."""
    tokens = _Tokens(text.strip())
    first = tokens.take("a symbol (NASDAQ:AAPL), @watchlist or 'feed NAME'")
    if first.lower() == "feed":
        name = tokens.take("a feed name (" + ", ".join(FEEDS) + ")").lower()
        if name not in FEEDS:
            raise tokens.fail(name, "a feed name (" + ", ".join(FEEDS) + ")")
        tokens.keyword("down")
        seconds = tokens.duration()
        tokens.end()
        return Condition(target=name, kind="feed_down", scope="feed", level=seconds)
    if first.startswith("@"):
        name = first[1:].strip('"')
        if not name:
            raise tokens.fail(first, "a watchlist name after '@'")
        target, scope = name, "watchlist"
    elif SYMBOL_CODE.match(first):
        target, scope = first, "symbol"
    else:
        raise tokens.fail(first, "a symbol code like NASDAQ:AAPL, or @watchlist")
    condition = _condition(tokens, target)
    tokens.end()
    return msgspec.structs.replace(condition, scope=scope)


def _condition(tokens: _Tokens, target: str) -> Condition:
    word = tokens.take("a condition (>, <, crosses, change, move, volume, news, stale)")
    lowered = word.lower()
    if lowered in (">", ">=", "above", "<", "<=", "below", "crosses"):
        level = tokens.number("a price")
        if level <= 0:
            raise AlertSyntaxError(f"the price {level:g} must be above zero")
        kind: Kind = (
            "cross"
            if lowered == "crosses"
            else "above"
            if lowered in (">", ">=", "above")
            else "below"
        )
        band, band_percent = _band(tokens)
        return Condition(target, kind, level=level, band=band, band_percent=band_percent)
    if lowered == "change":
        op = tokens.take("one of >=, >, <=, <")
        if op not in (">=", ">", "<=", "<"):
            raise tokens.fail(op, "one of >=, >, <=, <")
        level = tokens.number("a percentage such as 3% or -2.5%", percent="optional")
        band, _ = _band(tokens, allow_percent=False)
        kind = "change_above" if op.startswith(">") else "change_below"
        return Condition(target, kind, level=level, band=band)
    if lowered == "move":
        raw = tokens.peek() or ""
        size = tokens.number("a move such as 2%, +2% or -2%", percent="optional")
        if size == 0:
            raise AlertSyntaxError("a move of 0% would fire on every quote")
        tokens.keyword("in")
        minutes = tokens.duration() / 60.0
        direction = 1 if raw.startswith("+") else -1 if raw.startswith("-") else 0
        return Condition(target, "move", level=abs(size), minutes=minutes, direction=direction)
    if lowered == "volume":
        op = tokens.take("> or >=")
        if op not in (">", ">="):
            raise tokens.fail(op, "> or >=")
        level = tokens.number("a volume such as 2M or 150000", scaled=True)
        return Condition(target, "volume", level=level)
    if lowered == "news":
        tokens.keyword("sentiment")
        op = tokens.take(">= or <=")
        if op not in (">=", "<=", ">", "<"):
            raise tokens.fail(op, ">= or <=")
        score = tokens.number("a sentiment score from -1 to 1")
        if not -1.0 <= score <= 1.0:
            raise AlertSyntaxError(f"the sentiment score {score:g} is outside -1..1")
        confidence = 0.0
        if (tokens.peek() or "").lower() == "confidence":
            tokens.take("confidence")
            confidence = tokens.number("a confidence from 0 to 1")
            if not 0.0 <= confidence <= 1.0:
                raise AlertSyntaxError(f"the confidence {confidence:g} is outside 0..1")
        direction = 1 if op.startswith(">") else -1
        return Condition(target, "news", level=score, direction=direction, confidence=confidence)
    if lowered == "stale":
        if (tokens.peek() or "").lower() == "for":
            tokens.take("for")
        return Condition(target, "stale", level=tokens.duration())
    raise tokens.fail(word, "a condition (>, <, crosses, change, move, volume, news, stale)")


def _band(tokens: _Tokens, *, allow_percent: bool = True) -> tuple[float | None, bool]:
    if (tokens.peek() or "").lower() != "band":
        return None, False
    tokens.take("band")
    peek = tokens.peek() or ""
    width = tokens.number(
        "a band width such as 0.5 or 0.2%", percent="optional" if allow_percent else "no"
    )
    if width < 0:
        raise AlertSyntaxError(f"the band {width:g} must not be negative")
    return width, peek.endswith("%")


def describe_condition(condition: Condition) -> str:
    """The expression in its canonical spelling (what ``alert list`` shows)."""
    target = {
        "symbol": condition.target,
        "watchlist": f"@{condition.target}",
        "feed": f"feed {condition.target}",
    }[condition.scope]
    level = f"{condition.level:g}"
    band = ""
    if condition.band is not None:
        band = f" band {condition.band:g}{'%' if condition.band_percent else ''}"
    kind = condition.kind
    if kind in ("above", "below", "cross"):
        word = {"above": ">", "below": "<", "cross": "crosses"}[kind]
        return f"{target} {word} {level}{band}"
    if kind in ("change_above", "change_below"):
        return f"{target} change {'>=' if kind == 'change_above' else '<='} {level}%{band}"
    if kind == "move":
        sign = {1: "+", -1: "-", 0: ""}[condition.direction]
        return f"{target} move {sign}{level}% in {_duration(condition.minutes * 60)}"
    if kind == "volume":
        return f"{target} volume > {_volume(condition.level)}"
    if kind == "news":
        op = ">=" if condition.direction > 0 else "<="
        confidence = f" confidence {condition.confidence:g}" if condition.confidence else ""
        return f"{target} news sentiment {op} {level}{confidence}"
    if kind == "stale":
        return f"{target} stale {_duration(condition.level)}"
    return f"{target} down {_duration(condition.level)}"


def _duration(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


def _volume(value: float) -> str:
    for suffix, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale and (value / scale) == round(value / scale, 3):
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def parse_duration(text: str) -> float:
    """``30s``, ``5m``, ``1h`` (a bare number is seconds) as seconds; ValueError otherwise."""
    cleaned = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d*)?", cleaned):
        return float(cleaned)
    match = _DURATION.match(cleaned)
    if match is None:
        raise ValueError(f"{text!r} is not a duration such as 30s, 5m or 1h")
    return float(match.group(1)) * _SECONDS[match.group(2)]
