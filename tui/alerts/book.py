"""The alert book: every rule, its state per symbol, and the evaluation that decides firings.

The book is fed values (a symbol's merged quote fields, a news story, the time, the feeds'
states) by the engine's monitor, never socket frames, and returns :class:`Firing` values for
the delivery to send. Its state is saved in the state directory before any firing is sent, so
a restart neither loses an armed alert nor fires a fired one again.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path

import msgspec

from tui.alerts.grammar import Condition, describe_condition
from tui.alerts.model import AlertRule, AlertState, AlertView, Firing
from tui.paths import atomic_write_bytes

log = logging.getLogger(__name__)

QUOTE_KINDS = ("above", "below", "cross", "change_above", "change_below", "move", "volume")
"""Kinds evaluated when a symbol's quote changes."""
FIELD_OF = {
    "above": "last_price",
    "below": "last_price",
    "cross": "last_price",
    "move": "last_price",
    "change_above": "change_percent",
    "change_below": "change_percent",
    "volume": "volume",
}
"""The quote field each quote kind watches."""
SEEN_STORIES = 50
"""Story keys a news rule remembers (a story merged from the second source is not news)."""
MOVE_SAMPLES = 20_000
"""Prices a move rule keeps for its window (a sample a second covers five hours)."""

StateKey = tuple[str, str]
"""(rule id, symbol)."""


class AlertBook:
    """Rules, their states, and the evaluation."""

    def __init__(
        self,
        rules: Iterable[AlertRule],
        *,
        state_path: Path | None = None,
        watchlist_codes: Callable[[str], list[str]] = lambda name: [],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state_path = state_path
        self.watchlist_codes = watchlist_codes
        self.clock = clock
        self.started = clock()
        self.rules: dict[str, AlertRule] = {}
        self.conditions: dict[str, Condition] = {}
        self.targets: dict[str, list[str]] = {}
        """Rule id → the symbols it watches (one, or a watchlist's)."""
        self.by_code: dict[str, list[str]] = {}
        """Symbol → ids of the quote rules on it."""
        self.states: dict[StateKey, AlertState] = {}
        self.samples: dict[StateKey, deque[tuple[float, float]]] = {}
        self.load_error: str | None = None
        self.held: set[str] = set()
        """Symbols with a firing held back by a cooldown: evaluated again each tick, so it
        fires when the cooldown ends if it still holds (no new quote needed)."""
        self._dirty = False
        self._load()
        self.set_rules(list(rules))

    # ---- rules ----------------------------------------------------------------------------

    def set_rules(self, rules: list[AlertRule]) -> None:
        """Adopt ``rules``: states of unchanged rules are kept, others start armed."""
        self.rules = {r.id: r for r in rules}
        self.conditions = {r.id: r.condition() for r in rules}
        self.targets = {}
        self.by_code = {}
        for rule_id, condition in self.conditions.items():
            if condition.scope == "watchlist":
                codes = list(dict.fromkeys(self.watchlist_codes(condition.target)))
            elif condition.scope == "feed":
                codes = [f"feed:{condition.target}"]
            else:
                codes = [condition.target]
            self.targets[rule_id] = codes
            if condition.kind in QUOTE_KINDS:
                for code in codes:
                    self.by_code.setdefault(code, []).append(rule_id)
        for key in list(self.states):
            rule = self.rules.get(key[0])
            if rule is None or rule.when != self.states[key].when:
                del self.states[key]
                self._dirty = True
        self.samples = {k: v for k, v in self.samples.items() if k in self.states}

    def state(self, rule_id: str, code: str) -> AlertState:
        """The state of ``rule_id`` on ``code`` (made armed on first use)."""
        key = (rule_id, code)
        found = self.states.get(key)
        if found is None:
            found = self.states[key] = AlertState(when=self.rules[rule_id].when)
            self._dirty = True
        return found

    def active(self, rule_id: str, now: float) -> bool:
        """Neither paused nor expired."""
        rule = self.rules[rule_id]
        expires = rule.expires_at()
        return not rule.paused and (expires is None or now <= expires)

    def live_rules(self, now: float | None = None) -> list[str]:
        """Ids of rules that can still fire (active, and a ``once`` not yet fired everywhere)."""
        now = self.clock() if now is None else now
        out = []
        for rule_id, codes in self.targets.items():
            if not self.active(rule_id, now):
                continue
            states = [self.states.get((rule_id, c)) for c in codes]
            if any(s is None or not s.done for s in states):
                out.append(rule_id)
        return out

    def symbols(self) -> list[str]:
        """Symbols whose quotes the live rules need (feed rules need none)."""
        codes: list[str] = []
        for rule_id in self.live_rules():
            if self.conditions[rule_id].scope != "feed":
                codes.extend(c for c in self.targets[rule_id] if c not in codes)
        return codes

    # ---- evaluation ---------------------------------------------------------------------------

    def on_quote(self, code: str, values: dict[str, object], now: float) -> list[Firing]:
        """A symbol's merged quote changed: evaluate the quote rules on it."""
        firings: list[Firing] = []
        for rule_id in self.by_code.get(code, ()):
            if not self.active(rule_id, now):
                continue
            condition = self.conditions[rule_id]
            value = values.get(FIELD_OF[condition.kind])
            if not isinstance(value, int | float) or isinstance(value, bool):
                continue
            state = self.state(rule_id, code)
            if state.done:
                continue
            if state.last_value != value:
                state.last_value = float(value)
                self._dirty = True
            if condition.kind == "move":
                text = self._move(rule_id, code, float(value), now)
            else:
                text = _level_step(condition, state, float(value))
            if text is not None:
                firing = self._fire(rule_id, code, state, text, float(value), now)
                if firing is not None:
                    firings.append(firing)
                elif state.armed:
                    self.held.add(code)
        return firings

    def take_held(self) -> set[str]:
        """The symbols to evaluate again (see :attr:`held`), and forget them."""
        held, self.held = self.held, set()
        return held

    def _move(self, rule_id: str, code: str, value: float, now: float) -> str | None:
        condition = self.conditions[rule_id]
        key = (rule_id, code)
        samples = self.samples.get(key)
        if samples is None:
            samples = self.samples[key] = deque(maxlen=MOVE_SAMPLES)
        if samples and now - samples[-1][0] < 1.0 and len(samples) > 1:
            samples[-1] = (now, value)  # one sample a second (the newest of it)
        else:
            samples.append((now, value))
        window = condition.minutes * 60.0
        while samples and now - samples[0][0] > window:
            samples.popleft()
        low = min(p for _, p in samples)
        high = max(p for _, p in samples)
        up = (value / low - 1.0) * 100.0 if low > 0 else 0.0
        down = (1.0 - value / high) * 100.0 if high > 0 else 0.0
        span = _duration_words(window)
        if condition.direction >= 0 and up >= condition.level:
            text = f"up {up:.2f}% in {span} ({low:g} to {value:g})"
        elif condition.direction <= 0 and down >= condition.level:
            text = f"down {down:.2f}% in {span} ({high:g} to {value:g})"
        else:
            return None
        samples.clear()  # the next move is measured from here
        samples.append((now, value))
        return text

    def on_news(
        self,
        key: str,
        tickers: list[str],
        score: float | None,
        confidence: float | None,
        title: str,
        now: float,
    ) -> list[Firing]:
        """A story arrived (or gained a sentiment): evaluate the news rules on its symbols."""
        if score is None:
            return []
        named = {t.upper() for t in tickers}
        firings: list[Firing] = []
        for rule_id, condition in self.conditions.items():
            if condition.kind != "news" or not self.active(rule_id, now):
                continue
            for code in self.targets[rule_id]:
                ticker = code.partition(":")[2].upper()
                if code.upper() not in named and ticker not in named:
                    continue
                if condition.direction > 0 and score < condition.level:
                    continue
                if condition.direction < 0 and score > condition.level:
                    continue
                if condition.confidence > 0 and (confidence or 0.0) < condition.confidence:
                    continue
                state = self.state(rule_id, code)
                if state.done or key in state.seen:
                    continue
                state.seen = [*state.seen, key][-SEEN_STORIES:]
                state.last_value = score
                self._dirty = True
                sure = "" if confidence is None else f", confidence {confidence:.2f}"
                text = f"news sentiment {score:+.2f}{sure}: {title}"
                firing = self._fire(rule_id, code, state, text, score, now)
                if firing is not None:
                    firings.append(firing)
        return firings

    def on_tick(
        self,
        now: float,
        quote_time: Callable[[str], float | None],
        feed_down_since: dict[str, float | None],
        unserved: dict[str, str],
    ) -> list[Firing]:
        """Once a second: staleness and feed rules (things that happen by nothing arriving)."""
        firings: list[Firing] = []
        for rule_id, condition in self.conditions.items():
            if condition.kind not in ("stale", "feed_down") or not self.active(rule_id, now):
                continue
            for code in self.targets[rule_id]:
                since: float | None
                if condition.kind == "stale":
                    if code in unserved:
                        continue  # not subscribed: no quote is expected, the list says why
                    since = quote_time(code) or self.started
                else:
                    since = _down_since(condition.target, feed_down_since)
                state = self.state(rule_id, code)
                if state.done:
                    continue
                age = None if since is None else now - since
                if age is None or age < condition.level:
                    if not state.armed:
                        state.armed = True
                        self._dirty = True
                    continue
                if not state.armed:
                    continue
                state.last_value = age
                if condition.kind == "stale":
                    text = f"no quote for {_duration_words(age)}"
                else:
                    text = f"feed {condition.target} down for {_duration_words(age)}"
                firing = self._fire(rule_id, code, state, text, age, now)
                if firing is not None:
                    firings.append(firing)
        return firings

    def _fire(
        self, rule_id: str, code: str, state: AlertState, text: str, value: float, now: float
    ) -> Firing | None:
        """Fire unless cooling down; the state records it (and is saved before delivery)."""
        rule = self.rules[rule_id]
        last = state.last_fired
        if rule.mode == "every" and last is not None and now - last < rule.cooldown_seconds:
            return None
        state.armed = False
        state.done = rule.mode == "once"
        state.last_fired = now
        state.fired_count += 1
        self._dirty = True
        symbol = "" if code.startswith("feed:") else code
        subject = symbol or "marketpane"
        return Firing(
            id=rule.id,
            symbol=symbol,
            rule=describe_condition(self.conditions[rule_id]),
            text=f"Alert {rule.id}: {subject} {text}" + (f" ({rule.note})" if rule.note else ""),
            at=now,
            value=value,
            level=self.conditions[rule_id].level,
            note=rule.note,
            channels=rule.channels,
        )

    def test_firing(self, rule_id: str) -> Firing:
        """A firing of ``rule_id`` marked as a test (``alert test ID``); changes no state."""
        rule = self.rules[rule_id]
        condition = self.conditions[rule_id]
        code = self.targets[rule_id][0] if self.targets[rule_id] else ""
        symbol = "" if code.startswith("feed:") else code
        return Firing(
            id=rule.id,
            symbol=symbol,
            rule=describe_condition(condition),
            text=f"Alert {rule.id} (test): {describe_condition(condition)}",
            at=self.clock(),
            level=condition.level,
            note=rule.note,
            test=True,
            channels=rule.channels,
        )

    # ---- views ------------------------------------------------------------------------------

    def views(self, unserved: dict[str, str] | None = None) -> list[AlertView]:
        """Every rule with its state in words (``unserved``: symbols not subscribed, why)."""
        unserved = unserved or {}
        now = self.clock()
        out = []
        for rule_id, rule in self.rules.items():
            codes = self.targets[rule_id]
            states = [self.states[(rule_id, c)] for c in codes if (rule_id, c) in self.states]
            fired = [s.last_fired for s in states if s.last_fired is not None]
            values = [s.last_value for s in states if s.last_value is not None]
            blocked = [f"{c} {unserved[c]}" for c in codes if c in unserved]
            expires = rule.expires_at()
            if rule.paused:
                status = "paused"
            elif expires is not None and now > expires:
                status = "expired"
            elif states and len(states) == len(codes) and all(s.done for s in states):
                status = "fired"
            elif blocked:
                status = (
                    blocked[0] if len(blocked) == 1 else f"{len(blocked)} symbols not subscribed"
                )
            elif any(not s.armed and not s.done for s in states):
                status = "waiting to re-arm"
            elif not codes:
                status = "no symbols (no such watchlist, or it is empty)"
            else:
                status = "armed"
            out.append(
                AlertView(
                    rule=rule,
                    status=status,
                    last_value=values[-1] if len(codes) == 1 and values else None,
                    last_fired=max(fired) if fired else None,
                    fired_count=sum(s.fired_count for s in states),
                    symbols=[c for c in codes if not c.startswith("feed:")],
                )
            )
        return out

    # ---- persistence --------------------------------------------------------------------------

    def _load(self) -> None:
        path = self.state_path
        if path is None:
            return
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            self.load_error = (
                f"Alert state {path} could not be read ({exc.strerror}): alerts start armed."
            )
            return
        try:
            raw = msgspec.json.decode(data, type=dict[str, AlertState])
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self.load_error = f"Alert state {path} is damaged ({exc}): alerts start armed."
            return
        for joined, state in raw.items():
            rule_id, _, code = joined.partition("|")
            self.states[(rule_id, code)] = state

    @property
    def dirty(self) -> bool:
        """Whether a state changed since the last save."""
        return self._dirty

    def save(self) -> None:
        """Write every state atomically (a failure is logged and kept dirty for a retry)."""
        if self.state_path is None:
            self._dirty = False
            return
        payload = {f"{k[0]}|{k[1]}": v for k, v in self.states.items()}
        try:
            atomic_write_bytes(self.state_path, msgspec.json.encode(payload), mode=0o600)
        except OSError as exc:
            log.warning("alert state not saved: %s", exc)
            return
        self._dirty = False


def _level_step(condition: Condition, state: AlertState, value: float) -> str | None:
    """Threshold and crossing rules with hysteresis: the words of a firing, or None."""
    level, band, kind = condition.level, condition.band_width(), condition.kind
    if kind in ("above", "change_above", "volume"):
        if not state.armed:
            if value < level - band or (kind == "volume" and value < level):
                state.armed = True
            return None
        if value < level:
            return None
        if kind == "above":
            return f"at {value:g}, at or above {level:g}"
        if kind == "volume":
            return f"volume {value:,.0f}, over {level:,.0f}"
        return f"change {value:+.2f}% on the day, at or past {level:+g}%"
    if kind in ("below", "change_below"):
        if not state.armed:
            if value > level + band:
                state.armed = True
            return None
        if value > level:
            return None
        if kind == "below":
            return f"at {value:g}, at or below {level:g}"
        return f"change {value:+.2f}% on the day, at or past {level:+g}%"
    # crosses: fires when the value passes the level; after firing it is re-armed only once
    # the value has moved back past the level by the band (that move itself does not fire).
    if not state.armed:
        if (state.side > 0 and value <= level - band) or (state.side < 0 and value >= level + band):
            state.armed = True
            state.side = -state.side
        return None
    side = 1 if value > level else -1 if value < level else 0
    if side == 0:
        return None
    if state.side == 0:
        state.side = side
        return None
    if side == state.side:
        return None
    state.side = side
    return f"crossed {level:g} {'up' if side > 0 else 'down'} (at {value:g})"


def _down_since(name: str, feed_down_since: dict[str, float | None]) -> float | None:
    if name != "any":
        return feed_down_since.get(name)
    downs = [since for since in feed_down_since.values() if since is not None]
    return min(downs) if downs else None


def _duration_words(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:.0f} s"
