"""Hostile input: nothing from a feed, a REST answer or a file reaches the terminal raw, is run
as markup, or breaks a column; absurd numbers never pass for real ones."""

from __future__ import annotations

import io
import re
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console
from rich.text import Text
from textual.pilot import Pilot

from tests.hostile import HOSTILE, MARKUP_CLICK, WIDE, run_hostile
from tests.uihelp import engine_of
from tui.cli.launch import build_app, demo_keys, demo_runtime_config
from tui.config import Config, load_config
from tui.engine.engine import EngineSettings
from tui.engine.status import FeedState, FeedStatus, latency_words
from tui.engine.store import MarketStore
from tui.engine.stories import news_from_newsfeed, news_from_stocknews
from tui.protocol.live import QUOTE_TEXT_FIELDS, Quote, QuoteUpdate, dispatch_live
from tui.protocol.newsfeed import NewsfeedItems, dispatch_newsfeed
from tui.protocol.stocknews import News, StockNewsData, dispatch_stocknews
from tui.protocol.text import clean_text, clean_value
from tui.session.session import SessionOptions
from tui.ui.app import MarketpaneApp
from tui.ui.grid import QuoteGrid
from tui.ui.panels import StatusBar, fit_words, news_line
from tui.ui.prices import price_text
from tui.ui.render import Palette, fit_cells

SGR = re.compile(r"\x1b\[[0-9;]*m")
"""Colour and style sequences: the only escapes a rendered line may contain."""
OWN_SEQUENCES = re.compile(r"\x1b\[[0-9;:]*[mHKJ]")
"""What Textual itself writes for a full screen: SGR, cursor moves and erases."""


def _printable(value: str) -> bool:
    """Every character shows as itself (private-use icons allowed)."""
    return all(c.isprintable() or unicodedata.category(c) == "Co" for c in value)


def _strings(value: object) -> list[str]:
    """Every string inside a decoded model."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, msgspec.Struct):
        return [s for name in value.__struct_fields__ for s in _strings(getattr(value, name))]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    return []


def _ansi(renderable: Text, width: int) -> str:
    """What a colour terminal would receive for ``renderable``."""
    buffer = io.StringIO()
    Console(file=buffer, width=width, force_terminal=True, color_system="truecolor").print(
        renderable, end=""
    )
    return buffer.getvalue()


# ---- the cleaning boundary -------------------------------------------------------------------


def test_clean_text_makes_controls_visible_and_keeps_text() -> None:
    """ESC shows as ␛, C1 as �, bidi and zero-width vanish, words stay apart."""
    assert clean_text("a\x1b[2Jb") == "a␛[2Jb"
    assert clean_text("x\x9b2Jy") == "x\ufffd2Jy"
    assert clean_text("one\ntwo\tthree\r") == "one two three "
    assert clean_text("\u202eevil\u200b") == "evil"
    assert clean_text("bell\x07del\x7f") == "bell␇del␡"
    plain = f"Toyota {WIDE} [b]not bold[/b]"
    assert clean_text(plain) is plain  # printable text is passed through without a copy


def test_every_field_of_every_feed_is_cleaned() -> None:
    """Once, where the frame becomes a model, for all fields of all three feeds."""
    live_error = dispatch_live(msgspec.json.encode({"error": "x", "message": HOSTILE}))
    quote = dispatch_live(
        msgspec.json.encode(
            {"data": [{"code": "A:B", "status": HOSTILE, "currency_code": HOSTILE}]}
        )
    )
    code = dispatch_live(msgspec.json.encode({"data": [{"code": HOSTILE, "last_price": 1.0}]}))
    news = dispatch_newsfeed(
        msgspec.json.encode({"title": HOSTILE, "published_at": 1.0, "source": HOSTILE})
    )
    story = dispatch_stocknews(
        msgspec.json.encode(
            {
                "type": "news",
                "data": {
                    "summary": HOSTILE,
                    "keyFactors": [HOSTILE],
                    "sentimentLabel": HOSTILE,
                    "priceFormatted": HOSTILE,
                    "articleUrl": HOSTILE,
                    "channel": HOSTILE,
                },
            }
        ).decode()
    )
    assert isinstance(quote, QuoteUpdate) and isinstance(code, QuoteUpdate)
    assert isinstance(news, NewsfeedItems) and isinstance(story, News)
    for event in (live_error, quote, code, news, story):
        strings = _strings(event)
        assert any("CLICKME" in s for s in strings)
        assert all(_printable(s) for s in strings), strings


@pytest.mark.parametrize("name", QUOTE_TEXT_FIELDS)
def test_each_text_field_of_a_quote_is_cleaned_alone(name: str) -> None:
    """The quote frame's fast path checks its text fields itself: hostile text in any one of
    them (and nothing else odd in the frame) is still cleaned."""
    fields = {"code": "A:B", "last_price": 1.0, name: HOSTILE}
    event = dispatch_live(msgspec.json.encode({"data": [fields]}))
    assert isinstance(event, QuoteUpdate)
    text = getattr(event.data[0], name)
    assert "CLICKME" in text and _printable(text), text


def test_clean_value_fixes_frozen_structs_and_dict_keys() -> None:
    """The walk reaches frozen structs, lists and dict keys."""
    event = clean_value(News(data=StockNewsData(summary="a\x1bb"), timestamp="t\x1b"))
    assert event.data.summary == "a␛b" and event.timestamp == "t␛"
    assert clean_value({"k\x1b": ["v\x07"]}) == {"k␛": ["v␇"]}


FEED_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
"""Any string a server could put in a JSON field."""


@settings(max_examples=150, deadline=None)
@given(text=FEED_TEXT)
def test_any_feed_string_renders_without_controls_or_markup(text: str) -> None:
    """Any string in any feed field, rendered by the news line, the status
    bar and the grid, yields no control character in the terminal output (only colour SGR), is
    never interpreted as markup, and never exceeds its width in cells."""
    palette = Palette.from_variables({"mp-up": "#00ff00", "mp-down": "#ff0000"})
    newsfeed = dispatch_newsfeed(
        msgspec.json.encode(
            {"title": text, "published_at": 1e9, "source": text, "related_symbols": [text]}
        )
    )
    stocknews = dispatch_stocknews(
        msgspec.json.encode(
            {"type": "news", "data": {"summary": text, "sentimentLabel": text, "channel": text}}
        )
    )
    assert isinstance(newsfeed, NewsfeedItems) and isinstance(stocknews, News)
    items = [
        news_from_newsfeed(newsfeed.items[0]),
        news_from_stocknews(stocknews.data, None),
    ]
    for width in (40, 100):
        for item in items:
            line = news_line(item, palette, width)
            assert line.cell_len <= width
            out = SGR.sub("", _ansi(line, width))
            assert _printable(out), repr(out)
            assert clean_text(text)[:3] in line.plain or not clean_text(text).strip()
    error = dispatch_live(msgspec.json.encode({"error": "e", "message": text}))
    status = FeedStatus("live", FeedState.STOPPED, detail=_strings(error)[1])
    bar = StatusBar.status_line([status], [], palette, 0.0, 3)
    assert _printable(SGR.sub("", _ansi(bar, 200)))
    quote = dispatch_live(msgspec.json.encode({"data": [{"code": "A:B", "status": text}]}))
    assert isinstance(quote, QuoteUpdate)
    store = MarketStore()
    store.apply_quote(quote.data[0], None, 1.0)
    grid = QuoteGrid()
    grid.set_layout(100, compact=False)
    for column in grid.columns_shown:
        cell, _ = grid._cell(column, "A:B", store.quotes["A:B"], 1.0)
        assert cell_len(cell) == column.width and _printable(cell)


# ---- widths and numbers ----------------------------------------------------------------------


def test_wide_characters_are_measured_in_cells() -> None:
    """CJK and emoji take two cells; cuts and padding count cells, not chars."""
    assert cell_len(fit_cells(WIDE, 7)) == 7
    assert cell_len(fit_cells("株式", 10, right=True)) == 10
    assert cell_len(fit_words(f"{WIDE} {WIDE} {WIDE}", 15)) <= 15


@pytest.mark.parametrize("value", [1e300, 123456789012345678901234567890.0, -4e16])
def test_absurd_numbers_never_look_like_real_ones(value: float) -> None:
    """A value that does not fit shows as overflow, never as a cut number."""
    store = MarketStore()
    store.apply_quote(
        Quote(code="A:B", last_price=value, volume=value, bid=value, ask=value), None, 1.0
    )
    grid = QuoteGrid()
    grid.set_layout(160, compact=False)
    for column in grid.columns_shown:
        if column.key in ("last", "bid", "ask", "volume"):
            cell, _ = grid._cell(column, "A:B", store.quotes["A:B"], 1.0)
            shown = cell.strip()
            assert set(shown) == {"#"} or "e+" in shown, (column.key, cell)
            assert "," not in shown
    assert price_text(1e300) == "1.00e+300"


def test_zero_price_with_no_change_clears_the_old_change() -> None:
    """A zero price with a null change must not keep showing a stale change."""
    store = MarketStore()
    store.apply_quote(Quote(code="A:B", last_price=10.0, change=1.0, change_percent=11.1), None, 1)
    store.apply_quote(Quote(code="A:B", last_price=0.0), None, 2)
    row = store.quotes["A:B"]
    assert row.get("change") is None and row.get("change_percent") is None
    store.apply_quote(Quote(code="A:B", last_price=12.0, prev_close_price=10.0), None, 3)
    assert row.get("change") == pytest.approx(2.0)
    assert row.get("change_percent") == pytest.approx(20.0)


def test_latency_words() -> None:
    """Skew and lag in words, short forms for narrow panes."""
    assert latency_words(-4997.0, short=False) == ("clock skew 5.0 s", True)
    assert latency_words(-4997.0, short=True) == ("skew 5s", True)
    assert latency_words(79042.0, short=False) == ("lag 79 s", True)
    assert latency_words(79042.0, short=True) == ("lag 79s", True)
    assert latency_words(23.4, short=True) == ("23ms", False)
    assert latency_words(-40.0, short=True) == ("0ms", False)


# ---- the real app against the hostile server -------------------------------------------------


def hostile_app(server: object) -> MarketpaneApp:
    """The app and engine pointed at a hostile server."""
    port = server.port  # type: ignore[attr-defined]
    urls = SimpleNamespace(
        live=f"ws://127.0.0.1:{port}/live",
        newsfeed=f"ws://127.0.0.1:{port}/newsfeed",
        stocknews=f"ws://127.0.0.1:{port}/ws",
        rest=f"http://127.0.0.1:{port}",
    )
    config = Config()
    return build_app(
        SessionOptions(
            config=config,
            keys=demo_keys(),
            runtime_config=demo_runtime_config(config, urls),
            engine_settings=EngineSettings(debounce=0.05),
            persist=False,
            symbols=["NASDAQ:AAPL", "NASDAQ:MSFT"],
        )
    )


async def _until(pilot: Pilot[int], predicate: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.05)


@pytest.mark.parametrize("size", [(80, 24), (40, 15), (160, 48)])
async def test_hostile_server_cannot_drive_the_app(size: tuple[int, int]) -> None:
    """End to end: markup in a server's error is shown, not run (the
    app does not quit, nothing crashes on ``[/]``), controls show as ␛, every screen line is
    exactly the terminal's width, and a server clock 5 s ahead reads as skew at every size."""
    async with run_hostile(heartbeat_offset_ms=5000.0) as server:
        app = hostile_app(server)
        async with app.run_test(size=size) as pilot:
            engine = engine_of(app)
            assert engine is not None
            live = engine.feeds[0].status
            await _until(pilot, lambda: len(app._notifications) >= 2)
            await _until(pilot, lambda: bool(app.store.news) and bool(app.store.quotes))
            await _until(pilot, lambda: live.latency_ms is not None)
            await pilot.pause(1.2)
            assert app.is_running and app.return_code is None
            texts = [n.message for n in app._notifications]
            assert any(MARKUP_CLICK in t for t in texts), texts
            assert all(not n.markup for n in app._notifications)
            update = app.screen._compositor.render_full_update()
            lines = [list(chunks) for chunks in update.strips]
            assert all(sum(c.cell_length for c in line) == size[0] for line in lines)
            plain = "\n".join("".join(c.text for c in line) for line in lines)
            assert "\x1b" not in plain and "\x9b" not in plain and "\u202e" not in plain
            raw = OWN_SEQUENCES.sub("", update.render_segments(app.console))
            assert "\x1b" not in raw  # only Textual's own sequences, none from the feed
            assert "skew" in plain, plain


def test_config_strings_are_cleaned(tmp_path: Path) -> None:
    """Text from a file is data too (a watchlist name is shown in toasts)."""
    path = tmp_path / "config.toml"
    name = '"evil\\u001b]0;PWNED\\u0007"'
    path.write_text(
        f"active_watchlist = {name}\n[[watchlists]]\nname = {name}\n"
        'symbols = [{ code = "NASDAQ:AAPL" }]\n'
    )
    config, _ = load_config(path)
    assert config.watchlists[0].name == "evil␛]0;PWNED␇"
