"""Modal screens: help, news detail, add-symbol search."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

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

from tui.engine.store import NewsItem
from tui.protocol.rest import SymbolInfo
from tui.protocol.rules import SubscriptionRuleError, validate_symbol_code
from tui.ui.render import clock_text, price_text

SEARCH_DEBOUNCE_SECONDS = 0.3
"""Typing pause before a REST symbol search is sent."""


class HelpScreen(ModalScreen[None]):
    """Every key binding, generated from the app's bindings."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 64; max-width: 100%; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1; }
    """

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        for keys, description in self.rows:
            table.add_row(Text(keys), Text(description))
        with VerticalScroll():
            yield Static(Text("marketpane keys", style="bold"))
            yield Static(table)
            yield Static(Text("Esc closes · Ctrl+P opens the command palette", style="dim"))


class NewsDetailScreen(ModalScreen[None]):
    """Summary, key factors, link and price at publication of one news item."""

    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close")]
    DEFAULT_CSS = """
    NewsDetailScreen { align: center middle; }
    NewsDetailScreen > VerticalScroll { width: 90; max-width: 100%; height: auto;
        max-height: 90%; border: round $primary; background: $surface; padding: 0 1; }
    """

    def __init__(self, item: NewsItem) -> None:
        super().__init__()
        self.item = item

    def compose(self) -> ComposeResult:
        item = self.item
        body = Text()
        body.append(item.title + "\n", style="bold")
        body.append(
            f"{clock_text(item.published)} · {item.source} · "
            f"{', '.join(item.tickers) or 'no tickers'}\n\n"
        )
        if item.label:
            score = f" ({item.score:+.2f})" if item.score is not None else ""
            confidence = f", confidence {item.confidence:.0%}" if item.confidence else ""
            body.append(f"Sentiment: {item.label}{score}{confidence}\n")
        if item.summary:
            body.append(f"\n{item.summary}\n")
        if item.factors:
            body.append("\nKey factors:\n")
            for factor in item.factors:
                body.append(f"  • {factor}\n")
        if item.price_text or item.price is not None:
            body.append(f"\nPrice at publication: {item.price_text or price_text(item.price)}\n")
        if item.link:
            body.append(f"\n{item.link}\n", style="underline")
        with VerticalScroll():
            yield Static(body)


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
        if results.option_count and ":" not in code:
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
