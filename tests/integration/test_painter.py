"""The dashboard writes only the cells that changed, with only the style codes the terminal
needs, and what it writes adds up to the frame Textual would have drawn whole."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from rich.color import ColorSystem
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tests.terminal_model import Screen, apply_sgr
from tests.uihelp import pinned_app
from tui.protocol.live import Quote
from tui.ui.grid import QuoteGrid
from tui.ui.painter import Pen, SpanUpdate

GREEN_ON_GREY = Style(color="#00aa00", bgcolor="#303030")
RED_ON_GREY = Style(color="#aa0000", bgcolor="#303030")
BOLD_ON_GREY = Style(color="#aa0000", bgcolor="#303030", bold=True)


def test_the_pen_writes_a_style_only_where_it_changes() -> None:
    pen = Pen(ColorSystem.EIGHT_BIT)
    out: list[str] = []
    pen.write(out, "a", GREEN_ON_GREY)
    pen.write(out, "b", GREEN_ON_GREY)  # the same style: no code at all
    pen.write(out, "c", RED_ON_GREY)  # only the foreground changed: only its code
    pen.write(out, "d", BOLD_ON_GREY)  # an attribute changed: reset and set, once
    pen.write(out, "e", None)  # the terminal's own style: a reset
    pen.finish(out)
    assert out[0] == "\x1b[0;38;5;34;48;5;236m"
    assert out[1:4] == ["a", "b", "\x1b[38;5;124m"]
    assert out[5] == "\x1b[0;1;38;5;124;48;5;236m"
    assert out[6:] == ["d", "\x1b[0m", "e"]  # finish adds nothing after a reset


def _replay(segments: list[tuple[str, Style | None]], system: ColorSystem) -> Screen:
    """What the pen's codes leave on a screen, for comparison with Textual's own."""
    pen, out = Pen(system), list[str]()
    for text, style in segments:
        pen.write(out, text, style)
    pen.finish(out)
    screen = Screen(40, 1)
    screen.feed("\x1b[1;1H" + "".join(out))
    return screen


@pytest.mark.parametrize("system", [ColorSystem.STANDARD, ColorSystem.EIGHT_BIT,
                                    ColorSystem.TRUECOLOR])  # fmt: skip
def test_the_pens_codes_leave_what_textuals_leave(system: ColorSystem) -> None:
    rng = random.Random(5)
    styles = [GREEN_ON_GREY, RED_ON_GREY, BOLD_ON_GREY, Style(italic=True), None,
              Style(color="#ffffff"), Style(bgcolor="#000080", dim=True)]  # fmt: skip
    segments = [(rng.choice("xyz") * rng.randint(1, 3), rng.choice(styles)) for _ in range(12)]
    ours = _replay(segments, system)
    theirs = Screen(40, 1)
    strip = Strip([Segment(text, style) for text, style in segments])
    theirs.feed("\x1b[1;1H" + "".join(
        text if style is None else Strip.render_style(style, text, system)
        for text, style in segments
    ))  # fmt: skip
    assert strip.cell_length <= 40
    assert ours.cells == theirs.cells


def test_a_span_is_written_from_its_own_cell_not_from_the_line_start() -> None:
    cells = [Segment(f"cell{n:02d} ", GREEN_ON_GREY if n % 2 else RED_ON_GREY) for n in range(8)]
    strip = Strip(cells)  # 8 cells of 7 columns
    update = SpanUpdate([{0: strip}], [(0, 28, 35)], [[strip.cell_length]])
    console: Any = type("C", (), {"_color_system": ColorSystem.EIGHT_BIT})()
    written = update.render_segments(console)
    assert written.startswith("\x1b[1;29H")  # column 28, where cell 4 begins
    assert "cell04" in written
    assert "cell03" not in written and "cell05" not in written


def _watch(app: Any, screen: Screen) -> tuple[Callable[[], int], Callable[..., Any]]:
    """Feed every update the dashboard's screen renders into ``screen``; returns a counter of
    the partial updates seen and the compositor's own ``render_update`` (which feeds nothing)."""
    compositor = app.screen._compositor
    original = compositor.render_update
    partial = 0
    screen.feed(original(full=True).render_segments(app.console))

    def render_update(*args: Any, **kwargs: Any) -> Any:
        nonlocal partial
        update = original(*args, **kwargs)
        if update is not None:
            partial += isinstance(update, SpanUpdate)
            screen.feed(update.render_segments(app.console))
        return update

    compositor.render_update = render_update
    return (lambda: partial), original


@pytest.mark.parametrize("system", [ColorSystem.EIGHT_BIT, ColorSystem.TRUECOLOR])
async def test_partial_updates_leave_the_frame_a_full_redraw_draws(system: ColorSystem) -> None:
    app = pinned_app()
    width, height = 120, 30
    async with app.run_test(size=(width, height)) as pilot:
        await pilot.pause(0.2)
        app.console._color_system = system
        streamed = Screen(width, height)
        partials, render_update = _watch(app, streamed)
        grid = app.query_one(QuoteGrid)
        store, now = app.store, app.now()
        rng = random.Random(11)
        codes = list(grid.codes)
        for step in range(60):  # quotes, flashes and the cursor, as a busy minute would bring
            code = rng.choice(codes)
            row = store.quotes[code]
            price = row.values["last_price"] * (1 + rng.uniform(-0.01, 0.01))
            volume = row.values.get("volume", 0) + step
            quote = Quote(code=code, last_price=round(price, 2), volume=volume)
            store.apply_quote(quote, None, now)
            grid.refresh_rows({code}, store, now)
            if step % 15 == 0:
                await pilot.press("down")
            await pilot.pause(0.01)
        await pilot.pause(0.3)
        assert partials() > 10
        whole = Screen(width, height)
        whole.feed(render_update(full=True).render_segments(app.console))
        top, bottom = grid.region.y, grid.region.bottom
        for y in range(top, bottom):  # the grid's rows, character and style, cell by cell
            assert streamed.cells[y][: grid.region.right] == whole.cells[y][: grid.region.right], (
                y, streamed.text(y), whole.text(y)
            )  # fmt: skip


async def test_a_new_price_repaints_its_cells_and_not_the_symbol() -> None:
    app = pinned_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause(0.2)
        grid = app.query_one(QuoteGrid)
        code = grid.codes[3]
        y = grid.region.y + 1 + 3
        written: list[str] = []
        compositor = app.screen._compositor
        original = compositor.render_update

        def render_update(*args: Any, **kwargs: Any) -> Any:
            update = original(*args, **kwargs)
            if isinstance(update, SpanUpdate):
                written.append(update.render_segments(app.console))
            return update

        compositor.render_update = render_update  # type: ignore[method-assign]
        store, now = app.store, app.now()
        price = store.quotes[code].values["last_price"] + 1.25
        store.apply_quote(Quote(code=code, last_price=price), None, now)
        grid.refresh_rows({code}, store, now)
        await pilot.pause(0.2)
        on_row = [w for w in written if f"\x1b[{y + 1};" in w]
        assert on_row, written
        text = "".join(on_row)
        assert f"{price:,.2f}" in text
        assert code.split(":")[-1] not in text  # the symbol's cell was not written again
        assert f"\x1b[{y + 1};1H" not in text  # nothing from the line's start


def test_sgr_model_reads_resets() -> None:
    pen = apply_sgr(apply_sgr(apply_sgr(Screen(1, 1).pen, "1;38;5;34"), "39"), "")
    assert not pen.attributes and pen.fg == "default"


def _cells(strip: Strip) -> list[tuple[str, Style | None]]:
    return [(char, segment.style) for segment in strip for char in segment.text]


@pytest.mark.parametrize("system", [ColorSystem.STANDARD, ColorSystem.EIGHT_BIT,
                                    ColorSystem.TRUECOLOR])  # fmt: skip
async def test_the_grids_own_lines_are_the_ones_textuals_styles_would_draw(
    system: ColorSystem,
) -> None:
    """The grid hands the compositor its cached rows past Textual's styles cache: header,
    rows, cursor, a flash, blank lines and totals, whole and cropped, are what that cache
    would have drawn, cell by cell."""
    app = pinned_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause(0.2)
        app.console._color_system = system
        app._colour_filters(app.current_theme)  # 16 colours: the themes' own filter
        grid = app.query_one(QuoteGrid)
        grid.restyle()
        store, now = app.store, app.now()
        code = grid.codes[2]
        price = store.quotes[code].values["last_price"] * 1.01
        store.apply_quote(Quote(code=code, last_price=round(price, 2)), None, now)
        grid.refresh_rows({code}, store, now)
        await pilot.press("down", "down")
        await pilot.pause(0.1)
        assert grid._plain_box()
        width, height = grid.size
        for crop in (Region(0, 0, width, height), Region(7, 1, width - 20, 4),
                     Region(0, height - 3, width, 3)):  # fmt: skip
            ours = grid.render_lines(crop)
            theirs = ScrollView.render_lines(grid, crop)
            assert len(ours) == len(theirs) == crop.height
            for y, (mine, textuals) in enumerate(zip(ours, theirs, strict=True)):
                assert _cells(mine) == _cells(textuals), (crop, y, mine.text)
        grid.styles.padding = (0, 1)  # a box the grid does not draw itself: Textual does
        assert not grid._plain_box()
