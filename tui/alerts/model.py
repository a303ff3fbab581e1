"""Alert values: a rule as the config file holds it, its persisted state, a firing, and the
delivery settings. Plain msgspec structs, so a rule travels from the CLI to the hub and a view
the same way it sits in ``[[alerts]]``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

import msgspec

from tui.alerts.grammar import AlertSyntaxError, Condition, parse_condition

Mode = Literal["once", "every"]
CHANNELS = ("notice", "bell", "tmux", "desktop", "command", "webhook")
"""Every delivery channel, by the name a rule's ``channels`` list uses."""
DEFAULT_COOLDOWN_SECONDS = 300.0
"""How long an ``every`` rule waits between firings unless told."""
_ALERT_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def parse_expiry(text: str) -> float:
    """``2026-12-31`` (the end of that day, local time) or an ISO 8601 date and time (local
    time unless it names its offset) as epoch seconds; ValueError otherwise."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
            day = dt.date.fromisoformat(text.strip())
            moment = dt.datetime.combine(day, dt.time(23, 59, 59))
        else:
            moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date (2026-12-31) or date and time (2026-12-31T16:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # local time
    return moment.timestamp()


class AlertRule(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One ``[[alerts]]`` entry."""

    id: str
    """Short and stable: what ``marketpane alert rm ID`` names."""
    when: str
    """The expression (see :mod:`tui.alerts.grammar`), e.g. ``NASDAQ:AAPL crosses 250``."""
    mode: Mode = "once"
    """``once``: fire one time, then stay fired; ``every``: fire each time it is re-armed,
    at most once per ``cooldown_seconds``."""
    cooldown_seconds: Annotated[float, msgspec.Meta(ge=0)] = DEFAULT_COOLDOWN_SECONDS
    expires: str | None = None
    """After this date (end of day) or date and time the rule never fires."""
    paused: bool = False
    channels: list[str] | None = None
    """Deliver only by these channels (default: every channel enabled in ``[alert_delivery]``)."""
    note: str = ""
    """Free text shown with the alert (and sent to hooks)."""

    def __post_init__(self) -> None:
        if not _ALERT_ID.match(self.id):
            raise ValueError(f"id: {self.id!r} must be 1-32 letters, digits, '-' or '_'")
        try:
            parse_condition(self.when)
        except AlertSyntaxError as exc:
            raise ValueError(f"when: {exc}") from None
        if self.expires is not None:
            try:
                parse_expiry(self.expires)
            except ValueError as exc:
                raise ValueError(f"expires: {exc}") from None
        for name in self.channels or ():
            if name not in CHANNELS:
                raise ValueError(
                    f"channels: {name!r} is not a channel (one of {', '.join(CHANNELS)})"
                )

    def condition(self) -> Condition:
        """The parsed expression (valid: checked when the rule was made)."""
        return parse_condition(self.when)

    def expires_at(self) -> float | None:
        """The expiry as epoch seconds, or None."""
        return parse_expiry(self.expires) if self.expires else None


class AlertDelivery(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """``[alert_delivery]``: how a firing reaches the user."""

    notice: bool = True
    """A notice in every open pane."""
    bell: bool = True
    """The terminal bell in every open pane."""
    tmux: bool = True
    """``tmux display-message`` when marketpane (or its hub) runs inside tmux."""
    desktop: bool = False
    """``notify-send`` where it exists, else an OSC 777 notification from the panes."""
    command: list[str] = []
    """A program and its arguments, run without a shell; ``{id}``, ``{symbol}``, ``{text}``,
    ``{value}`` and ``{level}`` in an argument are replaced, and every field is also in the
    environment (``MARKETPANE_ALERT_*``)."""
    command_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    webhook: str = ""
    """A URL that gets a JSON POST for every firing."""
    webhook_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    retries: Annotated[int, msgspec.Meta(ge=0, le=10)] = 3
    """How many times a failed command or webhook is tried again (1 s, 2 s, 4 s… apart)."""

    def __post_init__(self) -> None:
        if self.webhook and not re.match(r"^https?://", self.webhook):
            raise ValueError(f"webhook: {self.webhook!r} must be an http:// or https:// URL")


AlertStatus = Literal["armed", "waiting", "fired", "expired", "paused"]


class AlertState(msgspec.Struct, omit_defaults=True):
    """What an alert remembers across restarts, per (rule, symbol)."""

    when: str
    """The expression this state belongs to (a changed rule starts afresh)."""
    armed: bool = True
    """False after firing, until the value moves back by the band (or a fresh episode)."""
    done: bool = False
    """A ``once`` rule that fired."""
    side: int = 0
    """``crosses``: which side of the level the value was last on (+1 above, -1 below)."""
    last_value: float | None = None
    last_fired: float | None = None
    fired_count: int = 0
    seen: list[str] = []
    """``news``: keys of the stories already fired on (the newest few)."""


class Firing(msgspec.Struct, frozen=True):
    """One alert firing, as every channel delivers it."""

    id: str
    symbol: str
    rule: str
    text: str
    at: float
    value: float | None = None
    level: float | None = None
    note: str = ""
    test: bool = False
    channels: list[str] | None = None

    def fields(self) -> dict[str, str]:
        """The firing's fields as strings (environment, webhook, placeholders)."""
        return {
            "id": self.id,
            "symbol": self.symbol,
            "rule": self.rule,
            "text": self.text,
            "time": dt.datetime.fromtimestamp(self.at, dt.UTC).isoformat(timespec="seconds"),
            "value": "" if self.value is None else f"{self.value:g}",
            "level": "" if self.level is None else f"{self.level:g}",
            "note": self.note,
            "test": "1" if self.test else "0",
        }


def value_text(value: float) -> str:
    """An alert's last value for a list: a price at its cents, a small number whole."""
    if abs(value) >= 1:
        return f"{value:,.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:,.0f}"
    return f"{value:.6g}"


class AlertView(msgspec.Struct):
    """An alert as a list shows it: the rule, and its state in words."""

    rule: AlertRule
    status: str
    """``armed``, ``waiting to re-arm``, ``fired``, ``expired``, ``paused``, or why it cannot
    be served (``not subscribed: plan full``)."""
    last_value: float | None = None
    last_fired: float | None = None
    fired_count: int = 0
    symbols: list[str] = []
