"""Screens for positions: the lot form (``+``), the symbol detail view (``v``) and the CSV
export (``E``). They read the app's mirror and send session commands; nothing here computes
P&L (that is :mod:`tui.portfolio.pnl`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from tui.engine.store import MarketStore
from tui.engine.stories import NewsItem
from tui.portfolio.model import Lot, PortfolioFile
from tui.portfolio.pnl import Figures
from tui.protocol.text import clean_text
from tui.session.values import Command, RemoveLot
from tui.ui.positions import HIDDEN, money, percent, quantity
from tui.ui.prices import instrument_decimals, price_text
from tui.ui.render import compact_number, sparkline
from tui.ui.timetext import quote_age_text

FORM_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 72; max-width: 100%; height: auto; max-height: 95%;
    border: round $primary; background: $surface; padding: 0 1; }}
{name} .label {{ color: $text-muted; }}
{name} Input {{ border: none; height: 1; padding: 0 1; background: $boost; }}
{name} Input:focus {{ border: none; background: $primary 30%; }}
{name} #error {{ color: $error; height: auto; }}
"""


def lot_from_form(values: dict[str, str]) -> Lot:
    """The lot a form describes; ValueError in words naming the field."""
    numbers: dict[str, Decimal] = {}
    for name in ("quantity", "price", "fees"):
        raw = values.get(name, "").strip().replace(",", "") or ("0" if name == "fees" else "")
        try:
            numbers[name] = Decimal(raw)
        except InvalidOperation:
            raise ValueError(f"{name}: {raw!r} is not a number") from None
    try:
        day = dt.date.fromisoformat(values.get("date", "").strip())
    except ValueError:
        raise ValueError(f"date: {values.get('date', '')!r} is not a date (YYYY-MM-DD)") from None
    return Lot(
        symbol=values.get("symbol", "").strip().upper(),
        quantity=numbers["quantity"],
        price=numbers["price"],
        date=day,
        fees=numbers["fees"],
    )


class LotFormScreen(ModalScreen[tuple[str, Lot] | None]):
    """Add or edit one lot: portfolio, symbol, quantity (negative sells), price, date, fees."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    AUTO_FOCUS = "#quantity"
    DEFAULT_CSS = FORM_CSS.format(name="LotFormScreen")

    def __init__(self, portfolio: str, lot: Lot | None, symbol: str, price: str) -> None:
        super().__init__()
        self.portfolio, self.lot = portfolio, lot
        self.defaults = {
            "portfolio": portfolio,
            "symbol": lot.symbol if lot else symbol,
            "quantity": str(lot.quantity) if lot else "",
            "price": str(lot.price) if lot else price,
            "date": (lot.date if lot else dt.date.today()).isoformat(),
            "fees": str(lot.fees) if lot else "0",
        }

    def compose(self) -> ComposeResult:
        title = "Edit lot" if self.lot else "New lot"
        labels = {
            "portfolio": "Portfolio",
            "symbol": "Symbol",
            "quantity": "Quantity (negative sells, or opens a short)",
            "price": "Price per unit (quote currency)",
            "date": "Date (YYYY-MM-DD)",
            "fees": "Fees",
        }
        with Vertical():
            yield Static(Text(title, style="bold"))
            for name, label in labels.items():
                yield Static(label, classes="label")
                yield Input(self.defaults[name], id=name, select_on_focus=False)
            yield Static("", id="error")
            yield Static("Enter saves · Esc cancels", classes="label")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        values = {i.id or "": i.value for i in self.query(Input)}
        name = values.get("portfolio", "").strip()
        try:
            if not name:
                raise ValueError("portfolio: a portfolio needs a name")
            lot = lot_from_form(values)
        except (ValueError, TypeError) as exc:
            self.query_one("#error", Static).update(Text(clean_text(str(exc))))
            return
        self.dismiss((name, lot))

    def action_cancel(self) -> None:
        self.dismiss(None)


def quote_table(code: str, values: dict[str, object], updated_at: float, now: float) -> Table:
    """Every field of a quote, labelled (the detail view's left half)."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(justify="right")

    def number(name: str) -> float | None:
        value = values.get(name)
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None

    def size(name: str) -> str:
        value = number(name)
        return "" if value is None else f" x {compact_number(value)}"

    lp_time = number("lp_time")
    places = instrument_decimals(number(n) for n in ("last_price", "bid", "ask"))

    def price(name: str) -> str:
        return price_text(number(name), places)

    rows = [
        ("Last", price("last_price")),
        ("Change", f"{signed_text(number('change'))}  {percent_text(number('change_percent'))}"),
        ("Open", price("open_price")),
        ("High", price("high_price")),
        ("Low", price("low_price")),
        ("Prev close", price("prev_close_price")),
        ("Bid", price("bid") + size("bid_size")),
        ("Ask", price("ask") + size("ask_size")),
        ("Volume", compact_number(number("volume"))),
        ("Market cap", compact_number(number("market_cap"))),
        ("Currency", clean_text(str(values.get("currency_code") or "—"))),
        ("Session", clean_text(str(values.get("status") or "—"))),
        ("Delay", delay_words(number("delay_seconds"))),
        (
            "Last trade",
            dt.datetime.fromtimestamp(lp_time).strftime("%Y-%m-%d %H:%M:%S") if lp_time else "—",
        ),
        ("Updated", quote_age_text(now - updated_at) + " ago" if updated_at else "—"),
    ]
    for label, value in rows:
        table.add_row(label, value)
    return table


def signed_text(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:+,.2f}" if abs(value) >= 0.01 or value == 0 else f"{value:+.6f}"


def percent_text(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2f}%"


def delay_words(value: float | None) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "real time"
    if value < 0:
        return "end of day"
    return f"{value / 60:g} min"


def position_table(figures: Figures | None, *, private: bool) -> Table | Text:
    """The position and its P&L (the detail view's right half)."""
    if figures is None:
        return Text("No position: + adds a lot.", style="dim")
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(justify="right")
    position = figures.position

    def amount(text: str) -> str:
        return HIDDEN if private else text

    rows = [
        ("Quantity", amount(quantity(position.quantity))),
        ("Average cost", amount(money(position.average_cost))),
        ("Market value", amount(money(figures.market_value))),
        ("Day P&L", amount(money(figures.day_pnl, sign=True))),
        ("Total P&L", amount(money(figures.total_pnl, sign=True))),
        ("Total P&L %", percent(figures.total_percent)),
        ("Realised", amount(money(position.realized, sign=True))),
        ("Fees paid", amount(money(position.fees))),
    ]
    for label, value in rows:
        table.add_row(label, value)
    return table


def news_text(items: list[NewsItem], code: str, limit: int = 6) -> Text:
    """The symbol's latest stories with their sentiment."""
    ticker = code.split(":", 1)[-1]
    mine = [i for i in reversed(items) if ticker in i.tickers or code in i.tickers][:limit]
    text = Text()
    if not mine:
        text.append("No news for this symbol yet.", style="dim")
    for item in mine:
        when = dt.datetime.fromtimestamp(item.published).strftime("%H:%M")
        sentiment = (
            f" {item.label} {item.score:+.2f}" if item.score is not None and item.label else ""
        )
        text.append(f"{when}{sentiment}  ", style="bold")
        text.append(clean_text(item.title) + "\n")
    return text


class SymbolDetailScreen(ModalScreen[None]):
    """Everything about one symbol: quote fields, position and lots, a trend, its news."""

    BINDINGS = [
        Binding("escape,q,v", "close", "Close"),
        Binding("plus", "add_lot", "Add lot"),
        Binding("e", "edit_lot", "Edit lot"),
        Binding("x", "remove_lot", "Remove lot"),
    ]
    DEFAULT_CSS = """
    SymbolDetailScreen { align: center middle; }
    SymbolDetailScreen > VerticalScroll { width: 100%; max-width: 120; height: 100%;
        max-height: 40; border: round $primary; background: $surface; padding: 0 1; }
    SymbolDetailScreen #lots { height: auto; max-height: 8; }
    SymbolDetailScreen .label { color: $text-muted; }
    """

    def __init__(
        self,
        code: str,
        source: Callable[[], tuple[MarketStore, dict[str, Figures], PortfolioFile, bool, float]],
        send: Callable[[Command], None],
        edit_lot: Callable[[str, Lot | None, int | None], None],
    ) -> None:
        super().__init__()
        self.code = code
        self.source = source
        self.send = send
        self.edit_lot = edit_lot
        self.lot_index: list[tuple[str, int]] = []

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="quote")
            yield Static(id="trend")
            yield Static(Text("Lots", style="bold"))
            yield DataTable(id="lots", cursor_type="row")
            yield Static(id="news")
            yield Static(
                "+ add lot · e edit · x remove · Esc close · the main chart shows this symbol",
                classes="label",
            )

    def on_mount(self) -> None:
        self.query_one("#lots", DataTable).add_columns(
            "Portfolio", "Date", "Quantity", "Price", "Fees"
        )
        self.refresh_content()

    def refresh_content(self) -> None:
        """Redraw from the app's mirror (called on every batch while open)."""
        store, figures, book, private, now = self.source()
        row = store.quotes.get(self.code)
        values = row.values if row is not None else {}
        grid = Table.grid(padding=(0, 4))
        grid.add_row(
            quote_table(self.code, values, row.updated_at if row else 0.0, now),
            position_table(figures.get(self.code), private=private),
        )
        title = Text(clean_text(self.code), style="bold")
        holder = Table.grid()
        holder.add_row(title)
        holder.add_row(grid)
        self.drawn_quote = holder
        """The quote and position tables as last drawn (tests print them)."""
        self.query_one("#quote", Static).update(holder)
        series = store.series.get(self.code)
        trend = Text()
        closes: list[float] = []
        if series is not None:
            closes = [b.close for b in series.bars.tail(80) if b.close is not None]
        if closes:
            trend.append(f"Last {len(closes)} bars  ", style="bold")
            trend.append(sparkline(closes, min(80, max(10, len(closes)))))
            trend.append(f"  low {price_text(min(closes))}  high {price_text(max(closes))}")
        else:
            trend.append("Chart: waiting for this symbol's bars", style="dim")
        self.query_one("#trend", Static).update(trend)
        table = self.query_one("#lots", DataTable)
        cursor = table.cursor_row
        table.clear()
        self.lot_index = []
        for portfolio in book.portfolios:
            for index, lot in enumerate(portfolio.lots):
                if lot.symbol != self.code:
                    continue
                self.lot_index.append((portfolio.name, index))
                hide = HIDDEN if private else None
                table.add_row(
                    clean_text(portfolio.name),
                    lot.date.isoformat(),
                    hide or quantity(lot.quantity),
                    hide or str(lot.price),
                    hide or str(lot.fees),
                )
        if self.lot_index:
            table.move_cursor(row=min(cursor, len(self.lot_index) - 1))
        news = Text("News\n", style="bold")
        news.append_text(news_text(list(store.news), self.code))
        self.query_one("#news", Static).update(news)

    def _selected(self) -> tuple[str, int] | None:
        table = self.query_one("#lots", DataTable)
        if not self.lot_index or table.cursor_row >= len(self.lot_index):
            return None
        return self.lot_index[table.cursor_row]

    def action_add_lot(self) -> None:
        self.edit_lot(self.code, None, None)

    def action_edit_lot(self) -> None:
        chosen = self._selected()
        if chosen is None:
            self.notify("No lot to edit: + adds one")
            return
        name, index = chosen
        book = self.source()[2]
        portfolio = book.portfolio(name)
        if portfolio is not None:
            self.edit_lot(name, portfolio.lots[index], index)

    def action_remove_lot(self) -> None:
        chosen = self._selected()
        if chosen is not None:
            self.send(RemoveLot(chosen[0], chosen[1]))

    def action_close(self) -> None:
        self.dismiss(None)


class ExportScreen(ModalScreen[Path | None]):
    """Ask where to write the grid as CSV (an existing folder; an existing file is replaced)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    AUTO_FOCUS = "#path"
    DEFAULT_CSS = FORM_CSS.format(name="ExportScreen")

    def __init__(self, default: Path) -> None:
        super().__init__()
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Export the grid as CSV", style="bold"))
            yield Static("File (the folder must exist)", classes="label")
            yield Input(str(self.default), id="path", select_on_focus=False)
            yield Static("", id="error")
            yield Static("Enter writes · Esc cancels", classes="label")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        path = Path(event.value.strip()).expanduser()
        if not event.value.strip():
            self.query_one("#error", Static).update("Name a file")
            return
        if not path.parent.is_dir():
            self.query_one("#error", Static).update(
                Text(clean_text(f"No folder {path.parent}: create it first"))
            )
            return
        if path.is_dir():
            self.query_one("#error", Static).update(Text("That is a folder: name a file in it"))
            return
        self.dismiss(path)

    def action_cancel(self) -> None:
        self.dismiss(None)
