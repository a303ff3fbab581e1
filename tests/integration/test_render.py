"""The chart's lines and the chart widget's partial repaints; quote ages."""

from __future__ import annotations

import math
import re

import pytest
from textual.app import App, ComposeResult

from tests.uihelp import FROZEN_NOW, pinned_statuses
from tui.engine.store import SeriesBuffer
from tui.protocol.live import Bar
from tui.ui.panels import PAUSED, ChartView, StatusBar
from tui.ui.render import Palette, chart_line_text, render_chart, sparkline
from tui.ui.timetext import quote_age_text

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


def _futures(count: int) -> list[Bar]:
    """ES-like bars in 0.25 steps near 5,820."""
    bars = []
    for i in range(count):
        mid = 5820 + round(8 * math.sin(i / 5)) * 0.25
        bars.append(Bar(60.0 * i, mid, mid + 0.5, mid - 0.75, mid + 0.25, 100.0 + i))
    return bars


@pytest.mark.parametrize(("width", "height"), [(40, 8), (58, 12), (78, 20), (120, 40)])
def test_axis_labels_are_whole_prices_at_the_instruments_precision(width: int, height: int) -> None:
    """A future in 0.25 steps: ``◀5,820.2`` would read as a wrong price."""
    bars = _futures(120)
    lines = [
        chart_line_text(line) for line in render_chart(bars, width, height, PALETTE, title="ES1!")
    ]
    assert all(len(line) <= width for line in lines)
    marker = next(line for line in lines if "◀" in line)
    assert marker.split("◀")[1].strip() == f"{bars[-1].close:,.2f}"
    labels = re.findall(r"(?<![\d,.])\d[\d,]*\.\d+", "\n".join(lines[2:]))
    assert labels and all(len(label.split(".")[1]) == 2 for label in labels)  # never cut
    assert sum(1 for line in lines if re.search(r"\d,\d{3}\.\d\d\s*$", line)) >= 2  # a scale


def test_readout_time_axis_and_trades_title() -> None:
    lines = [chart_line_text(x) for x in render_chart(_futures(60), 78, 20, PALETTE, title="t")]
    readout = lines[1]
    last = _futures(60)[-1]
    assert f"O {last.open:,.2f}" in readout and f"C {last.close:,.2f}" in readout
    assert "V 159" in readout
    narrow = chart_line_text(render_chart(_futures(60), 30, 12, PALETTE, title="t")[1])
    assert narrow.endswith(f"C {last.close:,.2f} V 159") or narrow.endswith(
        f"C {last.close:,.2f}"
    )  # whole figures only
    assert re.search(r"╵\d\d:\d\d", lines[-1])  # a time axis
    ticks = [Bar(float(t), close=100 + (t % 3) * 0.01, volume=5.0) for t in range(50)]
    drawn = [
        chart_line_text(x) for x in render_chart(ticks, 60, 14, PALETTE, title="t", bar_type="1T")
    ]
    assert "trade 100.01 size 5" in drawn[1]  # the last trade: t=49, 100 + 1 x 0.01
    assert any("•" in line for line in drawn) and not any("█" in line for line in drawn[2:-4])


def test_sparkline_noise_stays_flat_and_width_covers_the_window() -> None:
    assert set(sparkline([100.0, 100.01, 99.99, 100.0], 4)) <= {"▄", "▅", "▃"}
    assert sparkline([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3) == "▁▅█"  # resampled, not the tail
    assert sparkline([5.0], 4) == "   ▅"  # one minute so far: one point, at the right


def test_an_intraday_time_axis_marks_the_day_it_crosses_into() -> None:
    """Friday's last half hour, then Monday's first: the axis marks Monday at its first bar,
    so Friday's bars never read as today's; a chart within one day has no mark."""
    import datetime as dt

    friday = dt.datetime(2026, 12, 4, 15, 30).timestamp()
    monday = dt.datetime(2026, 12, 7, 9, 30).timestamp()
    times = [friday + 60 * i for i in range(30)] + [monday + 60 * i for i in range(30)]
    bars = [Bar(time=t, open=100.0, high=101.0, low=99.0, close=100.5, volume=10.0) for t in times]
    palette = Palette.from_variables({})
    lines = render_chart(bars, 80, 16, palette, title="1m", bar_type="minute")
    axis = chart_line_text(lines[-1])
    assert "┊Mon" in axis, axis
    one_day = render_chart(bars[30:], 80, 16, palette, title="1m", bar_type="minute")
    assert "┊" not in chart_line_text(one_day[-1])
    last_bar_new_day = render_chart(bars[:31], 80, 16, palette, title="1m", bar_type="minute")
    assert "Mon┊" in chart_line_text(last_bar_new_day[-1])  # no room after it: ends at it


def test_the_chart_readout_keeps_the_instruments_precision() -> None:
    """A 1 s FX series whose closes happen to end in zeros reads at the grid's five
    decimals, and a stock's 1 s closes keep two decimals (never ``239.1``)."""
    fx = [Bar(time=float(i), open=1.054, high=1.0543, low=1.054, close=1.0542) for i in range(30)]
    readout = chart_line_text(
        render_chart(fx, 80, 12, PALETTE, title="FX", bar_type="second", decimals=5)[1]
    )
    assert "C 1.05420" in readout and "H 1.05430" in readout, readout
    stock = [Bar(time=float(i), open=239.1, high=239.2, low=239.0, close=239.1) for i in range(9)]
    readout = chart_line_text(render_chart(stock, 80, 12, PALETTE, title="S", bar_type="second")[1])
    assert "C 239.10" in readout and "L 239.00" in readout, readout
