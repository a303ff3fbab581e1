"""CSV in and out: importing lots (all or nothing), and writing tables safely.

Import columns (a header row names them, in any order; case does not matter):

=========== ======== ===================================================
column      required meaning
=========== ======== ===================================================
symbol      yes      EXCHANGE:SYMBOL, e.g. NASDAQ:AAPL
quantity    yes      positive buys, negative sells or shorts (decimal)
price       yes      per unit, in the quote currency (decimal, > 0)
date        yes      YYYY-MM-DD
fees        no       commissions for the trade (decimal, >= 0; default 0)
portfolio   no       which portfolio (default: the one named on import)
=========== ======== ===================================================

Every row is checked before anything is kept: one bad row (named by line and column), an
unknown symbol or a duplicate lot refuses the whole file.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal, InvalidOperation

import msgspec

from tui.portfolio.model import Lot, Portfolio, PortfolioFile

COLUMNS = ("symbol", "quantity", "price", "date", "fees", "portfolio")
REQUIRED = ("symbol", "quantity", "price", "date")
MAX_ERRORS = 10
"""Problems listed before the message says how many more there were."""


class PortfolioImportError(Exception):
    """The file was refused; ``problems`` lists each with its line and column."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:MAX_ERRORS]
        more = len(problems) - len(shown)
        text = "\n".join(shown) + (f"\n… and {more} more" if more else "")
        super().__init__(f"nothing imported:\n{text}")


def _decimal(text: str) -> Decimal:
    value = Decimal(text.strip())
    if not value.is_finite():
        raise InvalidOperation
    return value


def import_lots(
    text: str,
    book: PortfolioFile,
    default_portfolio: str,
    *,
    known: Callable[[list[str]], set[str]] | None = None,
) -> tuple[PortfolioFile, int]:
    """``book`` with the CSV's lots added, and how many; :class:`PortfolioImportError` otherwise.

    ``known(symbols)`` returns the symbols among them the data source does not know (the
    CLI asks the REST quotes endpoint); without it only the code's shape is checked.
    """
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise PortfolioImportError(["line 1: the file is empty (a header row is needed)"]) from None
    names = [h.strip().lower() for h in header]
    problems = [
        f"line 1, column {i + 1}: unknown column {h!r} (columns: {', '.join(COLUMNS)})"
        for i, h in enumerate(names)
        if h not in COLUMNS
    ]
    problems += [f"line 1: the column {r!r} is missing" for r in REQUIRED if r not in names]
    if problems:
        raise PortfolioImportError(problems)
    index = {name: i for i, name in enumerate(names)}
    rows: list[tuple[int, str, Lot]] = []
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        lot, portfolio = _row(number, cells, index, default_portfolio, problems)
        if lot is not None:
            rows.append((number, portfolio, lot))
    if known is not None and rows:
        unknown = known(sorted({lot.symbol for _, _, lot in rows}))
        for number, _, lot in rows:
            if lot.symbol in unknown:
                column = index["symbol"] + 1
                problems.append(
                    f"line {number}, column {column} (symbol): {lot.symbol} is not a known symbol"
                )
    problems += _duplicates(rows, book)
    if problems:
        raise PortfolioImportError(problems)
    portfolios = {p.name: list(p.lots) for p in book.portfolios}
    for _, name, lot in rows:
        portfolios.setdefault(name, []).append(lot)
    merged = [Portfolio(name=name, lots=lots) for name, lots in portfolios.items()]
    return msgspec.structs.replace(book, portfolios=merged), len(rows)


def _row(
    number: int,
    cells: Sequence[str],
    index: dict[str, int],
    default_portfolio: str,
    problems: list[str],
) -> tuple[Lot | None, str]:
    def cell(name: str) -> str:
        at = index.get(name)
        return cells[at].strip() if at is not None and at < len(cells) else ""

    def bad(name: str, what: str) -> None:
        problems.append(f"line {number}, column {index[name] + 1} ({name}): {what}")

    before = len(problems)
    values: dict[str, object] = {"symbol": cell("symbol")}
    for name in ("quantity", "price", "fees"):
        raw = cell(name)
        if name == "fees" and not raw:
            continue
        try:
            values[name] = _decimal(raw)
        except (InvalidOperation, ValueError):
            bad(name, f"{raw!r} is not a number")
    try:
        values["date"] = dt.date.fromisoformat(cell("date"))
    except ValueError:
        bad("date", f"{cell('date')!r} is not a date (YYYY-MM-DD)")
    if len(problems) > before:
        return None, ""
    try:
        lot = Lot(**values)  # type: ignore[arg-type]
    except (ValueError, TypeError) as exc:
        field, _, what = str(exc).partition(": ")
        if field in index:
            bad(field, what)
        else:
            problems.append(f"line {number}: {exc}")
        return None, ""
    return lot, cell("portfolio") or default_portfolio


def _duplicates(rows: list[tuple[int, str, Lot]], book: PortfolioFile) -> list[str]:
    """A lot the same in every field as one already held, or as an earlier row."""
    problems = []
    held = {_key(p.name, lot) for p in book.portfolios for lot in p.lots}
    seen: dict[tuple[object, ...], int] = {}
    for number, name, lot in rows:
        key = _key(name, lot)
        if key in held:
            problems.append(f"line {number}: the same lot is already in portfolio {name!r}")
        elif key in seen:
            problems.append(f"line {number}: the same lot as line {seen[key]}")
        else:
            seen[key] = number
    return problems


def _key(portfolio: str, lot: Lot) -> tuple[object, ...]:
    return (portfolio, lot.symbol, lot.quantity, lot.price, lot.date, lot.fees)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: a leading ``=``, ``+``, ``-``, ``@`` (a formula)
    gets a ``'`` in front unless the cell is a plain number."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START):
        try:
            Decimal(text)
        except InvalidOperation:
            return "'" + text
    return text


def write_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A CSV table with every cell made safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(c) for c in row])
    return out.getvalue()
