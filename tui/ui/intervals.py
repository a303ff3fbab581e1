"""The interval picker (``I``): every bar interval in one list, so a chart jumps straight to
``1D`` instead of cycling through five others with ``i``."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option


class IntervalScreen(ModalScreen[str | None]):
    """Pick an interval; dismisses with its label (``15m``) or None."""

    BINDINGS = [
        Binding("escape,q,I", "dismiss", "Close"),
        Binding("j", "cursor(1)", "Down", show=False),
        Binding("k", "cursor(-1)", "Up", show=False),
    ]
    DEFAULT_CSS = """
    IntervalScreen { align: center middle; }
    IntervalScreen > OptionList { width: 24; height: auto; max-height: 90%;
        border: round $primary; background: $surface; }
    """

    def __init__(self, labels: list[str], current: str) -> None:
        super().__init__()
        self.labels, self.current = labels, current

    def compose(self) -> ComposeResult:
        options = OptionList(*(Option(label, id=label) for label in self.labels))
        options.border_title = "Interval"
        yield options

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        if self.current in self.labels:
            options.highlighted = self.labels.index(self.current)
        options.focus()

    def action_cursor(self, step: int) -> None:
        options = self.query_one(OptionList)
        options.action_cursor_down() if step > 0 else options.action_cursor_up()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
