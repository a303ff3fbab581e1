"""The chart's lines and the chart widget's partial repaints; quote ages."""

from __future__ import annotations

import math

from textual.app import App, ComposeResult

from tests.uihelp import FROZEN_NOW, pinned_statuses
from tui.engine.store import SeriesBuffer
from tui.protocol.live import Bar
from tui.ui.panels import PAUSED, ChartView, StatusBar
from tui.ui.render import Palette, chart_line_text, quote_age_text, render_chart

PALETTE = Palette.from_variables({"mp-up": "#00ff00", "mp-down": "#ff0000"})


def wave(count: int, last_close: float | None = None) -> list[Bar]:
    """``count`` one-minute bars on a sine wave; the last close can be overridden."""
    bars = []
    for i in range(count):
        mid = 100 + 5 * math.sin(i / 7)
        bars.append(Bar(time=60.0 * i, open=mid, high=mid + 1, low=mid - 1, close=mid + 0.5))
    if last_close is not None:
        last = bars[-1]
        bars[-1] = Bar(last.time, last.open, last.high, last.low, close=last_close)
    return bars


def test_quote_ages_step_coarsely_and_never_look_younger() -> None:
    assert [quote_age_text(s) for s in (0, 4.9, 5, 9.9, 14.999, 59.9)] == [
        "<5s",
        "<5s",
        "5s",
        "5s",
        "10s",
        "55s",
    ]
    assert [quote_age_text(s) for s in (60, 119, 3599, 3600, 86399, 86400 * 3)] == [
        "1m",
        "1m",
        "59m",
        "1h",
        "23h",
        "3d",
    ]
    assert quote_age_text(None) == "—"
    assert quote_age_text(-3) == "<5s"  # a clock a little ahead of ours


def test_chart_lines_fit_and_mark_the_last_price() -> None:
    lines = render_chart(wave(80), 60, 20, PALETTE, title="X · 1m · candles")
    assert len(lines) == 20
    texts = [chart_line_text(line) for line in lines]
    assert all(len(text) <= 60 for text in texts)
    assert texts[0].startswith("X · 1m")
    assert sum("◀" in text for text in texts) == 1
    assert any("█" in text for text in texts)


def test_moving_the_last_close_changes_few_chart_lines() -> None:
    before = render_chart(wave(80), 60, 20, PALETTE, title="t")
    after = render_chart(wave(80, last_close=100.9), 60, 20, PALETTE, title="t")
    changed = [y for y, (old, new) in enumerate(zip(before, after, strict=True)) if old != new]
    assert 0 < len(changed) <= 6


class ChartApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ChartView()


async def test_chart_view_repaints_only_changed_lines() -> None:
    buffer = SeriesBuffer("SIM:X", "minute")
    buffer.bars.extend(wave(120))
    app = ChartApp()
    async with app.run_test(size=(70, 24)) as pilot:
        chart = app.query_one(ChartView)
        chart.show("SIM:X", buffer, "1m")
        await pilot.pause()
        height = chart.size.height
        first = chart.lines_repainted
        assert first >= height  # the first drawing is whole
        shown = [chart.render_line(y).text for y in range(height)]
        assert any("◀" in text for text in shown)
        assert all(len(text) == chart.size.width for text in shown)
        buffer.bars.replace_last(wave(120, last_close=100.9)[-1])
        chart.redraw()
        await pilot.pause()
        partial = chart.lines_repainted - first
        assert 0 < partial <= height // 3
        chart.mode = "bars"
        chart.redraw()
        await pilot.pause()
        assert chart.lines_repainted - first - partial > partial  # every candle changed glyphs
        await pilot.resize_terminal(50, 20)
        await pilot.pause()
        assert chart.size.height != height
        assert all(len(chart_line_text(line)) <= chart.size.width for line in chart.lines)


class StatusApp(App[None]):
    def compose(self) -> ComposeResult:
        yield StatusBar()


async def test_status_bar_fits_and_always_shows_paused() -> None:
    statuses = pinned_statuses()
    extra = ["budget 3/120 in the last 3 h", PAUSED, "DEMO data (simulator)"]
    for width in (40, 60, 100, 160):
        app = StatusApp()
        async with app.run_test(size=(width, 3)) as pilot:
            bar = app.query_one(StatusBar)
            bar.show(statuses, extra, PALETTE, FROZEN_NOW)
            await pilot.pause()
            shown = bar.render_line(0).text
            assert shown.startswith(" PAUSED "), (width, shown)
            if width >= 100:  # a detail level that fits: nothing cut off
                assert "…" not in shown and "DEMO" in shown, (width, shown)
            if width >= 160:
                assert "hb 4s" in shown and "in the last 3 h" in shown  # room for detail
