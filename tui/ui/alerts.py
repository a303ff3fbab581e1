"""Alert screens: the small form ``A`` opens on a row, and the list ``L`` opens.

The form checks the rule with the same model the config and the CLI use (its error names the
bad token) and hands a valid :class:`AlertRule` back; the list shows every alert's state as the
session reports it and turns keys into alert commands. Neither touches the engine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import msgspec
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from tui.alerts.grammar import parse_duration
from tui.alerts.model import DEFAULT_COOLDOWN_SECONDS, AlertRule, AlertView, value_text
from tui.protocol.text import clean_text
from tui.session.values import Command, PauseAlert, RemoveAlert, TestAlert


def rule_from_form(
    rule_id: str, when: str, mode: str, expires: str, note: str, base: AlertRule | None = None
) -> AlertRule:
    """The rule the form describes; ValueError in words naming the field."""
    mode = mode.strip().lower()
    fields: dict[str, object] = {"id": rule_id, "when": when.strip(), "note": note.strip()}
    if base is not None:
        fields["paused"], fields["channels"] = base.paused, base.channels
    if mode in ("", "once"):
        fields["mode"] = "once"
    elif mode == "every" or mode.startswith("every "):
        fields["mode"] = "every"
        rest = mode[len("every") :].strip()
        try:
            fields["cooldown_seconds"] = parse_duration(rest) if rest else DEFAULT_COOLDOWN_SECONDS
        except ValueError as exc:
            raise ValueError(f"mode: {exc}") from None
    else:
        raise ValueError(f"mode: {mode!r} is not 'once' or 'every 5m'")
    if expires.strip():
        fields["expires"] = expires.strip()
    try:
        return AlertRule(**fields)  # type: ignore[arg-type]
    except (ValueError, msgspec.ValidationError) as exc:
        raise ValueError(str(exc)) from None


def _mode_text(rule: AlertRule) -> str:
    if rule.mode == "once":
        return "once"
    seconds = rule.cooldown_seconds
    if seconds and seconds % 60 == 0:
        return f"every {seconds / 60:g}m"
    return f"every {seconds:g}s"


class AlertFormScreen(ModalScreen[AlertRule | None]):
    """Add (or edit) one alert: the expression, the mode, an expiry and a note."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    AUTO_FOCUS = "#when"
    DEFAULT_CSS = """
    AlertFormScreen { align: center middle; }
    AlertFormScreen > Vertical { width: 72; max-width: 100%; height: auto; max-height: 95%;
        border: round $primary; background: $surface; padding: 0 1; }
    AlertFormScreen .label { color: $text-muted; }
    AlertFormScreen Input { border: none; height: 1; padding: 0 1; background: $boost; }
    AlertFormScreen Input:focus { border: none; background: $primary 30%; }
    AlertFormScreen #error { color: $error; height: auto; }
    """

    def __init__(self, when: str, rule: AlertRule | None = None) -> None:
        super().__init__()
        self.rule = rule
        self.initial_when = rule.when if rule else when

    def compose(self) -> ComposeResult:
        rule = self.rule
        title = f"Edit alert {rule.id}" if rule else "New alert"
        with Vertical():
            yield Static(Text(title, style="bold"))
            yield Static(
                "When (e.g. NASDAQ:AAPL crosses 250, > 250, change <= -3%)", classes="label"
            )
            yield Input(self.initial_when, id="when", select_on_focus=False)
            yield Static("Mode: once, or every 5m (re-fires after re-arming)", classes="label")
            yield Input(_mode_text(rule) if rule else "once", id="mode")
            yield Static("Expires (optional): 2026-12-31 or 2026-12-31T16:00", classes="label")
            yield Input(rule.expires or "" if rule else "", id="expires")
            yield Static("Note (optional)", classes="label")
            yield Input(rule.note if rule else "", id="note")
            yield Static("", id="error")
            yield Static("Enter saves · Esc cancels", classes="label")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = {i.id: i.value for i in self.query(Input)}
        try:
            rule = rule_from_form(
                self.rule.id if self.rule else "new",
                value["when"] or "",
                value["mode"] or "",
                value["expires"] or "",
                value["note"] or "",
                self.rule,
            )
        except ValueError as exc:
            self.query_one("#error", Static).update(Text(clean_text(str(exc))))
            return
        self.dismiss(rule)

    def action_cancel(self) -> None:
        self.dismiss(None)


class AlertListScreen(ModalScreen[None]):
    """Every alert with its state; keys pause, edit, delete and test the highlighted one."""

    BINDINGS = [
        Binding("escape,q,L", "close", "Close"),
        Binding("space", "toggle_pause", "Pause/resume"),
        Binding("e,enter", "edit", "Edit"),
        Binding("d,delete", "delete", "Delete"),
        Binding("t", "test", "Test"),
    ]
    DEFAULT_CSS = """
    AlertListScreen { align: center middle; }
    AlertListScreen > Vertical { width: 100%; max-width: 140; height: auto; max-height: 95%;
        border: round $primary; background: $surface; padding: 0 1; }
    AlertListScreen DataTable { height: auto; max-height: 20; }
    AlertListScreen .label { color: $text-muted; }
    """

    def __init__(
        self,
        views: list[AlertView],
        send: Callable[[Command], None],
        edit: Callable[[AlertRule], None],
    ) -> None:
        super().__init__()
        self.views = views
        self.send = send
        self.edit = edit

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Alerts", style="bold"))
            yield DataTable(id="alerts", cursor_type="row", zebra_stripes=False)
            yield Static(
                "space pause/resume · e edit · d delete · t test · Esc close"
                " · A on a grid row adds one",
                classes="label",
            )

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("ID", "When", "Mode", "State", "Last", "Fired")
        self.show(self.views)

    def show(self, views: list[AlertView]) -> None:
        """Redraw with ``views`` (the app calls this when a batch brings new ones)."""
        self.views = views
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for view in views:
            rule = view.rule
            fired = ""
            if view.last_fired is not None:
                moment = dt.datetime.fromtimestamp(view.last_fired).strftime("%H:%M:%S")
                fired = f"{view.fired_count}x, {moment}"
            table.add_row(
                Text(rule.id),
                Text(clean_text(rule.when)),
                Text(_mode_text(rule)),
                Text(clean_text(view.status)),
                Text("" if view.last_value is None else value_text(view.last_value)),
                Text(fired),
                key=rule.id,
            )
        if views:
            table.move_cursor(row=min(row, len(views) - 1))

    def _current(self) -> AlertView | None:
        table = self.query_one(DataTable)
        if not self.views or table.cursor_row >= len(self.views):
            return None
        return self.views[table.cursor_row]

    def action_toggle_pause(self) -> None:
        view = self._current()
        if view is not None:
            self.send(PauseAlert(view.rule.id, not view.rule.paused))

    def action_edit(self) -> None:
        view = self._current()
        if view is not None:
            self.edit(view.rule)

    def action_delete(self) -> None:
        view = self._current()
        if view is not None:
            self.send(RemoveAlert(view.rule.id))

    def action_test(self) -> None:
        view = self._current()
        if view is not None:
            self.send(TestAlert(view.rule.id))

    def action_close(self) -> None:
        self.dismiss(None)


def osc_notification(text: str) -> str:
    """A desktop notification as terminal sequences: OSC 777 (rxvt, foot, Ghostty, WezTerm)
    and OSC 9 (iTerm2, Windows Terminal); ``text`` is cleaned of every control character
    and of the ``;`` that separates OSC 777's fields, so it can never end the sequence."""
    body = clean_text(text).replace(";", ",")[:200]
    return f"\x1b]777;notify;marketpane alert;{body}\x1b\\\x1b]9;{body}\x1b\\"
