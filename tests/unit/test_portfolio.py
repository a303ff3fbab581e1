"""P&L by hand-computed cases, property tests of the totals, CSV import."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.portfolio.csvio import PortfolioImportError, import_lots, safe_cell, write_csv
from tui.portfolio.model import Lot, Portfolio, PortfolioFile, parse_portfolio
from tui.portfolio.pnl import figures_of, portfolio_figures, position_of

TODAY = dt.date(2026, 11, 23)
EARLIER = dt.date(2026, 11, 2)


def lot(
    qty: str, price: str, fees: str = "0", day: dt.date = EARLIER, sym: str = "NASDAQ:AAPL"
) -> Lot:
    return Lot(symbol=sym, quantity=D(qty), price=D(price), date=day, fees=D(fees))


def quote(last: float, close: float | None = None, ccy: str = "USD") -> dict[str, object]:
    return {"last_price": last, "prev_close_price": close, "currency_code": ccy}


def test_two_buys_average_cost_with_fees() -> None:
    pos = position_of("NASDAQ:AAPL", [lot("10", "100", "1"), lot("10", "110", "1")], TODAY)
    assert (pos.quantity, pos.cost, pos.average_cost) == (D(20), D(2102), D("105.1"))
    fig = figures_of(pos, quote(120.0))
    assert (fig.market_value, fig.unrealized, fig.total_pnl) == (D(2400), D(298), D(298))
    assert fig.total_percent == D(298) / D(2102) * 100


def test_partial_sell_realises_at_average_cost_less_its_fee() -> None:
    lots = [lot("10", "100", "1"), lot("10", "110", "1"), lot("-5", "130", "1")]
    pos = position_of("NASDAQ:AAPL", lots, TODAY)
    assert pos.realized == D("123.5")  # 5 x (130 - 105.1) - 1
    assert (pos.quantity, pos.cost) == (D(15), D("1576.5"))
    fig = figures_of(pos, quote(120.0))
    assert (fig.unrealized, fig.total_pnl) == (D("223.5"), D("347.0"))


def test_short_and_partial_cover() -> None:
    pos = position_of("NASDAQ:AAPL", [lot("-10", "50", "2")], TODAY)
    assert (pos.quantity, pos.cost, pos.average_cost) == (D(-10), D(-498), D("49.8"))
    assert figures_of(pos, quote(45.0)).unrealized == D(48)  # 10 x 5 less the fee
    pos = position_of("NASDAQ:AAPL", [lot("-10", "50", "2"), lot("4", "40", "1")], TODAY)
    assert pos.realized == D("38.2")  # 4 x (49.8 - 40) - 1
    assert (pos.quantity, pos.cost) == (D(-6), D("-298.8"))


def test_selling_past_zero_opens_a_short_with_the_rest_of_the_fee() -> None:
    pos = position_of("NASDAQ:AAPL", [lot("10", "100"), lot("-15", "110", "3")], TODAY)
    assert pos.realized == D(98)  # 10 x 10 less 2/3 of the fee
    assert (pos.quantity, pos.cost) == (D(-5), D(-549))


def test_day_pnl_counts_todays_trades_from_their_price() -> None:
    lots = [
        lot("10", "90"),
        lot("5", "102", "1", day=TODAY),
        lot("3", "1", day=TODAY + dt.timedelta(1)),
    ]
    pos = position_of("NASDAQ:AAPL", lots, TODAY)
    assert pos.quantity == D(15)  # the lot dated tomorrow is not held yet
    assert figures_of(pos, quote(105.0, 100.0)).day_pnl == D(64)  # 1575 - 1000 - 511
    sold = position_of("NASDAQ:AAPL", [lot("10", "90"), lot("-4", "104", day=TODAY)], TODAY)
    assert figures_of(sold, quote(105.0, 100.0)).day_pnl == D(46)  # 6 x 5 + 4 x 4


def _book() -> Portfolio:
    return Portfolio(
        name="main",
        lots=[lot("10", "100"), lot("1000", "140", sym="TSE:7203")],
    )


def test_two_currencies_with_and_without_an_fx_quote() -> None:
    quotes = {"NASDAQ:AAPL": quote(110.0, 100.0), "TSE:7203": quote(150.0, 150.0, "JPY")}
    rows, totals = portfolio_figures(_book(), quotes.get, TODAY, base_currency="USD")
    assert totals.by_currency["USD"]["market_value"] == D(1100)
    assert totals.by_currency["JPY"]["market_value"] == D(150000)
    assert totals.base is None and totals.missing == ["no FX quote for JPY to USD"]
    assert [r.weight for r in rows] == [D(1), D(1)]  # each the whole of its currency
    quotes["FX:USDJPY"] = quote(150.0, ccy="JPY")
    _, totals = portfolio_figures(_book(), quotes.get, TODAY, base_currency="USD")
    assert totals.base is not None
    assert totals.base["market_value"] == D(1100) + D(150000) / D(150)
    assert totals.base["total_pnl"] == D(100) + D(10000) / D(150)
    assert totals.missing == []


def test_a_symbol_with_no_quote_is_named_not_counted_as_zero() -> None:
    rows, totals = portfolio_figures(_book(), {"NASDAQ:AAPL": quote(110.0)}.get, TODAY)
    assert totals.missing == ["TSE:7203: no quote yet"]
    assert rows[1].market_value is None and "JPY" not in totals.by_currency


lots_strategy = st.lists(
    st.builds(
        lambda sym, q, p, f, d: lot(str(q), str(p), str(f), EARLIER + dt.timedelta(d), sym),
        st.sampled_from(["NASDAQ:AAPL", "NASDAQ:MSFT", "TSE:7203"]),
        st.integers(-500, 500).filter(bool),
        st.decimals("0.01", "5000", places=2),
        st.decimals("0", "20", places=2),
        st.integers(0, 25),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(lots_strategy, st.floats(1, 1000), st.floats(1, 1000))
def test_totals_are_the_sum_of_the_rows(lots: list[Lot], usd: float, jpy: float) -> None:
    quotes = {
        "NASDAQ:AAPL": quote(usd, usd * 0.99),
        "NASDAQ:MSFT": quote(usd * 2, usd * 2.02),
        "TSE:7203": quote(jpy, jpy, "JPY"),
    }
    rows, totals = portfolio_figures(Portfolio(name="p", lots=lots), quotes.get, TODAY)
    for ccy, sums in totals.by_currency.items():
        mine = [r for r in rows if r.currency == ccy]
        assert sums["market_value"] == sum(
            (r.market_value for r in mine if r.market_value is not None), D(0)
        )
        assert sums["total_pnl"] == sum(
            (r.total_pnl for r in mine if r.total_pnl is not None), D(0)
        )
        assert sums["day_pnl"] == sum((r.day_pnl for r in mine if r.day_pnl is not None), D(0))
        weights = [r.weight for r in mine if r.weight is not None]
        if weights:
            assert abs(sum(weights, D(0)) - 1) < D("1e-20")
    for row in rows:  # closing never changes the open quantity's sign without a flip
        pos = row.position
        assert pos.quantity == sum(
            (x.quantity for x in lots if x.symbol == pos.symbol and x.date <= TODAY), D(0)
        )


GOOD_CSV = """symbol,quantity,price,date,fees
NASDAQ:AAPL,10,187.25,2026-03-02,1.00
NASDAQ:AAPL,-4,201.10,2026-06-10,
TSE:7203,100,2850,2026-04-01,0
"""


def test_import_good_file() -> None:
    book, count = import_lots(GOOD_CSV, PortfolioFile(), "main")
    assert count == 3
    (main,) = book.portfolios
    assert main.lots[0] == lot("10", "187.25", "1.00", dt.date(2026, 3, 2))
    assert main.lots[1].fees == D(0)


def test_import_bad_row_names_line_and_column_and_imports_nothing() -> None:
    text = GOOD_CSV + "NASDAQ:MSFT,ten,400,2026-05-01,0\nNASDAQ:MSFT,1,400,2026-13-01,0\n"
    with pytest.raises(PortfolioImportError) as caught:
        import_lots(text, PortfolioFile(), "main")
    assert caught.value.problems == [
        "line 5, column 2 (quantity): 'ten' is not a number",
        "line 6, column 4 (date): '2026-13-01' is not a date (YYYY-MM-DD)",
    ]
    assert str(caught.value).startswith("nothing imported")
    text = "symbol,quantity,price,date\nNASDAQ:MSFT,1,-3,2026-05-01\naapl,1,3,2026-05-01\n"
    with pytest.raises(PortfolioImportError) as caught:
        import_lots(text, PortfolioFile(), "main")
    assert caught.value.problems[0] == "line 2, column 3 (price): must be a number above 0"
    assert caught.value.problems[1].startswith("line 3, column 1 (symbol): 'aapl' is not")


def test_import_unknown_symbol_and_duplicates() -> None:
    with pytest.raises(PortfolioImportError) as caught:
        import_lots(GOOD_CSV, PortfolioFile(), "main", known=lambda codes: {"TSE:7203"})
    assert caught.value.problems == ["line 4, column 1 (symbol): TSE:7203 is not a known symbol"]
    book, _ = import_lots(GOOD_CSV, PortfolioFile(), "main")
    with pytest.raises(PortfolioImportError) as caught:
        import_lots(GOOD_CSV.splitlines()[0] + "\n" + GOOD_CSV.splitlines()[1] + "\n", book, "main")
    assert caught.value.problems == ["line 2: the same lot is already in portfolio 'main'"]
    twice = GOOD_CSV + GOOD_CSV.splitlines()[3] + "\n"
    with pytest.raises(PortfolioImportError) as caught:
        import_lots(twice, PortfolioFile(), "main")
    assert caught.value.problems == ["line 5: the same lot as line 4"]
    with pytest.raises(PortfolioImportError, match="unknown column 'qty'"):
        import_lots("symbol,qty,price,date\n", PortfolioFile(), "main")


def test_portfolio_file_errors_name_the_lot_line(tmp_path: object) -> None:
    from pathlib import Path

    text = (
        '[[portfolios]]\nname = "main"\n\n'
        '[[portfolios.lots]]\nsymbol = "NASDAQ:AAPL"\nquantity = "1"\nprice = "1"\n'
        "date = 2026-01-02\n\n"
        '[[portfolios.lots]]\nsymbol = "NASDAQ:AAPL"\nquantity = "0"\nprice = "1"\n'
        "date = 2026-01-02\n"
    )
    with pytest.raises(Exception, match=r"p.toml:10: portfolios\[0\].lots\[1\]: quantity"):
        parse_portfolio(text, Path("p.toml"))


def test_csv_cells_are_never_formulas() -> None:
    assert safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert safe_cell("-12.5") == "-12.5" and safe_cell("@x") == "'@x"
    assert write_csv(["a"], [["+cmd"]]) == "a\n'+cmd\n"
