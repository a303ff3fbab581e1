"""What the plan lets through: the best subset of the requested subscriptions, and why the
rest is not subscribed.

The plan trap: a set one symbol larger than the plan used to be refused whole,
leaving every row empty. Now the requested set is fitted to the plan (the charted series
first, then quotes in watchlist order, ten to a unit), and every symbol left out, or rejected
by the server, carries a mark the view shows on its row. A rejected symbol is never sent again
in this session, so a later change neither spends budget on it nor repeats the notice.
"""

from __future__ import annotations

import msgspec

from tui.config import Plan
from tui.protocol.live import Subscription
from tui.protocol.rules import QUOTES_PER_UNIT, fit_to_plan, subscription_units


class PlanUse(msgspec.Struct, frozen=True):
    """The plan's name, the units the desired set uses, and the units it allows."""

    name: str
    used: int
    allowed: int
    left_out: int = 0
    """Symbols wanted but not subscribed for want of room."""
    learned: bool = False
    """The limit is what the server said, smaller than the config's."""
    quote_room: int = 10
    """More symbols whose quotes would still fit (0: the next one added is left out)."""

    def describe(self, *, short: bool = False) -> str:
        """``plan pro 2/2`` (``+2 left out`` when the plan is full)."""
        name = "server limit" if self.learned else self.name  # the config's name is wrong
        text = f"{name} {self.used}/{self.allowed}"
        if not short:
            text = "plan " + text
        if self.left_out:
            text += f" +{self.left_out} out" if short else f" ({self.left_out} not subscribed)"
        return text


def _plural(count: int) -> str:
    return f"{count} subscription" + ("" if count == 1 else "s")


class Capacity:
    """Fits requested subscriptions to the plan and remembers what the server refused."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.learned_units: int | None = None
        """A smaller limit the server named in a "subscription limit exceeded" error."""
        self.rejected_codes: dict[str, str] = {}
        """Symbols the server does not know (``invalid_symbol``), and what it said."""
        self.rejected_series: list[tuple[Subscription, str]] = []
        """Series refused for their parameters (interval, currency, unit): another interval
        of the same symbol is tried; this one never again."""
        self.marks: dict[str, str] = {}
        """Row marks: symbol → why its quote is not subscribed."""
        self.series_marks: dict[str, str] = {}
        """Chart marks: symbol → why its series is not subscribed."""
        self.used = 0
        self.left_out = 0
        self.in_order = False
        """Fit in the order given (a hub's union, already in its fair order) rather than
        series first."""
        self.kept: list[Subscription] = []
        """What the last fit kept."""
        self.quote_room = plan.subscriptions * QUOTES_PER_UNIT

    @property
    def units(self) -> int:
        """The limit in force: the config's, or the server's when it named a smaller one."""
        if self.learned_units is not None:
            return min(self.plan.subscriptions, self.learned_units)
        return self.plan.subscriptions

    def fit(self, subs: list[Subscription]) -> list[Subscription]:
        """The subset of ``subs`` to send; marks the rest."""
        usable: list[Subscription] = []
        self.marks, self.series_marks = {}, {}
        for sub in subs:
            why = self.rejection(sub)
            if why is None:
                usable.append(sub)
            elif sub.type in ("quote", "both"):
                self.marks[sub.code] = why
            else:
                self.series_marks[sub.code] = why
        kept, left = fit_to_plan(usable, self.units, in_order=self.in_order)
        self.kept = kept
        room = f"not subscribed: plan allows {_plural(self.units)}"
        for sub in left:
            if sub.type in ("quote", "both"):
                self.marks.setdefault(sub.code, room)
            if sub.type in (None, "series", "both"):
                self.series_marks.setdefault(sub.code, room)
        self.used = subscription_units(kept) if kept else 0
        self.left_out = len({s.code for s in left})
        quotes = sum(1 for s in kept if s.type in ("quote", "both"))
        spare_in_unit = -quotes % QUOTES_PER_UNIT
        self.quote_room = 0 if left else (self.units - self.used) * QUOTES_PER_UNIT + spare_in_unit
        return kept

    def rejection(self, sub: Subscription) -> str | None:
        """Why the server refused ``sub`` (or its symbol) earlier, or None."""
        if sub.code in self.rejected_codes:
            return self.rejected_codes[sub.code]
        if sub.type != "quote":
            for rejected, why in self.rejected_series:
                if rejected == sub:
                    return why
        return None

    def reject(self, code: str, removed: list[Subscription], what: str) -> None:
        """The server refused ``code`` (every subscription when ``invalid_symbol``)."""
        why = f"rejected by the server: {what}"
        if what == "unknown symbol":
            self.rejected_codes[code] = why
        else:
            self.rejected_series.extend((sub, why) for sub in removed)

    def learn(self, allowed: int) -> bool:
        """The server named its limit; True if that is smaller than the one in force."""
        if allowed < 1 or allowed >= self.units:
            return False
        self.learned_units = allowed
        return True

    def use(self) -> PlanUse:
        """The plan's use now."""
        return PlanUse(
            name=self.plan.name,
            used=self.used,
            allowed=self.units,
            left_out=self.left_out,
            learned=self.learned_units is not None and self.learned_units < self.plan.subscriptions,
            quote_room=self.quote_room,
        )


def add_warning(plan: PlanUse | None) -> str | None:
    """What the add box says before adding, when the next symbol will not fit the plan."""
    if plan is None or plan.quote_room > 0:
        return None
    return (
        f"plan {plan.name} is full ({plan.used}/{plan.allowed}): a symbol added now is shown "
        "but not subscribed until you free room (d removes a row)"
    )
