"""Modal screens: help, news detail, add-symbol search."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.engine.status import Notice
from tui.engine.stories import NewsItem
from tui.protocol.rest import SymbolInfo
from tui.protocol.rules import SubscriptionRuleError, validate_symbol_code
from tui.ui.prices import price_text
from tui.ui.render import SENTIMENT_MARKS, clock_text

SEARCH_DEBOUNCE_SECONDS = 0.3
"""Typing pause before a REST symbol search is sent."""


class HelpScreen(ModalScreen[None]):
    """Every key binding, generated from the app's bindings."""

    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
        Binding("j,down", "scroll_help(1)", "Down", show=False),
        Binding("k,up", "scroll_help(-1)", "Up", show=False),
        Binding("space,pagedown", "scroll_help(10)", "Page down", show=False),
        Binding("pageup", "scroll_help(-10)", "Page up", show=False),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 64; max-width: 100%; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1; }
    """

    def __init__(
        self, rows: list[tuple[str, str]], legend: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__()
        self.rows = rows
        self.legend = legend or []

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Text("marketpane keys", style="bold"))
            yield Static(_two_columns(self.rows))
            if self.legend:
                yield Static(Text("\nWhat the marks mean", style="bold"))
                yield Static(_two_columns(self.legend))
            yield Static(Text("j/k scroll · Esc closes · Ctrl+P opens the command palette"))

    def action_scroll_help(self, lines: int) -> None:
        """j/k (and the arrows, space and the page keys) scroll the help as in the grid."""
        self.query_one(VerticalScroll).scroll_relative(y=lines, animate=False)


def _two_columns(rows: list[tuple[str, str]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for left, right in rows:
        table.add_row(Text(left), Text(right))
    return table


class NoticeHistoryScreen(ModalScreen[None]):
    """Every notice of this session with its time, newest first: a toast missed is not lost."""

    BINDINGS = [Binding("escape,q,N", "dismiss", "Close")]
    DEFAULT_CSS = """
    NoticeHistoryScreen { align: center middle; }
    NoticeHistoryScreen > VerticalScroll { width: 100; max-width: 100%; height: auto;
        max-height: 90%; border: round $primary; background: $surface; padding: 0 1; }
    """

    def __init__(self, notices: list[Notice]) -> None:
        super().__init__()
        self.notices = notices

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 1))
        table.add_column(style="dim")
        table.add_column()
        table.add_column()
        marks = {"error": "✖", "warning": "!", "information": "·"}
        for notice in reversed(self.notices):
            table.add_row(
                Text(clock_text(notice.at, seconds=True) if notice.at else "--:--:--"),
                Text(marks.get(notice.level, "·")),
                Text(notice.text),
            )
        with VerticalScroll():
            yield Static(Text(f"Notices ({len(self.notices)})", style="bold"))
            yield Static(table if self.notices else Text("Nothing yet."))
            yield Static(Text("Esc closes", style="dim"))


class NewsDetailScreen(ModalScreen[None]):
    """One story whole: summary, key factors, price at publication, and the link (whole, an
    OSC 8 hyperlink where the terminal supports it, ``y`` copies it); ``j``/``k`` move to the
    next or previous story without leaving."""

    BINDINGS = [
        Binding("escape,q,enter", "dismiss", "Close"),
        Binding("j,down,n", "step(1)", "Next story"),
        Binding("k,up,p", "step(-1)", "Previous story"),
        Binding("y", "copy_link", "Copy link"),
    ]
    DEFAULT_CSS = """
    NewsDetailScreen { align: center middle; }
    NewsDetailScreen > VerticalScroll { width: 90; max-width: 100%; height: auto;
        max-height: 90%; border: round $primary; background: $surface; padding: 0 1; }
    NewsDetailScreen #keys { color: $text-muted; }
    """

    def __init__(self, items: list[NewsItem], index: int = 0) -> None:
        super().__init__()
        self.items = items
        self.index = max(0, min(index, len(items) - 1))

    @property
    def item(self) -> NewsItem:
        """The story shown."""
        return self.items[self.index]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self.body(), id="story")
            yield Static(self.position(), id="keys")

    def position(self) -> Text:
        """Where this story is in the list, and the keys."""
        return Text(
            f"story {self.index + 1} of {len(self.items)} · j/k next/previous · "
            "y copies the link · Esc closes"
        )

    def body(self) -> Text:
        """The story as text (never markup: every string here came from a feed)."""
        item = self.item
        body = Text()
        body.append(item.title + "\n", style="bold")
        body.append(
            f"{clock_text(item.published)} · {item.source} · "
            f"{', '.join(item.tickers) or 'no tickers'}\n\n"
        )
        if item.label:
            mark = SENTIMENT_MARKS.get(item.label, ("•", "flat"))[0]
            score = f" ({item.score:+.2f})" if item.score is not None else ""
            confidence = f", confidence {item.confidence:.0%}" if item.confidence else ""
            body.append(f"Sentiment: {mark} {item.label}{score}{confidence}\n")
        if item.summary and item.summary != item.title:
            body.append(f"\n{item.summary}\n")
        if item.factors:
            body.append("\nKey factors:\n")
            for factor in item.factors:
                body.append(f"  • {factor}\n")
        if item.price_text or item.price is not None:
            body.append(f"\nPrice at publication: {item.price_text or price_text(item.price)}\n")
        if item.link:
            body.append("\nLink: ")
            web = item.link.startswith(("https://", "http://"))
            body.append(item.link, Style(underline=True, link=item.link if web else None))
            body.append("\n")
        return body

    def action_step(self, step: int) -> None:
        target = self.index + step
        if 0 <= target < len(self.items):
            self.index = target
            self.query_one("#story", Static).update(self.body())
            self.query_one("#keys", Static).update(self.position())

    def action_copy_link(self) -> None:
        if self.item.link:
            self.app.copy_to_clipboard(self.item.link)
            self.notify("Link copied (OSC 52: the terminal must allow clipboard writes)")
        else:
            self.notify("This story has no link")


class AddSymbolScreen(ModalScreen[str | None]):
    """Type to search symbols (debounced, cached REST search); Enter adds."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]
    AUTO_FOCUS = "#query"
    DEFAULT_CSS = """
    AddSymbolScreen { align: center middle; }
    AddSymbolScreen > Vertical { width: 70; max-width: 100%; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1; }
    AddSymbolScreen OptionList { height: auto; max-height: 12; }
    AddSymbolScreen #hint { color: $text-muted; }
    AddSymbolScreen #plan-warning { color: $warning; }
    """

    def __init__(
        self, search: Callable[[str], Awaitable[list[SymbolInfo]]], warning: str | None = None
    ) -> None:
        super().__init__()
        self.search = search
        self.warning = warning
        """Said before adding when the next symbol will not fit the plan."""
        self.timer: Timer | None = None
        self.results_for: str | None = None
        """The query the results shown answer (an older one's results are not picked)."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Add a symbol: type a name or EXCHANGE:SYMBOL", id="title")
            yield Input(placeholder="apple, NASDAQ:AAPL…", id="query")
            yield OptionList(id="results")
            yield Static("", id="hint")
            if self.warning:
                yield Static(Text(self.warning), id="plan-warning")

    def action_dismiss_none(self) -> None:
        self.dismiss(None)

    @on(Input.Changed, "#query")
    def _changed(self, event: Input.Changed) -> None:
        if self.timer is not None:
            self.timer.stop()
        query = event.value.strip()
        if query:
            self.timer = self.set_timer(SEARCH_DEBOUNCE_SECONDS, lambda: self._search(query))

    @work(exclusive=True, group="symbol-search", exit_on_error=False)
    async def _search(self, query: str) -> None:
        hint = self.query_one("#hint", Static)
        results = self.query_one("#results", OptionList)
        try:
            found = await self.search(query)
        except Exception as exc:  # shown to the user, never fatal
            hint.update(Text(f"search failed: {exc}"))
            return
        results.set_options(
            Option(Text(f"{s.code:<22} {s.description or s.name or ''}"), id=s.code)
            for s in found[:30]
        )
        self.results_for = query
        hint.update(
            Text(
                f"{len(found)} found · ↓ to choose, Enter to add"
                if found
                else "nothing found; type EXCHANGE:SYMBOL and press Enter"
            )
        )

    @on(Input.Submitted, "#query")
    def _submitted(self, event: Input.Submitted) -> None:
        results = self.query_one("#results", OptionList)
        code = event.value.strip().upper()
        fresh = self.results_for == event.value.strip()  # typed on since: not its results
        if results.option_count and fresh and ":" not in code:
            option = results.get_option_at_index(results.highlighted or 0)
            self.dismiss(option.id)
            return
        try:
            validate_symbol_code(code)
        except SubscriptionRuleError as exc:
            self.query_one("#hint", Static).update(Text(exc.problem))
            return
        self.dismiss(code)

    @on(OptionList.OptionSelected, "#results")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
